"""DLQ attributes and log fields: sanitized, bounded, within the message size; DynamoDB's item limit is permanent."""

from __future__ import annotations

from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyPersistenceLayerError
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st

from ipaas_sync.core.errors import classify, describe
from ipaas_sync.core.observability import MAX_LOG_FIELD, bound, register_secret
from ipaas_sync.platform.queues import MAX_BODY_BYTES, SQS_MAX_MESSAGE_BYTES, attribute_value, failure_attributes, message_bytes

SQS_OK = set("\t\n\r") | {chr(c) for c in range(0x20, 0xD800)} | {chr(c) for c in range(0xE000, 0xFFFE)}


def attrs(body="", **kw):
    args = {
        "previous": {},
        "kind": "permanent",
        "error_class": "InvalidRecord",
        "reason": "r",
        "entity": "customer",
        "destination": "1001",
        "tracking_guid": "g",
        "receive_count": 1,
        "source_arn": "arn:aws:sqs:us-east-1:123456789012:q",
        "message_id": "m-1",
    } | kw
    return failure_attributes(body=body, **args)


@given(text=st.text(max_size=600))
def test_attribute_values_hold_only_what_sqs_accepts(text):
    value = attribute_value(text)
    assert len(value) <= 256 and all(c in SQS_OK or ord(c) >= 0x10000 for c in value)


def test_every_attribute_value_is_redacted():
    register_secret("s3cr3t-value-in-a-body")
    out = attrs(
        destination="s3cr3t-value-in-a-body",
        tracking_guid="x-s3cr3t-value-in-a-body",
        reason="bad s3cr3t-value-in-a-body",
        previous={"ipaas.first_reason": "s3cr3t-value-in-a-body"},
    )
    assert not any("s3cr3t" in a["StringValue"] for a in out.values())


@given(body_size=st.integers(min_value=0, max_value=SQS_MAX_MESSAGE_BYTES), reason_size=st.integers(0, 5000))
def test_body_plus_attributes_fit_the_message_and_the_error_goes_last(body_size, reason_size):
    body = "b" * body_size
    out = attrs(body=body, reason="é" * reason_size, previous={"ipaas.first_reason": "ü" * 900})
    assert message_bytes(body, out) <= SQS_MAX_MESSAGE_BYTES
    if message_bytes(body, {}) + 200 < SQS_MAX_MESSAGE_BYTES:
        assert out["ipaas.error"]["StringValue"] == "permanent:InvalidRecord"


def test_a_non_numeric_attempt_count_from_an_earlier_failure_does_not_break_the_send():
    assert attrs(previous={"ipaas.attempts": "lots"}, receive_count=2)["ipaas.attempts"]["StringValue"] == "2"


def test_logged_fields_are_bounded_and_masked_before_they_are_cut():
    register_secret("k3y-at-the-cut-0123456789")
    text = "x" * (MAX_LOG_FIELD - 5) + "k3y-at-the-cut-0123456789"
    logged = bound({"message": text, "keys": [text], "n": 1})
    assert "k3y-a" not in logged["message"] and len(logged["message"]) < MAX_LOG_FIELD + 40
    assert logged["keys"][0] == logged["message"] and logged["n"] == 1


def test_dynamodb_item_too_large_is_permanent_also_wrapped_by_idempotency():
    refused = ClientError(
        {"Error": {"Code": "ValidationException", "Message": "Item size has exceeded the maximum allowed size"}}, "PutItem"
    )
    assert classify(refused) == "permanent"
    try:
        try:
            raise refused
        except ClientError as exc:
            raise IdempotencyPersistenceLayerError("Failed to save in progress record to idempotency store") from exc
    except IdempotencyPersistenceLayerError as wrapped:
        assert classify(wrapped) == "permanent" and "400 KB" in describe(wrapped)
    other = ClientError({"Error": {"Code": "ValidationException", "Message": "One or more parameter values"}}, "PutItem")
    assert classify(other) == "transient"


@given(body_size=st.integers(min_value=0, max_value=SQS_MAX_MESSAGE_BYTES - 300), reason_size=st.integers(1, 5000))
def test_a_dlq_entry_keeps_its_error_class_and_a_reason_whatever_the_size_of_its_body(body_size, reason_size):
    """Oversized bodies were parked with no attributes at all (385 in the audit's fuzz): the DLQ said nothing."""
    body = "b" * body_size
    out = attrs(body=body, reason="é" * reason_size, previous={"ipaas.first_reason": "ü" * 900})
    assert message_bytes(body, out) <= SQS_MAX_MESSAGE_BYTES
    assert out["ipaas.error"]["StringValue"] == "permanent:InvalidRecord"
    assert out["ipaas.reason"]["StringValue"].startswith("é")


def test_a_body_the_product_queues_leaves_room_for_every_attribute():
    body = "b" * MAX_BODY_BYTES
    out = attrs(body=body, reason="é" * 5000, previous={"ipaas.first_reason": "ü" * 5000})
    assert len(out) == 10 and message_bytes(body, out) <= SQS_MAX_MESSAGE_BYTES
