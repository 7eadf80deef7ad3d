"""99minds -> iPaaS.com through the real ingress, queue and LoyaltyTransferFunction (issue 12's list).

Every test goes in where 99minds does: its webhook on POST /hooks/99minds/{iPaaS System Id} (the 99minds sandbox
sends it after a change, or the test posts it), then the real handler fetches the record from the 99minds
sandbox and writes into the iPaaS.com sandbox, which keeps every write exactly as sent.
"""

from __future__ import annotations

import copy
import os

import pytest

from ipaas_sync.destinations.ninetynine_minds.to_ipaas.transfer import LOST_ANSWER_RECOGNISED
from ipaas_sync.runtime import ledger
from sandbox.pipeline import transaction
from sandbox.stack import NINETYNINE_SYSTEM_ID

from .conftest import add_customer, dlq_reasons, replay_dlq

Q, DLQ = "FromNinetyNineMindsQueue", "FromNinetyNineMindsDLQ"
STORE = "store_b81a893dc2bc6e1a5d"
POINTS, TYPE, CARD = "99minds Loyalty Points", "99minds Loyalty Transaction Type", "99minds Loyalty Card Id"


def ninetynine_customer(stack, ipaas_id: str = "42", *, linked: bool = True) -> str:
    """A customer in both systems (as the FROM-iPaaS customer transfer leaves it), with its loyalty card."""
    customer_id = f"customer_{ipaas_id}"
    add_customer(stack, ipaas_id)
    stack.ninetynine.customers[customer_id] = {
        "id": customer_id,
        "email": f"ada{ipaas_id}@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "customer_number": f"C-{ipaas_id}",
        "store_ref_id": STORE,
    }
    stack.ninetynine.card_of(customer_id)
    if linked:
        stack.ipaas.set_link(NINETYNINE_SYSTEM_ID, "customer", ipaas_id, customer_id)
    return customer_id


def order(id_: str = "9001", number: str = "SO-1001") -> dict:
    """A completed order of customer 42 (the demo's, sandbox.pipeline.transaction) with a custom field of its own."""
    return transaction(
        id_,
        number,
        "42",
        total="120.00",
        custom_fields=[{"custom_field_name": "Gift Wrap", "value": "yes"}],
        lines=[
            {"id": f"{id_}1", "sku": "MUG-01", "qty": "2", "unit_price": "30"},
            {"id": f"{id_}2", "sku": "TEE-01", "qty": "1", "unit_price": "60"},
        ],
    )


def fields_of(record: dict) -> dict[str, str]:
    return {f["custom_field_name"]: f["value"] for f in record.get("custom_fields") or []}


def tickets(stack) -> list[dict]:
    return [r for r in stack.ipaas.records["transactions"].values() if r.get("type") == "Ticket"]


def ipaas_writes(stack) -> list[tuple[str, str, str]]:
    return [(w["method"], w["area"], w["id"]) for w in stack.ipaas.writes]


def ninetynine_writes(stack) -> list:
    return stack.ninetynine.calls("POST")


def drain(stack) -> None:
    stack.drain(functions=["LoyaltyTransferFunction"])


# -- earn on an order: the points land on that order, nothing else of it changes ---------------------------------
def test_points_earned_by_an_order_land_on_that_order_and_nothing_else_changes(stack):
    customer_id = ninetynine_customer(stack)
    before = copy.deepcopy(stack.ipaas.put("transactions", order()))
    stack.connect_99minds_webhooks()
    assert (
        stack.post_hook([{"scope": "transaction/created", "id": "9001", "destination": NINETYNINE_SYSTEM_ID}]).status_code == 202
    )
    stack.drain()  # the order workflow (FROM iPaaS.com), then the loyalty webhook it caused (TO iPaaS.com)
    [earn] = [t for t in stack.ninetynine.loyalty_transactions.values() if t["transaction_type"] == "earn"]
    assert earn["client_order_id"] == "SO-1001" and earn["transaction_amount"] == "120"
    assert {"event": "loyalty_transaction/created", "id": earn["id"], "status": 202} in stack.ninetynine.webhooks

    after = stack.ipaas.records["transactions"]["9001"]
    assert fields_of(after) == {
        "Gift Wrap": "yes",
        POINTS: "120",
        TYPE: "earn",
        CARD: stack.ninetynine.card_of(customer_id)["id"],
    }
    assert {k: v for k, v in after.items() if k != "custom_fields"} == {
        k: v for k, v in before.items() if k != "custom_fields"
    }  # lines, totals, status: as they were
    assert tickets(stack) == []
    assert stack.ipaas.link(NINETYNINE_SYSTEM_ID, "transaction", "9001") != "99minds" + earn["id"]
    [outcome] = [
        o for o in stack.outcomes("updated") if o["entity"] == "loyalty" and o["details"]["kind"] == "loyalty_transaction"
    ]
    assert outcome["details"]["target"] == "order" and outcome["external_id"] == "9001"
    assert stack.messages(DLQ) == []


# -- manual adjustment and redemption in 99minds (no order): a Ticket ----------------------------------------------
def test_a_manual_adjustment_becomes_a_linked_ticket(stack):
    customer_id = ninetynine_customer(stack)
    txn = stack.ninetynine.adjust_points(customer_id, 25)
    assert stack.post_99minds_hook("loyalty_transaction/created", txn["id"]).status_code == 202
    drain(stack)
    [ticket] = tickets(stack)
    number = "99minds" + txn["id"]
    assert (ticket["transaction_number"], ticket["status"], ticket["customer_id"]) == (number, "Complete", "42")
    assert fields_of(ticket) == {POINTS: "25", TYPE: "adjustment", CARD: txn["card_id"]}
    assert stack.ipaas.link(NINETYNINE_SYSTEM_ID, "transaction", ticket["id"]) == number
    [created] = stack.outcomes("created")
    assert created["details"]["transaction_number"] == number and created["record_id"] == txn["id"]


def test_a_redemption_becomes_a_ticket_with_negative_points(stack):
    customer_id = ninetynine_customer(stack)
    txn = stack.ninetynine.redeem_points(customer_id, 40)
    stack.post_99minds_hook("loyalty_transaction/created", txn["id"])
    drain(stack)
    [ticket] = tickets(stack)
    assert fields_of(ticket)[POINTS] == "-40" and fields_of(ticket)[TYPE] == "redeem"


def test_a_reversal_is_skipped_with_the_reason(stack):
    customer_id = ninetynine_customer(stack)
    txn = stack.ninetynine.adjust_points(customer_id, -10, kind="reversal")
    stack.post_99minds_hook("loyalty_transaction/created", txn["id"])
    drain(stack)
    [skipped] = stack.outcomes("skipped")
    assert "reversal is not transferred" in skipped["reason"] and stack.ipaas.writes == []


# -- unresolvable customer: DLQ, then replay after the customer is linked -------------------------------------------
def test_an_unresolvable_customer_waits_in_the_dlq_and_a_replay_completes_it(stack):
    customer_id = ninetynine_customer(stack, linked=False)
    txn = stack.ninetynine.adjust_points(customer_id, 5)
    stack.post_99minds_hook("loyalty_transaction/created", txn["id"])
    drain(stack)
    [parked] = dlq_reasons(stack, DLQ)
    assert parked["ipaas.reason"].startswith(f"Unable to resolve customer {customer_id}")
    assert parked["ipaas.error"] == "permanent:UnresolvedReference" and tickets(stack) == []
    stack.ipaas.set_link(NINETYNINE_SYSTEM_ID, "customer", "42", customer_id)
    assert replay_dlq(stack, DLQ, Q) == 1
    drain(stack)
    [ticket] = tickets(stack)
    assert ticket["customer_id"] == "42" and stack.messages(DLQ) == []


# -- exactly once ------------------------------------------------------------------------------------------------
def test_a_duplicate_webhook_and_a_replay_with_a_new_message_id_write_once(stack):
    customer_id = ninetynine_customer(stack)
    txn = stack.ninetynine.adjust_points(customer_id, 7)
    stack.post_99minds_hook("loyalty_transaction/created", txn["id"])
    stack.post_99minds_hook("loyalty_transaction/updated", txn["id"])
    drain(stack)
    stack.send(
        Q, {"kind": "loyalty_transaction", "id": txn["id"], "destination": NINETYNINE_SYSTEM_ID, "event": "manual_sync"}
    )  # a new message id, as after a DLQ replay
    drain(stack)
    assert len(tickets(stack)) == 1
    assert [w[0] for w in ipaas_writes(stack)] == ["POST"]
    assert sorted(o["status"] for o in stack.outcomes() if o["entity"] == "loyalty") == ["created", "duplicate", "duplicate"]


@pytest.mark.parametrize("nested_links", [True, False], ids=["link-nested-in-create", "link-not-kept"])
def test_a_ticket_create_whose_reply_was_lost_makes_one_ticket(stack, nested_links):
    """The redelivery finds the Ticket by its link (nested in the create), or else by its TransactionNumber."""
    customer_id = ninetynine_customer(stack)
    stack.ipaas.nested_external_ids = nested_links
    txn = stack.ninetynine.adjust_points(customer_id, 9)
    stack.ipaas.faults.malformed(1, path="/transactions/v2/Transaction", method="POST")  # applied, reply lost
    stack.post_99minds_hook("loyalty_transaction/created", txn["id"])
    drain(stack)
    [ticket] = tickets(stack)
    assert stack.ipaas.link(NINETYNINE_SYSTEM_ID, "transaction", ticket["id"]) == "99minds" + txn["id"]
    outcomes = [o for o in stack.outcomes() if o["entity"] == "loyalty"]
    # the truth: the first attempt created the Ticket, the retry recognised it (before: "skipped" / "linked")
    assert [o["status"] for o in outcomes] == ["retrying", "created"]
    assert outcomes[1]["reason"] == LOST_ANSWER_RECOGNISED and outcomes[1]["details"]["recovered"] is True
    assert outcomes[1]["external_id"] == ticket["id"]
    assert [w[0] for w in ipaas_writes(stack)] == ["POST"]
    [item] = ledger.Ledger(os.environ["LEDGER_TABLE"]).items("loyalty", txn["id"])
    assert item["status"] == "created" and item["external_id"] == ticket["id"]
    assert [h["s"] for h in item["history"]] == ["retrying", "created"] and "recognised" in item["history"][1]["r"]


def test_a_ticket_found_without_a_lost_answer_is_not_reported_as_created(stack):
    """A Ticket with this transaction's number that no attempt of ours left pending (made elsewhere, or by a
    delivery whose answer was read) is linked, as before: only a lost answer of ours is recognised as created."""
    customer_id = ninetynine_customer(stack)
    stack.ipaas.nested_external_ids = False
    txn = stack.ninetynine.adjust_points(customer_id, 9)
    stack.ipaas.put("transactions", {"id": "777", "transaction_number": "99minds" + txn["id"], "type": "Ticket"})
    stack.post_99minds_hook("loyalty_transaction/created", txn["id"])
    drain(stack)
    [outcome] = [o for o in stack.outcomes() if o["entity"] == "loyalty"]
    assert outcome["status"] == "linked" and outcome["external_id"] == "777"


def test_a_real_update_of_the_same_transaction_goes_through(stack):
    customer_id = ninetynine_customer(stack)
    txn = stack.ninetynine.adjust_points(customer_id, 3)
    stack.post_99minds_hook("loyalty_transaction/created", txn["id"])
    drain(stack)
    stack.ninetynine.loyalty_transactions[txn["id"]]["transaction_amount"] = "4"
    stack.post_99minds_hook("loyalty_transaction/updated", txn["id"])
    drain(stack)
    [ticket] = tickets(stack)
    assert fields_of(ticket)[POINTS] == "4" and [w[0] for w in ipaas_writes(stack)] == ["POST", "PUT"]


def test_a_transaction_without_amount_or_type_is_rejected_naming_the_field(stack):
    customer_id = ninetynine_customer(stack)
    txn = stack.ninetynine.adjust_points(customer_id, 3)
    del stack.ninetynine.loyalty_transactions[txn["id"]]["transaction_amount"]
    stack.post_99minds_hook("loyalty_transaction/created", txn["id"])
    drain(stack)
    [parked] = dlq_reasons(stack, DLQ)
    assert parked["ipaas.reason"] == f"99minds loyalty transaction {txn['id']}: missing required field 'TransactionAmount'"
    assert parked["ipaas.error"] == "permanent:InvalidRecord" and stack.ipaas.writes == []


# -- the ingress ----------------------------------------------------------------------------------------------------
def test_a_wrong_key_is_401_with_no_hint_and_nothing_is_queued(stack):
    for reply in (
        stack.post_99minds_hook("customer/created", "customer_1", key="wrong-key-0000000000000"),
        stack.post_99minds_hook("customer/created", "customer_1", path="/hooks/99minds/9999"),
        stack.post_99minds_hook("customer/created", "customer_1", path="/hooks/99minds/2001"),
    ):
        assert (reply.status_code, reply.json()) == (401, {"message": "Unauthorized"})
        assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    assert stack.messages(Q) == []


def test_an_unknown_event_is_accepted_and_recorded_as_skipped(stack, log_output):
    reply = stack.post_99minds_hook("tier/changed", "tier_01901310df875def01")
    assert (reply.status_code, reply.json()) == (202, {"accepted": 0, "skipped": 1})
    assert stack.messages(Q) == []
    assert "99minds event 'tier/changed' is not transferred; skipped" in log_output.getvalue()


def test_a_webhook_without_a_record_id_is_400_naming_the_location(stack):
    reply = stack.post_99minds_hook("customer/created", "", body='{"scope": "customer/created"}')
    assert reply.status_code == 400 and reply.json()["field"] == "body:$.external_id"
    too_big = stack.post_99minds_hook("customer/created", "x", body="{" + " " * 300_000 + "}")
    assert too_big.status_code == 413


def test_the_locations_are_the_subscriptions_settings(make_stack):
    stack = make_stack(
        subscription_overrides={
            "NinetyNineMindsWebhookKeySecret": {
                "Webhook Key Location": "header:X-99minds-Key",
                "Webhook Event Location": "url:1",
                "Webhook Record Id Location": "body:$.data.id",
            }
        }
    )
    import requests

    reply = requests.post(
        f"{stack.ninetynine_hook_url}/customer%2Fupdated",
        json={"data": {"id": "customer_7"}},
        headers={"X-99minds-Key": stack.webhook_key},
        timeout=10,
    )
    assert reply.status_code == 202, reply.text
    [queued] = stack.messages(Q)
    assert '"kind":"customer"' in queued["Body"] and '"id":"customer_7"' in queued["Body"]


# -- customers ----------------------------------------------------------------------------------------------------
def test_a_customer_made_in_99minds_is_created_in_ipaas_with_its_loyalty_data_and_linked(stack):
    stack.connect_99minds_webhooks()
    assert stack.ninetynine._upsert_customer(
        {},
        {"email": "Grace@Example.com", "first_name": "Grace", "last_name": "Hopper", "phone": "+15550100", "store_ref_id": STORE},
    )
    [customer_id] = list(stack.ninetynine.customers)
    drain(stack)
    [created] = stack.ipaas.writes_to("customers")
    body = created["body"]
    assert (body["first_name"], body["last_name"], body["email_address"], body["customer_number"], body["phone_number"]) == (
        "Grace",
        "Hopper",
        "grace@example.com",
        customer_id,
        "+15550100",
    )
    assert fields_of(body) == {CARD: stack.ninetynine.card_of(customer_id)["id"], "99minds Points Balance": "0"}
    assert stack.ipaas.link(NINETYNINE_SYSTEM_ID, "customer", created["id"]) == customer_id


def test_a_customer_update_changes_only_the_loyalty_fields(stack):
    customer_id = ninetynine_customer(stack)
    stack.ipaas.records["customers"]["42"]["custom_fields"] = [{"custom_field_name": "VIP", "value": "gold"}]
    before = copy.deepcopy(stack.ipaas.records["customers"]["42"])
    stack.ninetynine.customers[customer_id]["first_name"] = "Augusta"  # identity in iPaaS.com is kept
    stack.ninetynine.card_of(customer_id)["balance"] = "310"
    stack.post_99minds_hook("customer/updated", customer_id)
    drain(stack)
    after = stack.ipaas.records["customers"]["42"]
    assert fields_of(after) == {"VIP": "gold", CARD: stack.ninetynine.card_of(customer_id)["id"], "99minds Points Balance": "310"}
    assert {k: v for k, v in after.items() if k != "custom_fields"} == {k: v for k, v in before.items() if k != "custom_fields"}


def test_a_customer_without_email_is_rejected_naming_the_field(stack):
    stack.ninetynine.customers["customer_x"] = {"id": "customer_x", "first_name": "No", "last_name": "Mail"}
    stack.post_99minds_hook("customer/created", "customer_x")
    drain(stack)
    [parked] = dlq_reasons(stack, DLQ)
    assert parked["ipaas.reason"] == "99minds customer customer_x: missing required field 'email'"


def test_a_customer_delete_is_skipped(stack):
    stack.post_99minds_hook("customer/deleted", "customer_x")
    drain(stack)
    [skipped] = stack.outcomes("skipped")
    assert "deletes in 99minds are not transferred" in skipped["reason"] and stack.ninetynine.requests == []


# -- no echo loop -------------------------------------------------------------------------------------------------
def test_one_99minds_change_makes_its_ipaas_writes_and_no_99minds_write_comes_back(stack):
    """Through both ingress routes: a redemption in 99minds -> webhooks (loyalty transaction, customer) -> a
    Ticket and the customer's points in iPaaS.com -> iPaaS.com's outbound hooks for those writes -> our FROM
    flows, which write nothing to 99minds (a Ticket never reaches the order workflow; the customer is content
    99minds already has)."""
    customer_id = ninetynine_customer(stack)
    stack.connect_99minds_webhooks()
    stack.ninetynine.card_of(customer_id)["balance"] = "100"
    txn = stack.ninetynine.redeem_points(customer_id, 30)
    drain(stack)
    assert sorted(ipaas_writes(stack)) == sorted([("POST", "transactions", tickets(stack)[0]["id"]), ("PUT", "customers", "42")])
    assert fields_of(stack.ipaas.records["customers"]["42"])["99minds Points Balance"] == "70"
    writes_before = len(ninetynine_writes(stack))
    reply = stack.forward_ipaas_hooks()
    assert reply is not None and reply.status_code == 202 and reply.json()["accepted"] == 2
    stack.drain()
    assert len(ninetynine_writes(stack)) == writes_before == 0
    assert stack.forward_ipaas_hooks() is None  # and nothing more was written into iPaaS.com
    skipped = {o["entity"]: o["reason"] for o in stack.outcomes("skipped") if o["entity"] != "loyalty"}
    assert "type 'Ticket'" in skipped["transaction"] and "already has this content" in skipped["customer"]
    assert txn["id"] in tickets(stack)[0]["transaction_number"]
    # both directions' calls to 99minds took one shared limiter (99minds counts per IP), iPaaS.com calls another
    from urllib.parse import urlparse

    import boto3

    items = boto3.client("dynamodb").scan(TableName=stack.deployment.physical["ThrottleTable"]["Ref"])["Items"]
    assert {i["pk"]["S"].rsplit("#", 1)[0] for i in items} == {
        f"99minds:{urlparse(stack.ninetynine.url).netloc}",
        f"ipaas:{urlparse(stack.ipaas.url).netloc}",
    }


# -- manual sync ------------------------------------------------------------------------------------------------
def test_manual_sync_by_99minds_id_queues_what_a_webhook_would_and_transfers_it(stack, capsys):
    from ipaas_sync.tools.cli import main

    customer_id = ninetynine_customer(stack)
    txn = stack.ninetynine.adjust_points(customer_id, 12)
    stack.ninetynine.card_of(customer_id)["balance"] = "12"
    assert main(["sync", "--source", "99minds", "--id", txn["id"], "--id", customer_id, "--stack", "ipaas-sync-local"]) == 0
    out = capsys.readouterr().out
    assert (
        f"enqueued 2 99minds record(s) (1 customer(s), 1 loyalty transaction(s)) for iPaaS.com, subscription "
        f"{NINETYNINE_SYSTEM_ID}"
        in out
        and f": {txn['id']}, {customer_id}" in out
    )
    drain(stack)
    assert fields_of(tickets(stack)[0])[POINTS] == "12"
    assert fields_of(stack.ipaas.records["customers"]["42"])["99minds Points Balance"] == "12"
    assert {o["details"]["event"] for o in stack.outcomes() if o["entity"] == "loyalty"} == {"manual_sync"}


def test_manual_sync_refuses_an_id_of_unknown_kind_and_a_non_99minds_destination(stack, capsys):
    from ipaas_sync.tools.cli import main

    assert main(["sync", "--source", "99minds", "--id", "tier_0190", "--stack", "ipaas-sync-local"]) == 1
    assert "cannot tell the kind" in capsys.readouterr().err
    assert (
        main(["sync", "--source", "99minds", "--id", "customer_1", "--destination", "2001", "--stack", "ipaas-sync-local"]) == 1
    )
    assert "not a 99minds one" in capsys.readouterr().err
    assert stack.messages(Q) == []


# -- events/ for `sam local invoke` -----------------------------------------------------------------------------
def test_sample_events(stack):
    import json
    from pathlib import Path

    from sandbox.serve import EVENT_CUSTOMER, EVENT_TRANSACTION, seed_loyalty_event_records

    events = Path(__file__).resolve().parents[2] / "events"
    add_customer(stack, "501")
    seed_loyalty_event_records(stack)
    hook = json.loads((events / "hook_request_99minds.json").read_text())
    hook["headers"]["authorization"] = f"Bearer {stack.webhook_key}"
    assert stack.invoke("HookIngressFunction", hook)["statusCode"] == 202
    [queued] = stack.messages(Q)
    assert json.loads(queued["Body"])["id"] == EVENT_TRANSACTION
    for name in ("loyalty_transaction", "loyalty_customer"):
        event = json.loads((events / f"{name}.json").read_text())
        assert stack.invoke("LoyaltyTransferFunction", event) == {"batchItemFailures": []}
    assert {o["record_id"]: o["status"] for o in stack.outcomes()} == {EVENT_TRANSACTION: "created", EVENT_CUSTOMER: "updated"}
    assert fields_of(stack.ipaas.records["customers"]["501"])["99minds Points Balance"] == "250"


def test_partner_outages_are_retried_and_end_in_one_write(stack):
    customer_id = ninetynine_customer(stack)
    txn = stack.ninetynine.adjust_points(customer_id, 8)
    stack.ninetynine.faults.fail(4, status=503, path="/api/v1/ipaas/loyaltycards/transactions/")  # past in-call retries
    stack.ipaas.faults.fail(4, status=503, path="/transactions/v2/Transactions")
    stack.ipaas.faults.throttle(1, retry_after=1, path="/transactions/v2/Transaction", method="POST")
    stack.post_99minds_hook("loyalty_transaction/created", txn["id"])
    drain(stack)
    assert len(tickets(stack)) == 1 and [w[0] for w in ipaas_writes(stack)] == ["POST"]
    statuses = [o["status"] for o in stack.outcomes() if o["entity"] == "loyalty"]
    assert statuses[-1] == "created" and set(statuses[:-1]) <= {"retrying"} and stack.messages(DLQ) == []


# -- the ledger answers for this direction too (issue 23, defect 2) ------------------------------------------------
def test_status_answers_by_the_99minds_id_and_by_the_ipaas_id_and_report_counts_each_kind(stack, capsys):
    from ipaas_sync.tools.cli import main

    customer_id = ninetynine_customer(stack)
    txn = stack.ninetynine.adjust_points(customer_id, 7)
    order_txn = stack.ninetynine.adjust_points(customer_id, 5)
    stack.ipaas.put("transactions", order())
    stack.ninetynine.loyalty_transactions[order_txn["id"]]["client_order_id"] = "SO-1001"  # points earned by that order
    stack.post_99minds_hook("loyalty_transaction/created", txn["id"])
    stack.post_99minds_hook("loyalty_transaction/created", order_txn["id"])
    stack.post_99minds_hook("customer/updated", customer_id)
    drain(stack)
    [ticket] = tickets(stack)
    capsys.readouterr()

    # by the id the 99minds operator holds
    assert main(["status", "--source", "99minds", "--id", txn["id"]]) == 0
    out = capsys.readouterr().out
    assert f"99minds loyalty transaction {txn['id']} -> destination {NINETYNINE_SYSTEM_ID}: created" in out
    assert f"into iPaaS.com transaction {ticket['id']}" in out
    # by the iPaaS.com id: the Ticket, the order the points landed on, the customer
    assert main(["status", "--entity", "transaction", "--id", ticket["id"]]) == 0
    assert f"99minds loyalty transaction {txn['id']} -> destination" in capsys.readouterr().out
    assert main(["status", "--entity", "transaction", "--id", "9001"]) == 0
    assert f"99minds loyalty transaction {order_txn['id']} -> destination" in capsys.readouterr().out
    assert main(["status", "--entity", "customer", "--id", "42"]) == 0
    out = capsys.readouterr().out
    assert f"99minds customer {customer_id} -> destination {NINETYNINE_SYSTEM_ID}" in out
    assert "into iPaaS.com customer 42" in out
    # report: each kind of this direction counted apart
    assert main(["report", "--since", "1h"]) == 0
    out = capsys.readouterr().out
    assert "99minds loyalty transaction" in out and "99minds customer" in out
