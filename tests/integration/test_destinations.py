"""One customer, three destination subscriptions: each its own queue, DLQ and outcome. One destination
failing never blocks or repeats another, and it recovers by replaying its DLQ."""

from __future__ import annotations

import json

from sandbox.stack import CUSTOMER_QUEUES, MAKINI_SYSTEM_ID, NINETYNINE_SYSTEM_ID, STAMPED_SYSTEM_ID

from .conftest import add_customer, dlq_reasons, notification, replay_dlq


def send_everywhere(stack, id_):
    for destination, (_, queue, _) in CUSTOMER_QUEUES.items():
        stack.send(queue, notification(id_, destination=destination, guid=f"guid-{id_}"))


def test_a_customer_reaches_all_three_destinations_independently(stack):
    add_customer(stack, "1")
    send_everywhere(stack, "1")
    stack.drain()
    created = {o["destination"]: o for o in stack.outcomes("created")}
    assert set(created) == {NINETYNINE_SYSTEM_ID, STAMPED_SYSTEM_ID, MAKINI_SYSTEM_ID}
    assert {o["platform"] for o in created.values()} == {"99minds", "stamped", "makini"}
    for destination, outcome in created.items():
        assert stack.ipaas.link(destination, "customer", "1") == outcome["external_id"]
    assert len(stack.ninetynine.customers) == len(stack.stamped.customers) == len(stack.makini.customers) == 1
    for _, _, dlq in CUSTOMER_QUEUES.values():
        assert stack.messages(dlq) == []


def test_one_destination_down_while_the_others_succeed_then_recovers_by_replay(make_stack):
    stack = make_stack(parameters={"RetryWindowSeconds": 4, "CircuitFailureThreshold": 1000})  # its window spent here
    ids = ["11", "12", "13"]
    for id_ in ids:
        add_customer(stack, id_)
        send_everywhere(stack, id_)
    stack.makini.faults.fail(100, status=503, path="/api/wms/customers", method="POST")  # Makini writes down
    stack.drain(max_seconds=60)

    assert len(stack.ninetynine.customers) == 3 and len(stack.stamped.customers) == 3
    assert stack.makini.customers == {}
    dead = dlq_reasons(stack, "CustomerMakiniDLQ")
    assert sorted(json.loads(m["body"])["id"] for m in dead) == ids
    assert all(
        m["ipaas.error"] == "transient:TransientError"
        and int(m["ipaas.attempts"]) >= 2  # retried on the schedule until its window was spent
        and "HTTP 503" in m["ipaas.reason"]
        and m["ipaas.destination"] == MAKINI_SYSTEM_ID
        for m in dead
    )
    assert stack.messages("CustomerNinetyNineMindsDLQ") == [] and stack.messages("CustomerStampedDLQ") == []

    stack.makini.faults.clear()  # Makini is back
    posts_before = {"99minds": len(stack.ninetynine.calls("POST")), "stamped": len(stack.stamped.calls("POST"))}
    assert replay_dlq(stack, "CustomerMakiniDLQ", "CustomerMakiniQueue") == 3
    stack.drain()

    assert sorted(r["code"] for r in stack.makini.customers.values()) == ["C-11", "C-12", "C-13"]
    assert stack.messages("CustomerMakiniDLQ") == []
    for id_ in ids:
        assert stack.ipaas.link(MAKINI_SYSTEM_ID, "customer", id_) is not None
    # the replay touched Makini only: nothing was sent again to the destinations that had succeeded
    assert {"99minds": len(stack.ninetynine.calls("POST")), "stamped": len(stack.stamped.calls("POST"))} == posts_before
    assert len(stack.outcomes("created", MAKINI_SYSTEM_ID)) == 3

    # replaying the same notifications again (new message ids) changes nothing anywhere
    send_everywhere(stack, "11")
    stack.drain()
    assert len(stack.makini.customers) == 3 and len(stack.ninetynine.customers) == 3
    assert len(stack.stamped.customers) == 3
    assert len(stack.outcomes("duplicate")) == 3


def test_sample_events_for_the_new_destinations_invoke_the_handler(stack):
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "events"
    for name, sandbox in (("customer_created_stamped.json", stack.stamped), ("customer_created_makini.json", stack.makini)):
        event = json.loads((root / name).read_text())
        assert stack.invoke("CustomerTransferFunction", event) == {"batchItemFailures": []}, name
        assert len(sandbox.customers) == 1, name
    assert {o["destination"] for o in stack.outcomes("created")} == {STAMPED_SYSTEM_ID, MAKINI_SYSTEM_ID}
