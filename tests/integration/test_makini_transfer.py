"""The real CustomerTransferFunction on the Makini queue, against moto and the iPaaS.com / Makini sandboxes."""

from __future__ import annotations

from sandbox.makini import MakiniSandbox
from sandbox.stack import MAKINI_SYSTEM_ID

from .conftest import add_customer, dlq_reasons, notification

Q, DLQ = "CustomerMakiniQueue", "CustomerMakiniDLQ"
SECRET = "MakiniSubscriptionSecret"


def note(id_, **kw):
    return notification(id_, destination=MAKINI_SYSTEM_ID, **kw)


def test_existence_check_then_create_with_name_code_company_and_link(stack):
    add_customer(stack, "1", first_name="Grace", last_name="Hopper")
    stack.send(Q, note("1"))
    stack.drain()
    [created] = stack.outcomes("created")
    [record] = stack.makini.customers.values()
    assert record == {"key": created["external_id"], "name": "Grace Hopper", "code": "C-1", "companyKey": "07000268162057"}
    [check] = stack.makini.calls("GET", "/api/wms/customers")
    assert check.query["filter[code]"] == ["C-1"] and check.query["page"] == ["1"]
    assert [c.method for c in stack.makini.requests] == ["GET", "POST"]
    assert stack.ipaas.link(MAKINI_SYSTEM_ID, "customer", "1") == created["external_id"]


def test_existing_customer_found_by_paging_is_linked_not_created(make_stack):
    stack = make_stack(partners={"makini": MakiniSandbox(honour_filters=False)})
    for n in range(150):
        stack.makini.add_customer(f"OTHER-{n}")
    existing = stack.makini.add_customer("C-2", name="Ada L.")
    add_customer(stack, "2")
    stack.send(Q, note("2"))
    stack.drain()
    [linked] = stack.outcomes("linked")
    assert linked["external_id"] == existing["key"] and "nothing created" in linked["reason"]
    assert [c.query["page"][0] for c in stack.makini.calls("GET")] == ["1", "2"]
    assert stack.makini.calls("POST") == [] and len(stack.makini.customers) == 151
    assert stack.ipaas.link(MAKINI_SYSTEM_ID, "customer", "2") == existing["key"]


def test_linked_customer_is_skipped_since_makini_has_no_customer_update(stack):
    existing = stack.makini.add_customer("C-3")
    stack.ipaas.set_link(MAKINI_SYSTEM_ID, "customer", "3", existing["key"])
    add_customer(stack, "3")
    stack.send(Q, note("3", scope="customer/updated"))
    stack.drain()
    [skipped] = stack.outcomes("skipped")
    assert "Makini's customer API has no update" in skipped["reason"] and existing["key"] in skipped["reason"]
    assert stack.makini.requests == []


def test_lost_reply_is_healed_by_the_existence_check_without_a_second_create(stack):
    add_customer(stack, "4")
    stack.makini.faults.malformed(1, path="/api/wms/customers", method="POST")  # applied, reply broken
    stack.send(Q, note("4"))
    stack.drain()
    assert [o["status"] for o in stack.outcomes()] == ["retrying", "linked"]
    assert len(stack.makini.customers) == 1 and len(stack.makini.calls("POST")) == 1
    [record] = stack.makini.customers.values()
    assert stack.ipaas.link(MAKINI_SYSTEM_ID, "customer", "4") == record["key"]


def test_rejected_token_says_reconnect_for_a_new_token(make_stack, log_output):
    stack = make_stack(subscription_overrides={SECRET: {"API Token": "makini-OLD-token-1"}})
    add_customer(stack, "5")
    stack.send(Q, note("5"))
    stack.drain()
    [msg] = dlq_reasons(stack, DLQ)
    assert msg["ipaas.error"] == "configuration:ConfigurationError"
    assert "Makini rejected the token (HTTP 401)" in msg["ipaas.reason"]
    assert "a changed credential means reconnecting for a new token" in msg["ipaas.reason"]
    assert "makini-OLD-token-1" not in log_output.getvalue()


def test_batch_writes_are_paced_and_each_failure_is_its_own(make_stack):
    # the test limits keep the shared limit far above the pacing, so that the pause between batches is what the POST
    # times show (the limiter spaces requests evenly: at Makini's assumed 100 per minute, two writes with a read between
    # are 1.2 s apart)
    stack = make_stack(subscription_overrides={SECRET: {"Batch Size": 2, "Batch Delay Seconds": 1}})
    ids = ["11", "12", "13", "14", "15"]
    for id_ in ids:
        add_customer(stack, id_, customer_number=None if id_ == "13" else f"C-{id_}")
    stack.makini.add_customer("C-14", name="Someone else")  # 14 exists already: linked, no write
    stack.makini.faults.fail(1, status=422, path="/api/wms/customers", method="POST")  # the first write is refused
    for id_ in ids:
        stack.send(Q, note(id_))
    stack.drain()
    by_record = {o["record_id"]: o for o in stack.outcomes() if o["status"] != "failed"}
    assert by_record["13"]["status"] == "dead-lettered" and "'customer_number'" in by_record["13"]["reason"]
    assert by_record["14"]["status"] == "linked"
    refused = [r for r, o in by_record.items() if o["status"] == "dead-lettered" and r != "13"]
    assert len(refused) == 1 and "HTTP 422" in by_record[refused[0]]["reason"]
    assert sorted(r for r, o in by_record.items() if o["status"] == "created") == sorted(set(ids) - {"13", "14", refused[0]})
    reasons = sorted(m["ipaas.reason"][:40] for m in dlq_reasons(stack, DLQ))
    assert len(reasons) == 2
    posts = [c.at for c in stack.makini.calls("POST")]
    assert len(posts) == 3  # 2 in the first batch (one refused), the third after the pause
    assert posts[2] - posts[1] >= 0.9 and posts[1] - posts[0] < 0.9, posts


def test_makini_429_with_retry_after_is_waited_and_nothing_is_duplicated(stack):
    # Makini answers 429 + Retry-After twice (the sandbox's own rate limit answers the same way: see
    # test_partner_adapters); the client waits it out, tells the shared limiter, and goes on
    stack.makini.faults.throttle(2, retry_after=1, path="/api/wms/customers")
    for n in range(3):
        add_customer(stack, str(20 + n))
        stack.send(Q, note(str(20 + n)))
    stack.drain()
    throttled = stack.makini.calls(status=429)
    assert len(throttled) == 2
    last_ok = max(c.at for c in stack.makini.requests if c.status == 200)
    assert last_ok - throttled[0].at >= 0.9  # the throttled call was retried after Retry-After, not at once
    # records that found the limiter blocked by the 429's Retry-After were deferred (not failed), then created
    assert (
        sorted(o["status"] for o in stack.outcomes() if o["status"] not in ("failed", "retrying", "deferred")) == ["created"] * 3
    )
    assert len(stack.makini.customers) == 3 and stack.messages(DLQ) == []
