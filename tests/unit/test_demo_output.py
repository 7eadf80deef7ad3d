"""The demo's outcome list: each line names the destination the record went to."""

from __future__ import annotations

from sandbox.pipeline import outcome_line


def test_each_outcome_line_names_its_destination():
    header = outcome_line({"status": "status", "entity": "record", "destination": "destination"}, "result")
    assert header.split() == ["status", "record", "destination", "result"]
    created = outcome_line(
        {"status": "created", "entity": "customer", "record_id": "507", "destination": "2001", "external_id": "143492"}
    )
    assert created.split() == ["created", "customer", "507", "Stamped.io", "(2001)", "143492"]
    loyalty = outcome_line(
        {"status": "updated", "entity": "loyalty", "record_id": "customer_35b4", "destination": "1001", "external_id": "501"}
    )
    assert "iPaaS.com (1001)" in loyalty
    malformed = outcome_line({"status": "dead-lettered", "entity": "customer", "destination": None, "reason": "malformed body"})
    assert malformed.split()[:4] == ["dead-lettered", "customer", "?", "?"]
    # the columns line up with the header
    assert created.index("Stamped.io") == header.index("destination")
