"""The real CustomerTransferFunction against moto and the iPaaS.com / 99minds sandboxes."""

from __future__ import annotations

import json

from sandbox.stack import NINETYNINE_SYSTEM_ID

from .conftest import dlq_reasons, json_lines, notification

Q, DLQ = "CustomerNinetyNineMindsQueue", "CustomerNinetyNineMindsDLQ"


def add_customer(stack, id_, **kw):
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


def posts(stack):
    return stack.ninetynine.calls("POST", "/api/v1/ipaas/customers", status=200)


def test_create_maps_fields_and_writes_back_the_link(stack):
    add_customer(stack, "1", addresses=[{"is_primary_billing": True, "phone_number": "(555) 010-2030"}])
    stack.send(Q, notification("1"))
    stack.drain()
    [created] = stack.outcomes("created")
    customer = stack.ninetynine.customers[created["external_id"]]
    assert customer["email"] == "ada1@example.com" and customer["phone"] == "5550102030"
    assert customer["store_ref_id"] == "store_b81a893dc2bc6e1a5d" and customer["customer_number"] == "C-1"
    assert stack.ipaas.link(NINETYNINE_SYSTEM_ID, "customer", "1") == created["external_id"]
    [link_call] = stack.ipaas.calls("POST", "/customers/v2/External/UpdateExternalId")
    assert link_call.body["tracking_guid"] == "guid-1" and link_call.body["system_id"] == NINETYNINE_SYSTEM_ID
    assert stack.messages(DLQ) == []


def test_linked_customer_is_updated_not_created(stack):
    add_customer(stack, "2", first_name="Grace")
    stack.ninetynine.customers["customer_existing"] = {"id": "customer_existing", "email": "old@example.com"}
    stack.ipaas.set_link(NINETYNINE_SYSTEM_ID, "customer", "2", "customer_existing")
    stack.send(Q, notification("2", scope="customer/updated"))
    stack.drain()
    [post] = posts(stack)
    assert post.body["id"] == "customer_existing"
    assert list(stack.ninetynine.customers) == ["customer_existing"]
    assert stack.ninetynine.customers["customer_existing"]["first_name"] == "Grace"
    assert [o["status"] for o in stack.outcomes()] == ["updated"]


def test_same_notification_twice_and_with_new_message_id_posts_once(stack):
    add_customer(stack, "3")
    body = notification("3")
    stack.send(Q, body)
    stack.drain()
    stack.send(Q, body)  # redelivered duplicate
    stack.send(Q, dict(body))  # replayed from a DLQ: a new messageId, same business identity
    stack.drain()
    assert len(posts(stack)) == 1
    assert [o["status"] for o in stack.outcomes() if o["status"] != "failed"] == ["created", "duplicate", "duplicate"]


def test_a_real_update_goes_through(stack):
    add_customer(stack, "4")
    stack.send(Q, notification("4"))
    stack.drain()
    add_customer(stack, "4", last_name="Byron")
    stack.send(Q, notification("4", scope="customer/updated"))
    stack.drain()
    first, second = posts(stack)
    assert "id" not in first.body and second.body["id"] == stack.outcomes("created")[0]["external_id"]
    assert second.body["last_name"] == "Byron"


def test_5xx_then_success(stack):
    add_customer(stack, "5")
    stack.ninetynine.faults.fail(1, status=503, path="/api/v1/ipaas/customers")
    stack.send(Q, notification("5"))
    stack.drain()
    assert [o["status"] for o in stack.outcomes()] == ["retrying", "created"], stack.outcomes()
    assert stack.outcomes("retrying")[0]["failure_kind"] == "transient"
    assert len(stack.ninetynine.customers) == 1 and stack.messages(DLQ) == []


def test_429_is_honoured_and_retried(stack):
    add_customer(stack, "6")
    stack.ninetynine.faults.throttle(1, retry_after=1, path="/api/v1/ipaas/customers")
    stack.send(Q, notification("6"))
    stack.drain()
    assert [o["status"] for o in stack.outcomes()] == ["created"]
    assert len(stack.ninetynine.calls("POST", "/api/v1/ipaas/customers", status=429)) == 1
    assert len(stack.ninetynine.customers) == 1


def test_bad_inputs_land_in_the_dlq_with_reasons_and_never_fail_neighbours(stack, log_output):
    add_customer(stack, "7")
    add_customer(stack, "8", email_address=None)
    add_customer(stack, "9", phone_number="call me maybe")
    for body in (
        notification("7"),
        notification("8"),
        notification("9"),
        '{"scope": "customer/created", "id": ',
        json.dumps({"scope": "customer/created", "id": "10"}),
        notification("11", scope="customer/melted"),
    ):
        stack.send(Q, body)
    stack.drain()
    assert [o["record_id"] for o in stack.outcomes("created")] == ["7"]
    reasons = sorted(r["ipaas.reason"] for r in dlq_reasons(stack, DLQ))
    assert len(reasons) == 5
    assert "customer 8: missing required field 'email_address'" in reasons
    assert any(r.startswith("customer 9: field 'phone_number' must be digits") for r in reasons)
    assert any("malformed body: field '(body)': Invalid JSON" in r for r in reasons)
    assert any("malformed body: field 'destination': Field required" in r for r in reasons)
    assert any("field 'scope'" in r and "unsupported scope" in r for r in reasons)
    lines = [line for line in json_lines(log_output) if line.get("outcome", {}).get("record_id") == "8"]
    assert lines and lines[0]["tracking_guid"] == "guid-8" and lines[0]["outcome"]["status"] == "dead-lettered"


def test_dlq_message_keeps_body_and_carries_the_reason(stack):
    add_customer(stack, "12", email_address=None)
    body = notification("12")
    stack.send(Q, body)
    stack.drain()
    [msg] = dlq_reasons(stack, DLQ)
    assert json.loads(msg["body"]) == body
    assert msg["ipaas.error"] == "permanent:InvalidRecord" and msg["ipaas.tracking_guid"] == "guid-12"
    assert msg["ipaas.destination"] == NINETYNINE_SYSTEM_ID and msg["ipaas.attempts"] == "1"
    assert msg["ipaas.first_reason"] == msg["ipaas.reason"]


def test_missing_setting_is_a_configuration_error_and_no_secret_is_logged(make_stack, log_output):
    stack = make_stack(subscription_overrides={"NinetyNineMindsSubscriptionSecret": {"API Secret Key": None}})
    add_customer(stack, "13")
    stack.send(Q, notification("13"))
    stack.drain()
    [msg] = dlq_reasons(stack, DLQ)
    assert msg["ipaas.error"].startswith("configuration:")
    assert "setting 'API Secret Key'" in msg["ipaas.reason"]
    assert stack.ninetynine.requests == []
    text = log_output.getvalue()
    assert stack.ipaas.token not in text and stack.ninetynine.api_key not in text


def test_wrong_credentials_are_a_configuration_error(make_stack, log_output):
    stack = make_stack(subscription_overrides={"NinetyNineMindsSubscriptionSecret": {"API Secret Key": "wrong-key-123"}})
    add_customer(stack, "14")
    stack.send(Q, notification("14"))
    stack.drain()
    [msg] = dlq_reasons(stack, DLQ)
    assert msg["ipaas.error"] == "configuration:ConfigurationError"
    assert "99minds rejected the credentials (HTTP 401)" in msg["ipaas.reason"]
    assert "wrong-key-123" not in log_output.getvalue()


def test_inline_record_is_used_without_fetching(stack):
    body = notification(
        "15",
        record={
            "id": "15",
            "customer_number": "C-15",
            "first_name": "B",
            "last_name": "Liskov",
            "email_address": "b@example.com",
        },
    )
    stack.send(Q, body)
    stack.drain()
    assert stack.ipaas.calls("GET", "/customers/v2/Customer/") == []
    assert [o["status"] for o in stack.outcomes()] == ["created"]


def test_transient_failure_after_its_retry_window_reaches_the_dlq_with_reason(make_stack, monkeypatch):
    from ipaas_sync.platform.http import ThrottledRetry

    # every receive still makes its HTTP retries (urllib3 Retry), without their backoff: what is asserted is the
    # receive count and the reason, and the backoff was 15 of this test's 20 seconds
    monkeypatch.setattr(ThrottledRetry, "get_backoff_time", lambda self: 0.0)
    stack = make_stack(parameters={"RetryWindowSeconds": 4})  # the window spent within the test
    add_customer(stack, "16")
    stack.ipaas.faults.fail(50, status=500, path="/customers/v2/Customer/16")
    stack.send(Q, notification("16"))
    stack.drain(max_seconds=60)
    [msg] = dlq_reasons(stack, DLQ)
    assert msg["ipaas.error"] == "transient:TransientError"
    tries = len(stack.outcomes("retrying")) + 1  # retried on the schedule until its window was spent
    assert int(msg["ipaas.attempts"]) == tries >= 2 and "HTTP 500" in msg["ipaas.reason"]
    assert f"{tries} failed tries from " in msg["ipaas.reason"]
    assert stack.ninetynine.requests == []


def test_create_whose_reply_was_lost_is_not_duplicated(stack, monkeypatch):
    from ipaas_sync.platform import http

    monkeypatch.setattr(http, "READ_TIMEOUT", 1.0)
    add_customer(stack, "17")
    stack.ninetynine.faults.apply_then_hang(1, seconds=2.5, path="/api/v1/ipaas/customers")
    stack.send(Q, notification("17"))
    stack.drain()
    assert [o["status"] for o in stack.outcomes()] == ["retrying", "created"]
    assert len(stack.ninetynine.customers) == 1
    [customer_id] = stack.ninetynine.customers
    assert stack.ipaas.link(NINETYNINE_SYSTEM_ID, "customer", "17") == customer_id
