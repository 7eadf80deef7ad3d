"""The per-destination metric lines (EMF): a dimension takes only values the product knows, and every line is masked
and bounded like a log line."""

from __future__ import annotations

import json

from ipaas_sync.core.observability import count_for_destination, destination_metrics, register_secret

SECRET = "sk-metric-line-secret-0001"


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if '"Destination"' in line]


def test_a_destination_that_is_not_configured_is_counted_as_unknown_never_echoed(capsys):
    register_secret(SECRET)
    with destination_metrics(known=lambda: ["1001"]):
        count_for_destination("customer", "1001", "TransfersSent")
        count_for_destination("customer", SECRET, "TransfersDeadLettered")
        count_for_destination("customer", "x" * 3_000_000, "TransfersDeadLettered")
    out = capsys.readouterr().out
    assert SECRET not in out and len(out) < 2000  # one metric line was 3,060,283 characters
    got = {
        (m["Destination"], name): m[name] for m in lines(out) for name in ("TransfersSent", "TransfersDeadLettered") if name in m
    }
    assert got == {("1001", "TransfersSent"): [1.0], ("unknown", "TransfersDeadLettered"): [2.0]}


def test_outside_an_invocation_no_destination_is_known(capsys):
    count_for_destination("customer", "1001", "TransfersSent")
    assert [m["Destination"] for m in lines(capsys.readouterr().out)] == ["unknown"]
