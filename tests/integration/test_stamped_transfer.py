"""The real CustomerTransferFunction on the Stamped.io queue, against moto and the iPaaS.com / Stamped sandboxes."""

from __future__ import annotations

from sandbox.stack import STAMPED_SYSTEM_ID

from .conftest import add_customer, dlq_reasons, notification

Q, DLQ = "CustomerStampedQueue", "CustomerStampedDLQ"
SECRET = "StampedSubscriptionSecret"


def note(id_, **kw):
    return notification(id_, destination=STAMPED_SYSTEM_ID, **kw)


def test_create_maps_fields_on_the_store_path_and_writes_back_the_link(stack):
    add_customer(stack, "1", first_name="Ada")
    stack.send(Q, note("1"))
    stack.drain()
    [created] = stack.outcomes("created")
    assert created["destination"] == STAMPED_SYSTEM_ID and created["platform"] == "stamped"
    customer = stack.stamped.customers[created["external_id"]]
    assert customer == {
        "id": int(created["external_id"]),
        "email": "ada1@example.com",
        "firstName": "Ada",
        "lastName": "Lovelace",
        "customCustomerId": "C-1",
    }
    [post] = stack.stamped.calls("POST")
    assert post.path == "/api/v2/270392/dashboard/customers/add"
    assert stack.ipaas.link(STAMPED_SYSTEM_ID, "customer", "1") == created["external_id"]
    assert stack.messages(DLQ) == []


def test_linked_customer_is_updated_by_its_id(stack):
    existing = stack.stamped.add_customer("old@example.com", firstName="Old")
    stack.ipaas.set_link(STAMPED_SYSTEM_ID, "customer", "2", str(existing["id"]))
    add_customer(stack, "2", first_name="Grace")
    stack.send(Q, note("2", scope="customer/updated"))
    stack.drain()
    [post] = stack.stamped.calls("POST")
    assert post.path == f"/api/v2/270392/dashboard/customers/{existing['id']}"
    assert stack.stamped.customers[str(existing["id"])]["firstName"] == "Grace"
    assert [o["status"] for o in stack.outcomes()] == ["updated"] and len(stack.stamped.customers) == 1


def test_create_for_an_existing_email_updates_that_customer_and_links_it(stack):
    existing = stack.stamped.add_customer("ADA3@example.com", firstName="A.")
    add_customer(stack, "3")
    stack.send(Q, note("3"))
    stack.drain()
    assert len(stack.stamped.customers) == 1
    assert stack.stamped.customers[str(existing["id"])]["firstName"] == "Ada"
    assert stack.ipaas.link(STAMPED_SYSTEM_ID, "customer", "3") == str(existing["id"])
    # the next change goes to that customer by its id
    add_customer(stack, "3", last_name="Byron")
    stack.send(Q, note("3", scope="customer/updated"))
    stack.drain()
    assert stack.stamped.calls("POST")[-1].path.endswith(f"/dashboard/customers/{existing['id']}")
    assert stack.stamped.customers[str(existing["id"])]["lastName"] == "Byron"


def test_wrong_private_key_is_a_configuration_error_and_never_logged(make_stack, log_output):
    stack = make_stack(subscription_overrides={SECRET: {"API Private Key": "key-WRONG-0001", "API Password": "key-WRONG-0001"}})
    add_customer(stack, "4")
    stack.send(Q, note("4"))
    stack.drain()
    [msg] = dlq_reasons(stack, DLQ)
    assert msg["ipaas.error"] == "configuration:ConfigurationError"
    assert "Stamped.io rejected the credentials (HTTP 401)" in msg["ipaas.reason"]
    assert "key-WRONG-0001" not in log_output.getvalue() and stack.stamped.customers == {}


def test_api_password_that_differs_from_the_private_key_is_named(make_stack, log_output):
    stack = make_stack(subscription_overrides={SECRET: {"API Password": "key-OTHER-0002"}})
    add_customer(stack, "5")
    stack.send(Q, note("5"))
    stack.drain()
    [msg] = dlq_reasons(stack, DLQ)
    assert msg["ipaas.error"].startswith("configuration:")
    assert "setting 'API Password' differs from 'API Private Key'" in msg["ipaas.reason"]
    assert "key-OTHER-0002" not in msg["ipaas.reason"] + log_output.getvalue()
    assert stack.stamped.requests == []


def test_deletes_are_skipped(stack):
    stack.send(Q, note("6", scope="customer/deleted"))
    stack.drain()
    [skipped] = stack.outcomes("skipped")
    assert "no customer delete" in skipped["reason"] and stack.stamped.requests == []
