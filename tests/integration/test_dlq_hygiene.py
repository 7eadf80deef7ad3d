"""What reaches a DLQ attribute or a log line: no secret (even in a cold container, even from the body), only
characters SQS accepts, every value bounded, body plus attributes within the SQS message size, and a failed DLQ
send said out loud. The real CustomerTransferFunction against moto and the sandboxes."""

from __future__ import annotations

import json

import boto3
import pytest

from ipaas_sync.core import observability, settings
from ipaas_sync.platform.queues import SQS_MAX_MESSAGE_BYTES, message_bytes
from ipaas_sync.runtime import processing

from .conftest import notification

pytestmark = pytest.mark.integration
Q, DLQ, FN = "CustomerNinetyNineMindsQueue", "CustomerNinetyNineMindsDLQ", "CustomerTransferFunction"


def dlq_messages(stack) -> list[dict]:
    return stack.messages(DLQ)


def attributes(message: dict) -> dict[str, str]:
    return {k: v["StringValue"] for k, v in message.get("MessageAttributes", {}).items()}


def test_a_cold_container_masks_secrets_a_body_carries_from_the_first_record(stack, log_output, monkeypatch):
    """A transaction notification on the customer queue is refused before any settings are read: its body carries
    the 99minds API key as destination and the iPaaS.com token as tracking guid."""
    monkeypatch.setattr(observability, "_secrets", set())  # a new container: nothing registered yet
    monkeypatch.setattr(settings, "_cache", None)
    monkeypatch.setattr(processing, "_env", None)
    secrets = (stack.ninetynine.api_key, stack.ipaas.token)
    body = {"scope": "transaction/created", "id": "77", "destination": secrets[0], "tracking_guid": secrets[1]}
    stack.send(Q, body)
    stack.drain()
    [message] = dlq_messages(stack)
    assert json.loads(message["Body"]) == body  # the body is kept as it came
    attrs = attributes(message)
    assert attrs["ipaas.error"] == "permanent:InvalidMessage"
    text = log_output.getvalue() + json.dumps(attrs)
    for secret in secrets:
        assert secret not in text
    assert attrs["ipaas.destination"] == "***" and attrs["ipaas.tracking_guid"] == "***"


def test_attribute_values_are_what_sqs_accepts_bounded_and_within_the_message_size(stack, log_output):
    guid = "guid\x00\x01\ufffe" + "g" * 200_000  # NUL, control and non-characters, 200 kB
    body = json.dumps(notification("x" * 50_000, destination="nowhere\x00", guid=guid))
    stack.send(Q, body)
    stack.drain()
    [message] = dlq_messages(stack)
    assert message["Body"] == body  # never altered, never dropped
    attrs = message["MessageAttributes"]
    assert attributes(message)["ipaas.error"].startswith("configuration:")
    assert message_bytes(message["Body"], attrs) <= SQS_MAX_MESSAGE_BYTES
    for name, value in attributes(message).items():
        assert not any(c in value for c in "\x00\x01\ufffe"), name
        assert len(value) <= 2000, (name, len(value))
    assert attributes(message)["ipaas.tracking_guid"].startswith("guid???ggg")
    # and every log line is bounded (one input once produced a 2 MB line)
    lines = log_output.getvalue().splitlines()
    assert lines and max(len(line) for line in lines) < 30_000, max(len(line) for line in lines)


def test_a_body_that_fills_the_message_still_goes_to_the_dlq_unaltered(stack):
    body = json.dumps(notification("1", destination="nowhere", guid="guid-big", padding="p" * 255_000))
    assert len(body) < SQS_MAX_MESSAGE_BYTES
    stack.send(Q, body)
    stack.drain()
    [message] = dlq_messages(stack)
    assert message["Body"] == body
    assert message_bytes(body, message.get("MessageAttributes", {})) <= SQS_MAX_MESSAGE_BYTES
    assert attributes(message)["ipaas.error"].startswith("configuration:")  # the error is the last to go


def test_a_failed_dlq_send_is_an_outcome_line_and_a_metric_and_the_message_stays(stack, capsys):
    sqs = boto3.client("sqs")
    stack.send(Q, notification("1", destination="nowhere"))
    stack.drain()  # the DLQ is looked up (and cached) ...
    sqs.delete_queue(QueueUrl=stack.queue_url(DLQ))  # ... then it goes away
    stack.send(Q, notification("2", destination="nowhere"))
    reply = stack.invoke(FN, _event(stack, sqs))
    assert len(reply["batchItemFailures"]) == 1  # kept on its queue
    [failed] = [o for o in stack.outcomes("failed") if o["record_id"] == "2"]
    assert "sending it to its dead-letter queue failed: QueueDoesNotExist" in failed["reason"], failed["reason"]
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "DeadLetterSendFailures" in line]
    assert [m["DeadLetterSendFailures"] for m in emitted] == [[1.0]]  # the EMF metric line of the invocation


def _event(stack, sqs) -> dict:
    from sandbox.local_aws import sqs_event

    url = stack.queue_url(Q)
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, AttributeNames=["All"], MessageAttributeNames=["All"])[
        "Messages"
    ]
    return sqs_event(messages, stack.deployment.physical[Q]["Arn"])
