"""The hook ingress decision (ipaas_sync.ingress.hooks) with a fake sender and an in-memory settings registry."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ipaas_sync.core.errors import ConfigurationError
from ipaas_sync.core.models.notification import TransferMessage
from ipaas_sync.core.settings import SubscriptionRegistry, parse_webhook_keys
from ipaas_sync.ingress.hooks import UNAUTHORIZED, HookIngress, QueueRoutes, authenticate, http_api_request, record, unauthorized
from ipaas_sync.platform.queues import QueueSendError

KEY_A = "whk-A-current-0123456789abcdef"
KEY_A_OLD = "whk-A-previous-0123456789abcdef"
KEY_B = "whk-B-current-fedcba9876543210"
SUB = {"Platform": "99minds", "iPaaS API Token": "tok-unit-000000", "API Secret Key": "sk-unit-000000", "Store Ref Id": "store_1"}
SUB_A = {**SUB, "Name": "A", "iPaaS System Id": "1001", "Webhook API Key": KEY_A, "Webhook API Key (Previous)": KEY_A_OLD}
SUB_B = {**SUB, "Name": "B", "iPaaS System Id": "2002", "Webhook API Key": KEY_B}
ROUTES = QueueRoutes.parse(
    json.dumps({"customer:99minds": "https://sqs/q-customer", "transaction:99minds": "https://sqs/q-transaction"})
)


class FakeSender:
    def __init__(self, fail: Exception | None = None):
        self.calls: list[tuple[str, list[str]]] = []
        self.fail = fail

    def __call__(self, queue_url: str, bodies: list[str]) -> int:
        self.calls.append((queue_url, list(bodies)))
        if self.fail:
            raise self.fail
        return len(bodies)

    def bodies(self) -> list[dict]:
        return [json.loads(b) for _, bodies in self.calls for b in bodies]


def make(subs=(SUB_A, SUB_B), sender=None, max_body_bytes=4096) -> tuple[HookIngress, FakeSender]:
    sender = sender or FakeSender()
    registry = SubscriptionRegistry([dict(s) for s in subs], parse_webhook_keys)
    return HookIngress(routes=ROUTES, send=sender, keys=lambda: registry, max_body_bytes=max_body_bytes), sender


def note(id_="1", scope="customer/created", destination="1001", **kw) -> dict:
    return {"scope": scope, "id": id_, "destination": destination, **kw}


def body(*notes, hook_id="h-1") -> bytes:
    return json.dumps({"id": hook_id, "attempt": 1, "notifications": list(notes)}).encode()


def auth(key=KEY_A, **extra) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **extra}


# -- accepted ----------------------------------------------------------------------------------------------
def test_every_notification_is_queued_on_its_entity_queue_as_a_transfer_message():
    ingress, sender = make()
    reply = ingress.handle(
        auth(),
        body(
            note("1", tracking_guid="g-1", action="CREATED"),
            note("7", "transaction/updated", tracking_guid="g-7"),
            note("2", "Customer/Updated", tracking_guid="g-2"),
        ),
    )
    assert (reply.status, reply.body) == (202, {"accepted": 3, "id": "h-1"})
    assert [(q, len(b)) for q, b in sender.calls] == [("https://sqs/q-customer", 2), ("https://sqs/q-transaction", 1)]
    assert reply.queued == {"customer:99minds": 2, "transaction:99minds": 1}
    messages = [TransferMessage.model_validate_json(b) for _, bodies in sender.calls for b in bodies]
    assert [(m.scope, m.id, m.destination, m.tracking_guid) for m in messages] == [
        ("customer/created", "1", "1001", "g-1"),
        ("customer/updated", "2", "1001", "g-2"),
        ("transaction/updated", "7", "1001", "g-7"),
    ]
    assert sender.bodies()[0] == {
        "scope": "customer/created",
        "id": "1",
        "destination": "1001",
        "tracking_guid": "g-1",
        "action": "CREATED",
    }


def test_tracking_guid_from_the_notification_else_from_x_correlation_id():
    ingress, sender = make()
    reply = ingress.handle(auth(**{"X-Correlation-Id": "corr-9"}), body(note("1", tracking_guid="own"), note("2")))
    assert reply.status == 202
    assert [b["tracking_guid"] for b in sender.bodies()] == ["own", "corr-9"]
    assert reply.tracking_guids == ("own", "corr-9")


def test_without_any_guid_the_message_has_none():
    ingress, sender = make()
    assert ingress.handle(auth(), body(note("1"))).status == 202
    assert "tracking_guid" not in sender.bodies()[0]


@pytest.mark.parametrize("header", [f"Bearer {KEY_A}", f"bearer {KEY_A}", f"BEARER   {KEY_A}  ", f"Bearer {KEY_A_OLD}"])
def test_current_or_previous_key_any_scheme_case(header):
    ingress, sender = make()
    assert ingress.handle({"authorization": header}, body(note())).status == 202
    assert len(sender.bodies()) == 1


def test_each_destination_with_its_own_key():
    ingress, sender = make()
    assert ingress.handle(auth(KEY_B), body(note("1", destination="2002"))).status == 202
    assert sender.bodies()[0]["destination"] == "2002"


# -- 401: one answer whatever went wrong, nothing queued ---------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [
        {},  # no header
        {"Authorization": ""},
        {"Authorization": "Bearer"},  # no token
        {"Authorization": "Bearer    "},
        {"Authorization": f"Basic {KEY_A}"},  # another scheme
        {"Authorization": KEY_A},  # no scheme
        {"Authorization": "Bearer wrong-key-0000000000000000"},
        {"Authorization": f"Bearer {KEY_A}x"},  # a prefix of the key is not the key
        {"Authorization": f"Bearer {KEY_A[:-1]}"},
        {"Authorization": f"Bearer {KEY_A.upper()}"},
        {"Authorization": f"Bearer {KEY_B}"},  # the key of another subscription
        {"Authorization": f"Bearer {KEY_A}, Bearer {KEY_A}"},  # repeated header, joined
        {"Authorization": "Bearer " + "k" * 5000},
    ],
    ids=lambda h: repr(h.get("Authorization", "<none>"))[:30],
)
def test_missing_or_wrong_key_is_401_with_one_body_and_nothing_queued(headers):
    ingress, sender = make()
    reply = ingress.handle(headers, body(note()))
    assert reply.status == 401
    assert reply.body == UNAUTHORIZED and reply.headers == {"WWW-Authenticate": 'Bearer realm="ipaas-sync hooks"'}
    assert sender.calls == []


def test_every_notification_must_be_for_a_subscription_that_accepts_the_key():
    ingress, sender = make()
    reply = ingress.handle(auth(KEY_A), body(note("1"), note("2", destination="2002")))
    assert reply.status == 401 and reply.body == UNAUTHORIZED
    assert "notification 1" in reply.reason and KEY_A not in reply.reason
    assert sender.calls == []


@pytest.mark.parametrize("payload", [b"{", b"x" * 100_000, body(note(destination="999")), body(note("1", "x/y"))])
def test_an_unauthenticated_caller_only_ever_sees_401(payload):
    ingress, sender = make()
    reply = ingress.handle(auth("not-a-key-00000000000000"), payload)
    assert (reply.status, reply.body) == (401, UNAUTHORIZED)
    assert sender.calls == []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=st.one_of(st.text(max_size=80), st.builds(lambda k: f"Bearer {k}", st.text(max_size=60))))
def test_no_other_authorization_header_reaches_a_queue(header):
    assume(header.strip().partition(" ")[2].strip() not in (KEY_A, KEY_A_OLD, KEY_B))
    ingress, sender = make()
    assert ingress.handle({"Authorization": header}, body(note(), note("2", destination="2002"))).status == 401
    assert sender.calls == []


# -- 413 ------------------------------------------------------------------------------------------------------
def test_a_body_past_the_limit_is_413_before_it_is_parsed():
    ingress, sender = make(max_body_bytes=1024)
    reply = ingress.handle(auth(), b"{" + b" " * 1024)  # not JSON either: the size is checked first
    assert reply.status == 413 and "1025 bytes" in reply.body["message"] and "1024" in reply.body["message"]
    assert sender.calls == []


def test_a_body_at_the_limit_is_accepted():
    payload = body(note())
    ingress, _ = make(max_body_bytes=len(payload))
    assert ingress.handle(auth(), payload).status == 202


# -- 400 ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "payload, status_body",
    [
        (b"{not json", {"message_has": "not valid JSON"}),
        (b"[]", {"message_has": "hook request: field '(body)'", "field": "(body)"}),
        (json.dumps({"id": "h", "attempt": 1}).encode(), {"message_has": "field 'notifications'", "field": "notifications"}),
        (json.dumps({"id": "h", "notifications": []}).encode(), {"message_has": "field 'notifications'"}),
        (json.dumps({"attempt": "often", "notifications": [note()]}).encode(), {"field": "attempt"}),
        (
            body(note("1"), note("2"), {"scope": "customer/created", "id": "3"}, {"id": ""}),
            {"notification": 2, "field": "destination", "message_has": "notification 2: field 'destination'"},
        ),
        (
            body(note("1"), note("2", scope="order/created")),
            {"notification": 1, "field": "scope", "message_has": "unsupported scope 'order/created'"},
        ),
        (body(note("1"), note("", scope="customer/created")), {"notification": 1, "field": "id"}),
    ],
)
def test_malformed_body_is_400_naming_the_first_invalid_notification(payload, status_body):
    ingress, sender = make()
    reply = ingress.handle(auth(), payload)
    assert reply.status == 400, reply
    expected_text = status_body.pop("message_has", "")
    assert expected_text in reply.body["message"]
    for k, v in status_body.items():
        assert reply.body[k] == v
    assert sender.calls == []


def test_an_unknown_destination_is_the_same_401_as_a_key_of_another_subscription():
    """Authentication is decided before anything about a destination is revealed: no enumeration of ids."""
    ingress, sender = make()
    unknown = ingress.handle(auth(), body(note("1"), note("2", destination="4242")))
    other = ingress.handle(auth(), body(note("1"), note("2", destination="2002")))
    assert (unknown.status, unknown.body, unknown.headers) == (401, other.body, other.headers) and other.status == 401
    assert "4242" not in json.dumps(unknown.body) and sender.calls == []


def test_authenticate_is_one_reusable_check_with_rotation_and_a_destination():
    registry = SubscriptionRegistry([dict(SUB_A), dict(SUB_B)], parse_webhook_keys)
    keys = lambda: registry  # noqa: E731
    assert set(authenticate(f"Bearer {KEY_A}", keys=keys).subscriptions) == {"1001"}
    assert authenticate(f"bearer  {KEY_A_OLD} ", destination="1001", keys=keys)  # the previous key, rotating
    assert not authenticate(f"Bearer {KEY_A}", destination="2002", keys=keys)  # another subscription's
    assert not authenticate(f"Bearer {KEY_A}", destination="4242", keys=keys)  # unknown: the same answer
    for header in (None, "", KEY_A, f"Basic {KEY_A}", "Bearer ", f"Bearer {KEY_A}x", "Bearer " + "k" * 5000):
        assert not authenticate(header, keys=keys), header
    assert unauthorized("anything").status == 401 and unauthorized("x").body == unauthorized("y").body


def test_no_queue_for_entity_and_platform_is_400_never_a_guess():
    ingress, sender = make()
    reply = ingress.handle(auth(), body(note("1"), note("5", "giftcard/created")))
    assert reply.status == 400
    assert "no queue for giftcard notifications to platform '99minds'" in reply.body["message"]
    assert sender.calls == []


# -- 5xx: nothing acknowledged unless it is on a queue ------------------------------------------------------
def test_a_send_still_failing_after_retries_is_503():
    ingress, _ = make(sender=FakeSender(fail=QueueSendError("1 of 2 messages not sent to queue q")))
    reply = ingress.handle(auth(), body(note("1"), note("2")))
    assert reply.status == 503 and "accepted" not in reply.body
    assert "not sent to queue q" in reply.reason


def test_an_sqs_error_is_503():
    from botocore.exceptions import EndpointConnectionError

    ingress, _ = make(sender=FakeSender(fail=EndpointConnectionError(endpoint_url="https://sqs")))
    assert ingress.handle(auth(), body(note())).status == 503


def test_unreadable_settings_are_503():
    def boom():
        raise ConfigurationError("cannot read secret subs: AccessDeniedException")

    ingress = HookIngress(routes=ROUTES, send=FakeSender(), keys=boom)
    reply = ingress.handle(auth(), body(note()))
    assert reply.status == 503 and "AccessDeniedException" in reply.reason


def test_a_subscription_whose_webhook_keys_are_invalid_or_missing_never_turns_a_wrong_key_into_503():
    """Anyone could trip the 5xx alarm (and a mis-keyed iPaaS.com hook would be retried forever): unauthenticated is
    always 401; the log line names the subscription whose key settings are invalid."""
    short = {"Platform": "99minds", "Name": "C", "iPaaS System Id": "3003", "Webhook API Key": "too-short"}
    no_key = {"Platform": "99minds", "Name": "D", "iPaaS System Id": "4004"}
    ingress, sender = make(subs=(SUB_A, short, no_key))
    for key in ("whk-anyone-at-all-000000000000", "too-short"):
        reply = ingress.handle(auth(key), body(note("1", destination="3003")))
        assert reply.status == 401 and "invalid for subscription(s) 3003" in reply.reason
    assert ingress.handle(auth(KEY_A), body(note("1", destination="4004"))).status == 401
    assert ingress.handle(auth(KEY_A), body(note("1"))).status == 202
    assert len(sender.calls) == 1


def test_the_ingress_needs_no_partner_credential():
    """Its settings are the webhook key secrets: Platform, iPaaS System Id and the keys, nothing else."""
    keys_only = {k: SUB_A[k] for k in ("Name", "Platform", "iPaaS System Id", "Webhook API Key")}
    ingress, sender = make(subs=(keys_only,))
    assert ingress.handle(auth(KEY_A), body(note())).status == 202 and len(sender.calls) == 1


def test_with_no_subscription_configured_every_request_is_401():
    ingress, _ = make(subs=())
    assert ingress.handle(auth(), body(note())).status == 401


# -- secrets -----------------------------------------------------------------------------------------------------
def test_no_key_appears_in_a_log_line_or_a_response(log_output):
    from ipaas_sync.core.observability import metrics

    ingress, _ = make()
    replies = [
        ingress.handle(h, b)
        for h, b in [
            (auth(), body(note())),
            (auth(KEY_B), body(note())),
            (auth(KEY_A_OLD), body(note(destination="2002"))),
            ({"Authorization": f"Bearer {KEY_A}-wrong"}, body(note())),
            (auth(), b"{"),
            (auth(), body(note(destination="77"))),
            (auth(), b" " * 5000),
        ]
    ]
    assert [r.status for r in replies] == [202, 401, 401, 401, 400, 401, 413]
    for reply in replies:
        record(reply)
        metrics.clear_metrics()  # one request per invocation in Lambda; flushed there
        text = json.dumps(reply.http_api_response())
        for key in (KEY_A, KEY_A_OLD, KEY_B):
            assert key not in text and key not in reply.reason
    logged = log_output.getvalue()
    assert logged.count("hook request") == len(replies)
    for key in (KEY_A, KEY_A_OLD, KEY_B):
        assert key not in logged


# -- routes and the event ------------------------------------------------------------------------------------------
def test_queue_routes_parse_and_reject_what_they_cannot_route():
    routes = QueueRoutes.parse('{"customer:99minds": "u1", "giftcard:stamped": "u2"}')
    assert routes.queue_for("customer", "99minds") == "u1" and routes.queue_for("customer", "stamped") is None
    for bad in ("", "{", "[]", "{}", '{"order:99minds": "u"}', '{"customer": "u"}', '{"customer:99minds": ""}'):
        with pytest.raises(ConfigurationError, match="QUEUE_ROUTES"):
            QueueRoutes.parse(bad)


def test_http_api_request_lowercases_headers_and_decodes_base64():
    event = {
        "headers": {"Authorization": "Bearer x", "X-Correlation-Id": "c"},
        "body": base64.b64encode(b'{"a": 1}').decode(),
        "isBase64Encoded": True,
    }
    assert http_api_request(event) == ({"authorization": "Bearer x", "x-correlation-id": "c"}, b'{"a": 1}')
    assert http_api_request({"body": "é"}) == ({}, "é".encode())
    assert http_api_request({})[1] == b""


def test_reply_is_an_http_api_response():
    ingress, _ = make()
    response = ingress.handle(auth(), body(note())).http_api_response()
    assert response["statusCode"] == 202 and response["headers"]["Content-Type"] == "application/json"
    assert json.loads(response["body"]) == {"accepted": 1, "id": "h-1"}


def test_the_deployed_ingress_is_built_from_the_environment_and_refuses_bad_routes(monkeypatch):
    from ipaas_sync.ingress import hooks as module

    monkeypatch.setattr(module, "_default", None)
    monkeypatch.setenv("QUEUE_ROUTES", '{"customer:99minds": "https://sqs/q"}')
    monkeypatch.setenv("HOOK_MAX_BODY_BYTES", "2048")
    built = module.default_ingress()
    assert built.max_body_bytes == 2048 and built.routes.queue_for("customer", "99minds") == "https://sqs/q"
    assert module.default_ingress() is built
    monkeypatch.setenv("QUEUE_ROUTES", '{"customer:99minds": ')
    with pytest.raises(ConfigurationError, match="QUEUE_ROUTES is not valid JSON"):
        module.default_ingress()


def test_a_notification_whose_fields_hold_a_webhook_key_is_refused_and_nothing_is_queued():
    ingress, sender = make()
    for note in (
        {"scope": "customer/created", "id": f"1-{KEY_B}", "destination": "1001"},
        {"scope": "customer/created", "id": "1", "destination": "1001", "tracking_guid": KEY_A},
        {"scope": "customer/created", "id": "1", "destination": "1001", "external_id": f"x{KEY_A_OLD}x"},
    ):
        reply = ingress.handle({"Authorization": f"Bearer {KEY_A}"}, json.dumps({"notifications": [note]}).encode())
        assert reply.status == 400 and reply.body["notification"] == 0, reply
        assert "webhook API key" in reply.body["message"] and all(k not in json.dumps(reply.body) for k in (KEY_A, KEY_B))
    assert sender.calls == []


def test_a_notification_too_large_to_park_with_its_reason_is_413_naming_it():
    """A queued message leaves room for its DLQ entry's error and reason (MAX_BODY_BYTES); one that would fill the
    whole SQS message was accepted and, when it failed, parked with no attributes at all."""
    from ipaas_sync.platform.queues import MAX_BODY_BYTES, SQS_MAX_MESSAGE_BYTES

    ingress, sender = make(max_body_bytes=SQS_MAX_MESSAGE_BYTES)
    big = note(external_id="x" * (MAX_BODY_BYTES + 100))
    reply = ingress.handle({"Authorization": f"Bearer {KEY_A}"}, json.dumps({"notifications": [big]}).encode())
    assert reply.status == 413 and reply.body["notification"] == 0 and f"at most {MAX_BODY_BYTES}" in reply.body["message"]
    assert sender.calls == []
