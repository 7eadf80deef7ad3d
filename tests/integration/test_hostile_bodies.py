"""Hostile structure (not only hostile values) in SQS bodies, for every SQS-fed handler: a body nested thousands of
levels deep, very wide, with numbers or strings too long, bytes that are not UTF-8 text, duplicate keys. A batch that
mixes one such body with valid records transfers every valid record and parks the hostile one in its DLQ with its
reason; nothing any handler writes (log lines, EMF metric lines, DLQ attributes) carries a secret value."""

from __future__ import annotations

import contextlib
import io
import json
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.local_aws import sqs_event
from sandbox.serve import EVENT_TRANSACTION, seed_loyalty_event_records
from sandbox.server import TEST_LIMITS
from sandbox.stack import LocalStack
from tests.integration.conftest import add_customer, dlq_reasons

EVENTS = Path(__file__).resolve().parents[2] / "events"
DONE = {"created", "updated", "sent", "linked", "duplicate", "skipped"}


@pytest.fixture(scope="module")
def stack(moto_server):
    s = LocalStack(moto=moto_server, limits=TEST_LIMITS).start()
    add_customer(s, "501", email_address="ada@example.com")
    seed_loyalty_event_records(s)
    yield s
    s.stop()


def _sample(name: str) -> dict:
    return json.loads(json.loads((EVENTS / f"{name}.json").read_text())["Records"][0]["body"])


def valid_customer(stack: LocalStack, n: str) -> dict:
    body = _sample("customer_created")
    body["id"] = body["record"]["id"] = f"h{n}"
    body["record"]["customer_number"], body["record"]["email_address"] = f"C-h{n}", f"h{n}@example.com"
    return body


def valid_transaction(stack: LocalStack, n: str) -> dict:
    body = _sample("invoice_order")
    body["id"] = body["record"]["id"] = f"h{n}"
    body["record"]["transaction_number"] = f"SO-h{n}"
    return body


def valid_giftcard(stack: LocalStack, n: str) -> dict:
    body = _sample("giftcard_created")
    body["id"] = body["record"]["id"] = f"h{n}"
    body["record"]["number"] = f"GC-h{n}"
    body["record"]["activities"][0]["id"] = f"h{n}-1"
    return body


def valid_loyalty(stack: LocalStack, n: str) -> dict:
    body = _sample("loyalty_transaction")
    original = stack.ninetynine.loyalty_transactions[EVENT_TRANSACTION]
    body["id"] = f"transaction_h{n}"
    stack.ninetynine.loyalty_transactions[body["id"]] = {**original, "id": body["id"]}
    return body


# function, its queue, its DLQ, the scope its messages carry, a valid record of it
HANDLERS = {
    "CustomerTransferFunction": (
        "CustomerNinetyNineMindsQueue",
        "CustomerNinetyNineMindsDLQ",
        "customer/created",
        valid_customer,
    ),
    "InvoiceTransferFunction": (
        "TransactionNinetyNineMindsQueue",
        "TransactionNinetyNineMindsDLQ",
        "transaction/updated",
        valid_transaction,
    ),
    "GiftCardTransferFunction": (
        "GiftcardNinetyNineMindsQueue",
        "GiftcardNinetyNineMindsDLQ",
        "giftcard/created",
        valid_giftcard,
    ),
    "LoyaltyTransferFunction": (
        "FromNinetyNineMindsQueue",
        "FromNinetyNineMindsDLQ",
        "loyalty_transaction/created",
        valid_loyalty,
    ),
}


def hostile_bodies(scope: str, secrets: list[str]) -> st.SearchStrategy[str]:
    """Bodies no valid message is, by their structure. Each is what SQS can carry (text; bytes that are not UTF-8
    arrive as the characters SQS accepts)."""
    head = json.dumps({"scope": scope, "destination": "1001"})[:-1]
    depth = st.integers(1_000, 40_000)
    return st.one_of(
        depth.map(lambda n: "[" * n + "]" * n),
        depth.map(lambda n: '{"a":' * n + "1" + "}" * n),
        depth.map(lambda n: head + ', "id": "1", "record": ' + "[" * n + "]" * n + "}"),  # deep inside a message
        depth.map(lambda n: head + ', "id": ' + '{"id":' * n + "1" + "}" * n + "}"),
        st.integers(1_000, 15_000).map(lambda n: json.dumps({f"k{i}": i for i in range(n)})),  # wide
        st.integers(1_000, 30_000).map(lambda n: json.dumps(list(range(n)))),
        st.integers(4_301, 60_000).map(lambda n: head + ', "id": ' + "9" * n + "}"),  # a number too long to parse
        st.integers(4_301, 60_000).map(lambda n: head + ', "id": "1", "deferrals": ' + "9" * n + "}"),
        st.sampled_from(["1e999999", "-1e999999", "NaN", "Infinity"]).map(lambda x: head + f', "deferred_until": {x}}}'),
        st.integers(10_000, 200_000).map(lambda n: json.dumps({"scope": "x" * n, "id": "1"})),  # a string too long
        st.binary(min_size=1, max_size=64).map(lambda b: b.decode("latin-1")),  # bytes that are not UTF-8 text
        st.sampled_from(["\\ud800", "\\udcff", "\\u0000"]).map(lambda u: head + f', "id": "{u}"' + "}"),
        st.just(head + ', "id": "1", "id": {"id": [1]}, "scope": null}'),  # duplicate keys, the last one hostile
        st.sampled_from(secrets).map(lambda s: json.dumps({"scope": s, "id": s, "destination": s, "tracking_guid": s})),
    )


@contextlib.contextmanager
def everything_written():
    """Every log line (the logger's stream) and every EMF metric line (stdout) written inside."""
    from ipaas_sync.observability import logger

    logs, stdout = io.StringIO(), io.StringIO()
    old = logger.registered_handler.setStream(logs)
    try:
        with contextlib.redirect_stdout(stdout):
            yield logs, stdout
    finally:
        logger.registered_handler.setStream(old)


def partner_secrets(stack: LocalStack) -> list[str]:
    return [stack.ipaas.token, stack.ninetynine.api_key, stack.stamped.private_key, stack.makini.token]


@pytest.mark.integration
@pytest.mark.parametrize("function", sorted(HANDLERS))
def test_one_hostile_body_fails_only_itself_and_is_parked_with_its_reason(stack, function):
    queue, dlq, scope, valid = HANDLERS[function]
    arn = stack.deployment.physical[queue]["Arn"]
    secrets = partner_secrets(stack)

    @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(hostile=hostile_bodies(scope, secrets), position=st.integers(0, 2))
    def check(hostile, position):
        stack.collector.outcomes.clear()
        bodies = [json.dumps(valid(stack, uuid.uuid4().hex[:10])) for _ in range(2)]
        bodies.insert(position, hostile)
        messages = [{"MessageId": str(uuid.uuid4()), "ReceiptHandle": "rh", "Body": b, "MD5OfBody": ""} for b in bodies]
        for m in stack.messages(dlq):  # this example's DLQ only
            stack_sqs_delete(stack, dlq, m)
        with everything_written() as (logs, metric_lines):
            reply = stack.invoke(function, sqs_event(messages, arn))  # never raises: one verdict per record
            stack.drain(functions=[function], max_seconds=30)  # the valid records a rate-limit slot deferred
        assert reply["batchItemFailures"] == []
        hostile_id = messages[position]["MessageId"]
        final = [o for o in stack.collector.outcomes if o["status"] != "deferred"]
        valid_ids = {json.loads(b)["id"] for i, b in enumerate(bodies) if i != position}
        mine = [o for o in final if o.get("record_id") in valid_ids]
        assert all(o["status"] in DONE for o in mine), mine  # every valid record transferred, none failed
        assert {o["record_id"] for o in mine} == valid_ids
        [parked] = [a for a in dlq_reasons(stack, dlq) if a.get("ipaas.message_id") == hostile_id]
        assert parked["ipaas.error"].startswith("permanent:") and parked["ipaas.reason"], parked
        # the parked body is the message itself, kept as it came (replayable); everything else is output
        attributes = [{k: v for k, v in a.items() if k != "body"} for a in dlq_reasons(stack, dlq)]
        written = logs.getvalue() + metric_lines.getvalue() + json.dumps(attributes)
        for secret in secrets:
            assert secret not in written

    check()


def stack_sqs_delete(stack: LocalStack, logical_id: str, message: dict) -> None:
    import boto3

    boto3.client("sqs").delete_message(QueueUrl=stack.queue_url(logical_id), ReceiptHandle=message["ReceiptHandle"])
