"""A record our own shared rate limit has no slot for soon is deferred (sent back to its queue until its slot),
never failed: it ends transferred, not in a DLQ, with the history attributes it carried."""

from __future__ import annotations

import bisect
import json

from sandbox.destinations import TEST_LIMITS

from .conftest import notification

Q, DLQ = "CustomerNinetyNineMindsQueue", "CustomerNinetyNineMindsDLQ"
LIMIT, SECONDS = 4, 8  # one slot per ~2 s: every record after the first waits more than 1 s, so it is deferred
# the sandbox counts over a window 5% shorter: the limiter's 2% headroom is sized for network jitter, not for a test
# machine busy with other tests, where a request can leave a tenth of a second late
SANDBOX_SECONDS = SECONDS * 0.95
# what a message replayed from its DLQ carries (clients/queues.failure_attributes)
HISTORY = {
    "ipaas.error": "transient:TransientError",
    "ipaas.reason": "99minds answered HTTP 503",
    "ipaas.entity": "customer",
    "ipaas.destination": "1001",
    "ipaas.tracking_guid": "guid-c0",
    "ipaas.attempts": "5",
    "ipaas.source_queue": "arn:aws:sqs:us-east-1:123456789012:q",
    "ipaas.failed_at": "2026-01-01T00:00:00+00:00",
    "ipaas.first_reason": "99minds answered HTTP 503",
    "ipaas.first_failed_at": "2026-01-01T00:00:00+00:00",
}


def slow_stack(make_stack, ids: list[str]):
    """The local stack with 99minds limited to LIMIT per SECONDS, and a customer in iPaaS.com for each id."""
    stack = make_stack(
        limits=TEST_LIMITS.replace(ninetynine=(LIMIT, SANDBOX_SECONDS)),
        subscription_overrides={
            "NinetyNineMindsSubscriptionSecret": {"API Throttle Limit": LIMIT, "API Throttle Seconds": SECONDS}
        },
    )
    for id_ in ids:
        stack.ipaas.put(
            "customers",
            {
                "id": id_,
                "customer_number": f"C-{id_}",
                "first_name": "Ada",
                "last_name": id_,
                "email_address": f"{id_}@example.com",
            },
        )
    return stack


def test_a_deferred_record_ends_transferred_with_its_history_and_never_in_a_dlq(make_stack):
    ids = [f"c{i}" for i in range(4)]
    stack = slow_stack(make_stack, ids)
    stack.send(Q, notification("c0"), attributes=HISTORY)  # a message replayed from its DLQ: 10 attributes
    for id_ in ids[1:]:
        stack.send(Q, notification(id_))

    deliveries: list[tuple[str, dict, int]] = []  # (record id, attributes, deferrals) per delivery
    handler = stack.handlers["CustomerTransferFunction"]

    def spy(event, context):
        for r in event["Records"]:
            body = json.loads(r["body"])
            deliveries.append(
                (body["id"], {k: v["stringValue"] for k, v in r["messageAttributes"].items()}, body.get("deferrals", 0))
            )
        return handler(event, context)

    stack.handlers["CustomerTransferFunction"] = spy
    stats = stack.drain(max_seconds=60, functions=["CustomerTransferFunction"])

    assert not stats.errors
    assert sorted(o["record_id"] for o in stack.outcomes("created")) == ids
    deferred = stack.outcomes("deferred")
    assert len(deferred) >= 2 and all(o["details"]["delay_seconds"] >= 0 for o in deferred)
    assert stack.outcomes("failed") == [] and stack.outcomes("dead-lettered") == []
    assert stack.messages(DLQ) == []
    # the deferred copies carried the record's history; no delivery counted as a failed attempt
    c0 = [attrs for id_, attrs, _ in deliveries if id_ == "c0"]
    assert all(attrs == HISTORY for attrs in c0)
    assert max(n for _, _, n in deliveries) >= 1
    # our own traffic never drew a 429, and never more than the limit in any window
    calls = sorted(r.at for r in stack.ninetynine.requests)
    assert stack.ninetynine.calls(status=429) == []
    assert max(bisect.bisect_left(calls, t + SANDBOX_SECONDS) - i for i, t in enumerate(calls)) <= LIMIT


def test_a_batch_is_booked_before_any_record_works_and_the_rest_waits_in_sqs(make_stack):
    """Ten records in one batch, one slot per 2 s: the batch's slots are booked in one write before any record reads
    iPaaS.com; the records without a slot soon go back to the queue at once (SendMessageBatch) without having
    fetched anything, and each is fetched once, when its turn comes."""
    ids = [f"b{i}" for i in range(10)]
    stack = slow_stack(make_stack, ids)
    for id_ in ids:
        stack.send(Q, notification(id_))
    handler = stack.handlers["CustomerTransferFunction"]
    first: dict[str, int] = {}

    def spy(event, context):
        # the first invocation to start, not the first to return: a deferred copy delivered to the second
        # invocation while the first still sleeps for its admitted record's slot can be done sooner
        mine = not first
        if mine:
            first["records"] = len(event["Records"])
        reply = handler(event, context)
        if mine:
            first["fetches"] = sum(
                1 for r in stack.ipaas.requests if r.path.startswith("/customers/v2/Customer/") and r.method == "GET"
            )
        return reply

    stack.handlers["CustomerTransferFunction"] = spy
    stats = stack.drain(max_seconds=90, functions=["CustomerTransferFunction"])

    assert not stats.errors
    assert first["records"] == 10 and first["fetches"] <= 2  # only the admitted records read iPaaS.com
    assert sorted(o["record_id"] for o in stack.outcomes("created")) == ids
    assert len(stack.outcomes("deferred")) >= 8 and stack.messages(DLQ) == []
    fetches = [r for r in stack.ipaas.requests if r.path.startswith("/customers/v2/Customer/") and r.method == "GET"]
    # each record fetched once: a deferral before any work costs no iPaaS.com call, and an admitted record that takes
    # longer than its slot's tolerance (0.08 s here) to reach its first call (a cold container's first record) waits
    # for the lane's next slot instead of going back to its queue after its reads
    assert len(fetches) == len(ids)
    calls = sorted(r.at for r in stack.ninetynine.requests)
    assert stack.ninetynine.calls(status=429) == []
    assert max(bisect.bisect_left(calls, t + SANDBOX_SECONDS) - i for i, t in enumerate(calls)) <= LIMIT
