"""A partner outage is ridden out without an operator (issue 26): transient failures retried on the schedule (not
parked on their fifth receive), a circuit per destination that holds records back without calling the partner, the
DLQ only when the retry window is spent, with the whole history. The schedule's parameters are scaled down (the same
code); no timed assertion: counts and states only."""

from __future__ import annotations

import json
import threading
import time

import boto3
import pytest

from sandbox.stack import STAMPED_SYSTEM_ID

from .conftest import drain_until, notification

Q, DLQ = "CustomerNinetyNineMindsQueue", "CustomerNinetyNineMindsDLQ"
# RetryStepSeconds 0.25: waits of 0.5, 1.5, 3, ... s, at most 2 s; hops of at most 1 s (SQS's 900 s, compressed)
FAST = {
    "RetryStepSeconds": 0.25,
    "RetryMaxDelaySeconds": 2,
    "RetryWindowSeconds": 600,
    "CircuitFailureThreshold": 1000,  # the schedule alone, unless a test asks for the circuit
    "CircuitProbeSeconds": 1,
}
IN_FLIGHT = 2 * 10  # the 99minds queues' MaximumConcurrency x BatchSize: records admitted before the circuit opened


@pytest.fixture
def outage_stack(make_stack, monkeypatch):
    monkeypatch.setenv("RETRY_MAX_HOP_SECONDS", "1")

    def make(**parameters):
        return make_stack(parameters={**FAST, **parameters})

    return make


def customers(stack, ids: list[str]) -> None:
    for id_ in ids:
        stack.ipaas.put(
            "customers",
            {"id": id_, "customer_number": f"C-{id_}", "first_name": "Ada", "last_name": id_, "email_address": f"{id_}@ex.com"},
        )


def spy_bodies(stack, function: str = "CustomerTransferFunction") -> list[dict]:
    bodies: list[dict] = []
    handler = stack.handlers[function]

    def spy(event, context):
        bodies.extend(json.loads(r["body"]) for r in event["Records"])
        return handler(event, context)

    stack.handlers[function] = spy
    return bodies


def test_a_failure_beyond_five_receives_is_retried_on_the_schedule_not_parked(outage_stack):
    stack = outage_stack()
    customers(stack, ["c1"])
    # more failing tries than MaxReceiveCount (5) allowed before: every 99minds call fails for a while
    stack.ninetynine.faults.fail(24, status=503, path="/api/v1/")  # 6 tries of up to 4 requests (urllib3 retries)
    stack.send(Q, notification("c1"))
    bodies = spy_bodies(stack)

    stats = stack.drain(max_seconds=120, functions=["CustomerTransferFunction"])

    assert not stats.errors
    assert [o["record_id"] for o in stack.outcomes("created")] == ["c1"]
    assert stack.messages(DLQ) == [] and stack.outcomes("dead-lettered") == []
    retrying = stack.outcomes("retrying")
    assert len(retrying) >= 5  # more tries than the five receives that parked it before
    assert all(o["details"]["next_try"] and o["details"]["attempts"] >= 1 for o in retrying)
    attempts = [b["retry"]["attempts"] for b in bodies if b.get("retry")]
    assert attempts == sorted(attempts) and max(attempts) >= 5  # the history travelled with the record
    assert len([c for c in stack.ninetynine.customers.values() if c["email"] == "c1@ex.com"]) == 1


def test_the_window_spent_parks_it_with_the_whole_history(outage_stack):
    stack = outage_stack(RetryWindowSeconds=4)
    customers(stack, ["c2"])
    stack.ninetynine.faults.fail(10_000, status=503, path="/api/v1/")
    stack.send(Q, notification("c2"))

    stack.drain(max_seconds=120, functions=["CustomerTransferFunction"])

    [parked] = stack.messages(DLQ)
    attrs = {k: v["StringValue"] for k, v in parked["MessageAttributes"].items()}
    tries = len([o for o in stack.outcomes("retrying") if o["record_id"] == "c2"]) + 1
    assert int(attrs["ipaas.attempts"]) == tries >= 3
    assert attrs["ipaas.error"].startswith("transient:")
    assert f"{tries} failed tries from " in attrs["ipaas.reason"] and "(retry window 4 s)" in attrs["ipaas.reason"]
    assert attrs["ipaas.first_reason"] and attrs["ipaas.first_failed_at"]
    assert len(parked["Body"]) < 2000  # the history in the body is bounded
    stack.ninetynine.faults.clear()


def test_a_permanent_failure_still_parks_at_once(outage_stack):
    stack = outage_stack()
    stack.send(Q, notification("missing"))  # not in iPaaS.com: 404, permanent

    stack.drain(max_seconds=60, functions=["CustomerTransferFunction"])

    assert len(stack.messages(DLQ)) == 1 and stack.outcomes("retrying") == []


def test_an_open_circuit_holds_records_back_and_the_first_success_drains_them(outage_stack):
    stack = outage_stack(CircuitFailureThreshold=2)
    ids = [f"o{i}" for i in range(40)]
    customers(stack, ids)
    stack.ninetynine.faults.fail(100_000, status=503, path="/api/v1/")
    for id_ in ids:
        stack.send(Q, notification(id_))

    def held_back() -> list[dict]:
        return [o for o in stack.outcomes("retrying") if o["details"].get("held_back")]

    # the outage: bounded, not drained; 15 s, and on until records were held back (a loaded machine gets there later)
    stack.drain(max_seconds=15, functions=["CustomerTransferFunction"])
    drain_until(stack, lambda: len(held_back()) >= 10, max_seconds=90, functions=["CustomerTransferFunction"])
    down_calls = len(stack.ninetynine.requests)
    tried = [o for o in stack.outcomes("retrying") if not o["details"].get("held_back")]
    held = held_back()
    probes = [o for o in tried if o["details"].get("probe")]
    assert held and all("waiting for 99minds to recover, next try at " in o["reason"] for o in held)
    # every failed try after the circuit opened was a probe; before it, at most the threshold and those in flight
    assert len(tried) - len(probes) <= 2 + IN_FLIGHT
    assert down_calls < 4 * (2 + IN_FLIGHT + len(probes)) + 1

    stack.ninetynine.faults.clear()  # 99minds is back
    stats = stack.drain(max_seconds=120, functions=["CustomerTransferFunction"])

    assert not stats.errors and stack.messages(DLQ) == []
    assert sorted(o["record_id"] for o in stack.outcomes("created")) == sorted(ids)
    emails = [c["email"] for c in stack.ninetynine.customers.values()]
    assert len(emails) == len(set(emails)) == len(ids)


def test_a_down_destination_never_holds_back_another(outage_stack):
    stack = outage_stack(CircuitFailureThreshold=1)
    customers(stack, ["d1", "d2"])
    stack.ninetynine.faults.fail(100_000, status=503, path="/api/v1/")
    stack.send(Q, notification("d1"))
    stack.send("CustomerStampedQueue", notification("d2", destination=STAMPED_SYSTEM_ID))

    stack.drain(max_seconds=10, functions=["CustomerTransferFunction"])

    assert [(o["record_id"], o["destination"]) for o in stack.outcomes("created")] == [("d2", STAMPED_SYSTEM_ID)]
    stack.ninetynine.faults.clear()


def test_a_retry_reads_the_record_again_latest_state_wins(outage_stack):
    stack = outage_stack()
    customers(stack, ["s1"])
    stack.ninetynine.faults.fail(8, status=503, path="/api/v1/")
    old = {"id": "s1", "customer_number": "C-s1", "first_name": "Old", "last_name": "s1", "email_address": "s1@ex.com"}
    stack.send(Q, notification("s1", record=old))  # an inline snapshot, older than iPaaS.com's record
    stack.ipaas.put("customers", {**old, "first_name": "New"})

    stack.drain(max_seconds=60, functions=["CustomerTransferFunction"])

    [created] = [c for c in stack.ninetynine.customers.values() if c["email"] == "s1@ex.com"]
    assert created["first_name"] == "New"


def test_a_delivery_that_meets_its_transfer_in_progress_waits_for_it_beyond_the_window(outage_stack, monkeypatch):
    """A duplicate delivery meets the same transfer in progress in another invocation (Powertools'
    IdempotencyAlreadyInProgressError, from the real lock in DynamoDB): it waits for that invocation, neither a failed
    try nor a wait against its retry window. Before, the duplicate was parked once the window was spent, although the
    other invocation transferred the record."""
    from ipaas_sync.runtime import idempotency, linked

    stack = outage_stack(RetryWindowSeconds=3)
    customers(stack, ["p1"])
    stack.ninetynine.faults.fail(
        1, status=503, path="/api/v1/"
    )  # one failed try (a create: no in-call retry): its history and window begin
    real = idempotency.run_once
    holders: list[threading.Thread] = []
    hold = threading.Event()
    calls = []

    def concurrent_duplicate(identity, action):
        calls.append(identity)
        if len(calls) == 2:  # the second try: another invocation takes the lock first and holds it past the window
            holder = threading.Thread(target=real, args=(identity, lambda: (hold.wait(10), action())[1]), daemon=True)
            holders.append(holder)
            holder.start()
            for _ in range(100):  # until its lock is in the table
                if boto3.client("dynamodb").scan(TableName=stack.deployment.physical["IdempotencyTable"]["Ref"])["Items"]:
                    break
                time.sleep(0.05)
            threading.Timer(5, hold.set).start()  # it writes 5 s later, beyond the 3 s window
        return real(identity, action)

    monkeypatch.setattr(linked, "run_once", concurrent_duplicate)
    bodies = spy_bodies(stack)
    stack.send(Q, notification("p1"))

    stats = stack.drain(max_seconds=60, functions=["CustomerTransferFunction"])
    holders[0].join(10)

    assert not stats.errors and stack.messages(DLQ) == [] and stack.outcomes("dead-lettered") == []
    waited = [o for o in stack.outcomes("deferred") if "in progress in another invocation" in (o.get("reason") or "")]
    assert waited and all(o["record_id"] == "p1" for o in waited)
    [done] = stack.outcomes("duplicate")  # the other invocation's write, answered from the store
    assert done["record_id"] == "p1"
    assert len([c for c in stack.ninetynine.customers.values() if c["email"] == "p1@ex.com"]) == 1
    history = [b["retry"] for b in bodies if b.get("retry")]
    assert {h["attempts"] for h in history} == {1}  # the waits for the lock were not counted as tries
    assert max(b["deferred_until"] for b in bodies if b.get("deferred_until")) > history[0]["first_at"] + 3
