"""The 99minds webhook decision (ipaas_sync.ingress.webhooks.NinetyNineMindsHookIngress): same authentication and answers
as the iPaaS.com hook route, with the key / event / record id read where the subscription's settings say."""

from __future__ import annotations

import json

import pytest

from ipaas_sync.core.models.inbound import InboundMessage
from ipaas_sync.core.settings import SubscriptionRegistry, parse_webhook_keys
from ipaas_sync.ingress.hooks import UNAUTHORIZED
from ipaas_sync.ingress.webhooks import NinetyNineMindsHookIngress, json_path
from ipaas_sync.platform.queues import QueueSendError

from .test_ingress import KEY_A, KEY_A_OLD, KEY_B, SUB_A, SUB_B, FakeSender

PATH = "/hooks/99minds/1001"
QUEUE = "https://sqs/q-from-99minds"


def make(overrides: dict | None = None, sender=None, subs=None, max_body_bytes=4096):
    sender = sender or FakeSender()
    subs = (
        subs
        if subs is not None
        else [
            {**SUB_A, **(overrides or {})},
            SUB_B,
            {
                "Platform": "stamped",
                "Name": "S",
                "iPaaS System Id": "3003",
                "iPaaS API Token": "t-00000000",
                "API Public Key": "p",
                "API Private Key": "k",
                "API Store Hash": "h",
                "Webhook API Key": "whk-stamped-000000000000",
            },
        ]
    )
    registry = SubscriptionRegistry([dict(s) for s in subs], parse_webhook_keys)
    return NinetyNineMindsHookIngress(queue_url=QUEUE, send=sender, keys=lambda: registry, max_body_bytes=max_body_bytes), sender


def hook(event="loyalty_transaction/created", record_id="transaction_a3c44bd1f3bf8b1c2f") -> bytes:
    return json.dumps({"scope": event, "external_id": record_id}).encode()


def bearer(key=KEY_A, **extra):
    return {"Authorization": f"Bearer {key}", **extra}


def test_a_loyalty_webhook_is_queued_as_one_inbound_message():
    ingress, sender = make()
    reply = ingress.handle(PATH, bearer(**{"X-Correlation-Id": "guid-1"}), hook())
    assert (reply.status, reply.body) == (202, {"accepted": 1})
    [(queue, [text])] = sender.calls
    assert queue == QUEUE
    assert InboundMessage.model_validate_json(text) == InboundMessage(
        kind="loyalty_transaction",
        id="transaction_a3c44bd1f3bf8b1c2f",
        destination="1001",
        event="loyalty_transaction/created",
        tracking_guid="guid-1",
    )


def test_customer_events_are_customers_and_a_tracking_guid_is_made_when_none_is_sent():
    ingress, sender = make()
    reply = ingress.handle(PATH, bearer(), hook("Customer/Updated", "customer_35b4d7776af9ac875a"))
    [body] = sender.bodies()
    assert reply.status == 202 and body["kind"] == "customer" and len(body["tracking_guid"]) == 36


def test_the_previous_key_is_accepted_during_a_rotation():
    ingress, _ = make()
    assert ingress.handle(PATH, bearer(KEY_A_OLD), hook()).status == 202


@pytest.mark.parametrize(
    "path, headers",
    [
        (PATH, {}),
        (PATH, bearer("wrong-key-but-long-enough")),
        (PATH, {"Authorization": f"Basic {KEY_A}"}),
        ("/hooks/99minds/2002", bearer()),  # another subscription's key
        ("/hooks/99minds/9999", bearer()),  # no such subscription
        ("/hooks/99minds/3003", bearer("whk-stamped-000000000000")),  # not a 99minds subscription
        ("/hooks/99minds/", bearer()),
    ],
)
def test_every_unauthenticated_request_gets_the_same_401_and_nothing_is_read(path, headers):
    ingress, sender = make()
    reply = ingress.handle(path, headers, b"{not json" * 1000)  # the body is never looked at
    assert (reply.status, reply.body, reply.headers["WWW-Authenticate"]) == (401, UNAUTHORIZED, 'Bearer realm="ipaas-sync hooks"')
    assert sender.calls == []


def test_the_body_limit_is_413_after_authentication():
    ingress, _ = make(max_body_bytes=100)
    assert ingress.handle(PATH, bearer(), b"{" + b" " * 200 + b"}").status == 413
    assert ingress.handle(PATH, {}, b"{" + b" " * 200 + b"}").status == 401


@pytest.mark.parametrize(
    "body, field",
    [
        (b"{nope", None),
        (json.dumps({"external_id": "x"}).encode(), "body:$.scope"),
        (json.dumps({"scope": "customer/created"}).encode(), "body:$.external_id"),
    ],
)
def test_a_bad_body_is_400_naming_the_bad_part(body, field):
    ingress, sender = make()
    reply = ingress.handle(PATH, bearer(), body)
    assert reply.status == 400 and reply.body.get("field") == field and sender.calls == []


def test_an_unknown_event_is_202_skipped_and_counted():
    ingress, sender = make()
    reply = ingress.handle(PATH, bearer(), hook("tier/changed", "tier_01901310df875def01"))
    assert (reply.status, reply.body, reply.skipped) == (202, {"accepted": 0, "skipped": 1}, 1)  # the event is not echoed
    assert sender.calls == []


def test_locations_are_settings_header_body_and_url():
    ingress, sender = make(
        {
            "Webhook Key Location": "body:$.auth.key",
            "Webhook Event Location": "header:X-Event",
            "Webhook Record Id Location": "url:2",
        }
    )
    body = json.dumps({"auth": {"key": KEY_A}}).encode()
    reply = ingress.handle(f"{PATH}/customers/customer_9", {"X-Event": "customer/created"}, body)
    assert reply.status == 202, reply.reason
    assert sender.bodies()[0]["id"] == "customer_9"
    assert (
        ingress.handle(
            f"{PATH}/customers/customer_9", {"X-Event": "customer/created"}, json.dumps({"auth": {"key": KEY_B}}).encode()
        ).status
        == 401
    )
    assert ingress.handle(f"{PATH}/x", {}, b"not json").status == 401  # a key in the body needs a JSON body


def test_the_event_names_are_settings():
    ingress, sender = make({"Loyalty Transaction Events": ["loyalty.points.earned"]})
    assert ingress.handle(PATH, bearer(), hook("loyalty.points.earned")).status == 202
    assert ingress.handle(PATH, bearer(), hook("loyalty_transaction/created")).body["accepted"] == 0


def test_invalid_webhook_settings_are_401_and_unreadable_ones_503():
    # a subscription whose webhook settings are invalid opens nothing: the same 401 as a wrong key (issue 11)
    ingress, _ = make(subs=[{**SUB_A, "Webhook Key Location": "cookie:x"}])
    assert ingress.handle(PATH, bearer(), hook()).status == 401

    def unreadable():
        from ipaas_sync.core.errors import ConfigurationError

        raise ConfigurationError("cannot read secret webhook-keys/99minds: AccessDeniedException")

    ingress = NinetyNineMindsHookIngress(queue_url=QUEUE, send=FakeSender(), keys=unreadable)
    assert ingress.handle(PATH, bearer(), hook()).status == 503


def test_a_queue_failure_is_503():
    ingress, _ = make(sender=FakeSender(fail=QueueSendError("SQS refused")))
    assert ingress.handle(PATH, bearer(), hook()).status == 503


@pytest.mark.parametrize(
    "path, value",
    [("$.a.b", 1), ("$.list[1].id", "y"), ("$.list[-1].id", "y"), ("$.list[5].id", None), ("$.missing.x", None), ("a.b", None)],
)
def test_json_path(path, value):
    assert json_path({"a": {"b": 1}, "list": [{"id": "x"}, {"id": "y"}]}, path) == value


BODY_KEY = {"Webhook Key Location": "body:$.key"}
DEEP = b'{"key":' * 20_000 + b"1" + b"}" * 20_000


@pytest.mark.parametrize(
    "body",
    [DEEP, b"[" * 100_000 + b"]" * 100_000, b'{"key": "\xff\xfe"}', b'{"key": ' + b"9" * 10_000 + b"}", b"\xc3\x28"],
    ids=["deep-object", "deep-array", "invalid-utf8", "huge-number", "invalid-utf8-only"],
)
def test_a_body_that_cannot_be_read_is_401_when_it_carries_the_key_never_500(body):
    ingress, sender = make(BODY_KEY, max_body_bytes=10**6)
    reply = ingress.handle(PATH, {}, body)  # raised RecursionError (a 500) before
    assert (reply.status, reply.body) == (401, UNAUTHORIZED) and sender.calls == []


def test_a_body_that_cannot_be_read_after_authentication_is_400_never_500():
    ingress, sender = make(max_body_bytes=10**6)  # key in the header, event and record id in the body
    reply = ingress.handle(PATH, bearer(), DEEP)
    assert reply.status == 400 and "cannot be read as JSON" in reply.body["message"] and sender.calls == []


def test_size_and_parse_limits_answer_the_same_for_known_and_unknown_destinations_before_authentication():
    ingress, _ = make(BODY_KEY, max_body_bytes=1000)
    for body in (b'{"x": "' + b"a" * 3000 + b'"}', DEEP, b"not json"):
        known = ingress.handle(PATH, {}, body)  # 1001 reads its key from the body
        unknown = ingress.handle("/hooks/99minds/no-such-id", {}, body)
        assert (known.status, known.body, known.headers) == (unknown.status, unknown.body, unknown.headers)
        assert known.status == 401  # the 300 kB body was 413 on 1001 and 401 on an unknown id before


def test_a_webhook_whose_fields_hold_a_webhook_key_is_refused_and_nothing_is_queued():
    ingress, sender = make()
    for event, record_id, headers in (
        ("loyalty_transaction/created", f"t-{KEY_B}", {}),  # another subscription's key as the record id
        ("loyalty_transaction/created", "t-1", {"X-Correlation-Id": KEY_A}),  # its own key as the tracking guid
    ):
        reply = ingress.handle(PATH, bearer(**headers), hook(event, record_id))
        assert reply.status == 400 and "webhook API key" in reply.body["message"], reply
        assert KEY_A not in json.dumps(reply.body) and KEY_B not in json.dumps(reply.body)
    assert sender.calls == []


def test_no_answer_echoes_a_key_the_caller_put_in_its_event_name():
    ingress, _ = make()
    reply = ingress.handle(PATH, bearer(), hook(f"tier/{KEY_A}", "tier_1"))
    assert reply.status == 202 and KEY_A not in reply.http_api_response()["body"]
