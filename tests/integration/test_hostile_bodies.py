"""Hostile structure (not only hostile values) in SQS bodies, for every SQS-fed handler: a body nested thousands of
levels deep, very wide, with numbers or strings too long, bytes that are not UTF-8 text, duplicate keys. A batch that
mixes one such body with valid records transfers every valid record and parks the hostile one in its DLQ with its
reason; nothing any handler writes (log lines, EMF metric lines, DLQ attributes) carries a secret value."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sandbox.destinations import TEST_LIMITS
from sandbox.local_aws import sqs_event
from sandbox.serve import EVENT_TRANSACTION, seed_loyalty_event_records
from sandbox.stack import LocalStack
from tests.integration.conftest import add_customer, dlq_reasons

EVENTS = Path(__file__).resolve().parents[2] / "events"
DONE = {"created", "updated", "sent", "linked", "duplicate", "skipped"}


@pytest.fixture(scope="module")
def stack(moto_server):
    # the 99minds webhook route reads its key from the body (a supported setting): the parse comes before authentication
    s = LocalStack(
        moto=moto_server,
        limits=TEST_LIMITS,
        subscription_overrides={"NinetyNineMindsWebhookKeySecret": {"Webhook Key Location": "body:$.key"}},
    ).start()
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


def hostile_bodies(scope: str, secrets: list[str], valid_body: dict) -> st.SearchStrategy[str]:
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
        # a valid message naming a destination that is a secret, or 3 MB long: it reaches the metric lines' dimension
        st.sampled_from([*secrets, "d" * 200_000]).map(lambda d: json.dumps({**valid_body, "destination": d})),
        # a valid message with a deferral time no delay can be computed from
        st.sampled_from(["Infinity", "-Infinity", "NaN", "1e999"]).map(
            lambda x: json.dumps(valid_body)[:-1] + f', "deferred_until": {x}, "deferrals": 1}}'
        ),
    )


@contextlib.contextmanager
def everything_written():
    """Every log line (the logger's stream) and every EMF metric line (stdout) written inside."""
    from ipaas_sync.core.observability import logger

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

    sample = valid(stack, "x0")

    @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(hostile=hostile_bodies(scope, secrets, sample), position=st.integers(0, 2))
    # the audit's cases, every run: too deep for json.loads, a valid message naming a secret as its destination, a
    # deferral time no delay can be computed from
    @example(hostile="[" * 5000 + "]" * 5000, position=1)
    @example(hostile=json.dumps({**sample, "destination": secrets[1]}), position=0)
    @example(hostile=json.dumps(sample)[:-1] + ', "deferred_until": Infinity}', position=2)
    def check(hostile, position):
        stack.collector.outcomes.clear()
        bodies = [json.dumps(valid(stack, uuid.uuid4().hex[:10])) for _ in range(2)]
        bodies.insert(position, hostile)
        messages = [{"MessageId": str(uuid.uuid4()), "ReceiptHandle": "rh", "Body": b, "MD5OfBody": ""} for b in bodies]
        for m in stack.messages(dlq):  # this example's DLQ only
            stack_sqs_delete(stack, dlq, m)
        with everything_written() as (logs, metric_lines):
            reply = stack.invoke(function, sqs_event(messages, arn))  # never raises: one verdict per record
            stack.drain(functions=[function], max_seconds=60)  # the valid records a rate-limit slot deferred (bound)
        assert reply["batchItemFailures"] == []
        hostile_id = messages[position]["MessageId"]
        final = [o for o in stack.collector.outcomes if o["status"] != "deferred"]
        valid_ids = {json.loads(b)["id"] for i, b in enumerate(bodies) if i != position}
        mine = [o for o in final if o.get("record_id") in valid_ids]
        assert all(o["status"] in DONE for o in mine), mine  # every valid record transferred, none failed
        assert {o["record_id"] for o in mine} == valid_ids
        [parked] = [a for a in dlq_reasons(stack, dlq) if a.get("ipaas.message_id") == hostile_id]
        assert parked["ipaas.error"].split(":")[0] in ("permanent", "configuration") and parked["ipaas.reason"], parked
        # the parked body is the message itself, kept as it came (replayable); everything else is output
        attributes = [{k: v for k, v in a.items() if k != "body"} for a in dlq_reasons(stack, dlq)]
        written = logs.getvalue() + metric_lines.getvalue() + json.dumps(attributes)
        for secret in secrets:
            assert secret not in written

    check()


def stack_sqs_delete(stack: LocalStack, logical_id: str, message: dict) -> None:
    import boto3

    boto3.client("sqs").delete_message(QueueUrl=stack.queue_url(logical_id), ReceiptHandle=message["ReceiptHandle"])


ROUTES = ["/hooks", "/hooks/99minds/1001", "/hooks/99minds/no-such-id", "/hooks/99minds/2001/x/y"]


def http_event(path: str, body: bytes, authorization: str | None) -> dict:
    headers = {"content-type": "application/json", **({"authorization": authorization} if authorization else {})}
    return {
        "version": "2.0",
        "rawPath": path,
        "headers": headers,
        "body": base64.b64encode(body).decode(),
        "isBase64Encoded": True,
        "requestContext": {"http": {"method": "POST", "path": path}, "requestId": str(uuid.uuid4())},
    }


def hostile_requests(key: str, secrets: list[str]) -> st.SearchStrategy[bytes]:
    """Request bodies hostile by structure; some carry the 99minds webhook key where that route reads it."""
    depth = st.integers(1_000, 40_000)
    with_key = json.dumps({"key": key, "scope": "loyalty_transaction/created"})[:-1]
    text = st.one_of(
        depth.map(lambda n: "[" * n + "]" * n),
        depth.map(lambda n: '{"notifications": [' + '{"a":' * n + "1" + "}" * n + "]}"),
        depth.map(lambda n: with_key + ', "external_id": ' + '{"a":' * n + "1" + "}" * n + "}"),
        depth.map(lambda n: '{"key": ' + "[" * n + "]" * n + "}"),
        st.integers(1_000, 15_000).map(lambda n: json.dumps({f"k{i}": i for i in range(n)})),
        st.integers(4_301, 60_000).map(lambda n: with_key + ', "external_id": ' + "9" * n + "}"),
        st.integers(200_000, 400_000).map(lambda n: json.dumps({"key": "x" * n})),  # over the size limit, no key
        st.integers(200_000, 400_000).map(lambda n: with_key + ', "pad": "' + "x" * n + '"}'),
        st.sampled_from(secrets).map(lambda s: with_key + f', "external_id": "{s}"}}'),
        st.sampled_from(secrets).map(lambda s: with_key.replace("loyalty_transaction/created", s) + ', "external_id": "1"}'),
        st.sampled_from(secrets).map(
            lambda s: json.dumps({"notifications": [{"scope": "customer/created", "id": s, "destination": "1001"}]})
        ),
        st.just(with_key + ', "key": {"key": 1}, "external_id": "1"}'),  # duplicate keys
    ).map(lambda t: t.encode())
    not_utf8 = st.binary(min_size=1, max_size=64).map(lambda b: b"\xff" + b)
    return st.one_of(text, not_utf8)


@pytest.mark.integration
def test_no_hostile_request_gets_a_5xx_or_an_answer_that_differs_by_destination_or_carries_a_secret(stack):
    secrets = partner_secrets(stack) + [stack.webhook_key, "whk-local-stamped-2001-0000000000"]
    queued_before = len(stack.messages("FromNinetyNineMindsQueue")) + len(stack.messages("CustomerNinetyNineMindsQueue"))

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(
        body=hostile_requests(stack.webhook_key, secrets),
        route=st.sampled_from(ROUTES),
        authorization=st.sampled_from([None, f"Bearer {stack.webhook_key}", "Bearer wrong-key-0000000000000"]),
    )
    def check(body, route, authorization):
        with everything_written() as (logs, metric_lines):
            answer = stack.invoke("HookIngressFunction", http_event(route, body, authorization))
        assert answer["statusCode"] in (202, 400, 401, 413), answer
        unauthenticated = stack.webhook_key.encode() not in body and authorization != f"Bearer {stack.webhook_key}"
        if route.startswith("/hooks/99minds/") and unauthenticated:
            # before authentication the answer is the same for an existing and an unknown destination
            other = stack.invoke("HookIngressFunction", http_event("/hooks/99minds/no-such-id", body, authorization))
            assert (answer["statusCode"], answer["body"]) == (other["statusCode"], other["body"]) == (401, other["body"])
        written = json.dumps(answer) + logs.getvalue() + metric_lines.getvalue()
        for secret in secrets:
            assert secret not in written

    check()
    queued = stack.messages("FromNinetyNineMindsQueue") + stack.messages("CustomerNinetyNineMindsQueue")
    assert len(queued) >= queued_before
    for message in queued:
        assert all(secret not in message["Body"] for secret in secrets)  # nothing queued carries a key or secret
