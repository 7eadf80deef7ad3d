"""Integration fixtures: one moto server per test process (reset per test), fresh sandboxes per test, at the test
limits (sandbox/server.py TEST_LIMITS) unless a test gives its own (make_stack(limits=...))."""

from __future__ import annotations

import json

import pytest

from sandbox.destinations import TEST_LIMITS
from sandbox.local_aws import MotoServer
from sandbox.stack import NINETYNINE_SYSTEM_ID, LocalStack, PollStats


@pytest.fixture(scope="session")
def moto_server():
    server = MotoServer().start()
    yield server
    server.stop()


@pytest.fixture
def make_stack(moto_server):
    stacks = []

    def make(**kw) -> LocalStack:
        stack = LocalStack(moto=moto_server, **{"limits": TEST_LIMITS, **kw}).start()
        stacks.append(stack)
        return stack

    yield make
    for s in stacks:
        s.stop()


@pytest.fixture
def stack(make_stack) -> LocalStack:
    return make_stack()


def notification(
    id_: str, scope: str = "customer/created", destination: str = NINETYNINE_SYSTEM_ID, guid: str | None = None, **extra
) -> dict:
    return {"scope": scope, "id": id_, "destination": destination, "tracking_guid": guid or f"guid-{id_}", **extra}


def drain_until(stack: LocalStack, done, *, max_seconds: float = 120, step: float = 3, functions=None) -> PollStats:
    """Drain in rounds of `step` seconds until `done()` holds (a state the drain reaches, not a time it takes: a
    machine under load gets there later), bounded by max_seconds. Returns every round's stats summed."""
    total, rounds = PollStats(), max(1, int(max_seconds / step))
    for _ in range(rounds):
        total.add(stack.drain(max_seconds=step, functions=functions))
        if done():
            break
    return total


def dlq_reasons(stack: LocalStack, dlq: str) -> list[dict[str, str]]:
    return [
        {k: v["StringValue"] for k, v in m.get("MessageAttributes", {}).items()} | {"body": m["Body"]}
        for m in stack.messages(dlq)
    ]


def json_lines(buffer) -> list[dict]:
    out = []
    for line in buffer.getvalue().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def replay_dlq(stack: LocalStack, dlq: str, queue: str | None = None) -> int:
    """Replay a DLQ as an operator would, with the product's Replayer (`ipaas-sync dlq replay`); returns how
    many messages moved. `queue` (the expected source) is checked against where they went."""
    from ipaas_sync.tools.replay import Replayer

    report = Replayer().replay(stack.queue_url(dlq))
    assert report.errors == [], report.errors
    if queue is not None and report.moved:
        assert set(report.by_target) == {stack.deployment.physical[queue]["QueueName"]}, report.by_target
    return report.moved


def add_customer(stack: LocalStack, id_: str, **kw) -> dict:
    rec = {
        "id": id_,
        "customer_number": f"C-{id_}",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email_address": f"ada{id_}@example.com",
        **kw,
    }
    stack.ipaas.put("customers", rec)
    return rec
