"""clients.queues.send_all: SendMessageBatch in chunks, failed entries retried a bounded number of times."""

from __future__ import annotations

import pytest

from ipaas_sync.core.errors import classify
from ipaas_sync.platform.queues import BATCH_BYTES, QueueSendError, send_all

URL = "https://sqs.us-east-1.amazonaws.com/123456789012/stack-customer-99minds"


class FakeSqs:
    """Answers SendMessageBatch; `fail[i]` lists (entry body, code, sender_fault) to fail on call i."""

    def __init__(self, fail: dict[int, list[tuple[str, str, bool]]] | None = None):
        self.calls: list[list[dict]] = []
        self.fail = fail or {}
        self.queue: list[str] = []

    def send_message_batch(self, QueueUrl, Entries):
        assert QueueUrl == URL and 1 <= len(Entries) <= 10
        assert len({e["Id"] for e in Entries}) == len(Entries)
        assert sum(len(e["MessageBody"].encode()) for e in Entries) <= BATCH_BYTES
        failing = {body: (code, fault) for body, code, fault in self.fail.get(len(self.calls), [])}
        self.calls.append(Entries)
        ok, failed = [], []
        for e in Entries:
            if e["MessageBody"] in failing:
                code, fault = failing[e["MessageBody"]]
                failed.append({"Id": e["Id"], "Code": code, "SenderFault": fault, "Message": "no"})
            else:
                ok.append({"Id": e["Id"], "MessageId": f"m-{len(self.queue)}"})
                self.queue.append(e["MessageBody"])
        return {"Successful": ok, **({"Failed": failed} if failed else {})}


def test_chunks_of_ten_in_order():
    sqs = FakeSqs()
    bodies = [f'{{"n": {i}}}' for i in range(23)]
    assert send_all(sqs, URL, bodies) == 23
    assert [len(c) for c in sqs.calls] == [10, 10, 3]
    assert sqs.queue == bodies


def test_chunks_also_bounded_by_bytes():
    sqs = FakeSqs()
    bodies = ["x" * (100 * 1024)] * 3
    assert send_all(sqs, URL, bodies) == 3
    assert [len(c) for c in sqs.calls] == [2, 1]


def test_only_the_failed_entries_are_sent_again():
    sqs = FakeSqs(fail={0: [("b1", "ServiceUnavailable", False), ("b3", "InternalError", False)]})
    pauses = []
    assert send_all(sqs, URL, ["b0", "b1", "b2", "b3"], sleep=pauses.append) == 4
    assert [[e["MessageBody"] for e in c] for c in sqs.calls] == [["b0", "b1", "b2", "b3"], ["b1", "b3"]]
    assert sorted(sqs.queue) == ["b0", "b1", "b2", "b3"] and len(pauses) == 1


def test_still_failing_after_the_bounded_attempts_raises_naming_queue_and_code_never_the_body():
    always = [("secret-body", "ServiceUnavailable", False)]
    sqs = FakeSqs(fail={0: always, 1: always, 2: always, 3: always})
    with pytest.raises(QueueSendError) as err:
        send_all(sqs, URL, ["ok", "secret-body"], attempts=3, sleep=lambda s: None)
    assert len(sqs.calls) == 3 and sqs.queue == ["ok"]
    assert "1 of 2 messages not sent to queue stack-customer-99minds after 3 attempt(s): ServiceUnavailable" == str(err.value)
    assert "secret-body" not in str(err.value)
    assert classify(err.value) == "transient"


def test_a_sender_fault_is_not_retried():
    sqs = FakeSqs(fail={0: [("bad", "InvalidMessageContents", True)]})
    with pytest.raises(QueueSendError, match="InvalidMessageContents"):
        send_all(sqs, URL, ["bad"], sleep=lambda s: None)
    assert len(sqs.calls) == 1


def test_a_message_larger_than_sqs_takes_is_refused_before_any_call():
    sqs = FakeSqs()
    with pytest.raises(QueueSendError, match="message 1 is"):
        send_all(sqs, URL, ["ok", "x" * (BATCH_BYTES + 1)])
    assert sqs.calls == []


def test_a_record_deferred_to_a_rate_limit_slot_comes_back_in_the_second_before_it_others_at_the_nearest_second():
    """SQS delays are whole seconds. A record deferred to its rate-limit slot (`ahead`) comes back before the slot and
    waits there for it: back up to half a second after it (the nearest second), the lane ran dry meanwhile. Every
    other wait (a retry's hop, an open circuit's wait, the gift card apply window) keeps the nearest second."""
    from ipaas_sync.platform.queues import defer_messages

    sqs = FakeSqs()
    now = 1000.0
    bodies = ['{"id": "a"}', '{"id": "b"}', '{"id": "c"}', '{"id": "d"}']
    untils = [now + 2.7, now + 2.7, now + 0.6, now + 0.6]
    delays = defer_messages(
        sqs, URL, [(b, None, u) for b, u in zip(bodies, untils, strict=True)], now=now, ahead=[True, False, True, False]
    )
    assert delays == [2, 3, 0, 1]
    assert [e["DelaySeconds"] for e in sqs.calls[0]] == [2, 3, 0, 1]
    # the retry schedule's hop (compressed locally) caps the other waits, never a rate-limit slot: only SQS's 900 s
    capped = defer_messages(
        sqs, URL, [(bodies[0], None, now + 40.2), (bodies[1], None, now + 40.2)], now=now, ahead=[True, False], max_delay=3
    )
    assert capped == [40, 3]
