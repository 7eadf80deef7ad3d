"""The real InvoiceTransferFunction against moto and the iPaaS.com / 99minds sandboxes.

The seed's six test scenarios (99minds-order-completed-workflow-mapping.txt, "Test Scenarios") and its
validation checklist, each as a test named after it.
"""

from __future__ import annotations

import json
from pathlib import Path
from unittest.mock import ANY

import boto3
import pytest

from sandbox.pipeline import transaction
from sandbox.stack import NINETYNINE_SYSTEM_ID

from .conftest import dlq_reasons, json_lines, notification

Q, DLQ = "TransactionNinetyNineMindsQueue", "TransactionNinetyNineMindsDLQ"
WORKFLOW = "/api/v1/ipaas/workflows/execute"
STORE = "store_b81a893dc2bc6e1a5d"


def add_customer(stack, ipaas_id: str = "42", *, linked: bool = True, in_99minds: bool = True) -> str:
    """A customer already transferred: in 99minds and linked in iPaaS.com (either can be switched off)."""
    customer_id = f"customer_{ipaas_id}"
    if in_99minds:
        stack.ninetynine.customers[customer_id] = {"id": customer_id, "email": f"c{ipaas_id}@example.com", "store_ref_id": STORE}
    if linked:
        stack.ipaas.set_link(NINETYNINE_SYSTEM_ID, "customer", ipaas_id, customer_id)
    return customer_id


def txn(id_: str, number: str, **kw) -> dict:
    """A completed order of customer 42 (the demo's, sandbox.pipeline.transaction), its lines priced."""
    lines = [
        {"id": f"{id_}1", "sku": "MUG-01", "qty": "2", "unit_price": "30"},
        {"id": f"{id_}2", "sku": "TEE-01", "qty": "1", "unit_price": "30"},
    ]
    return transaction(id_, number, kw.pop("customer_id", "42"), **{"lines": lines, **kw})


def put(stack, record: dict) -> dict:
    return stack.ipaas.put("transactions", record)


def note(id_: str, scope: str = "transaction/created", **kw) -> dict:
    return notification(id_, scope=scope, **kw)


def posts(stack, status: int | None = None):
    return stack.ninetynine.calls("POST", WORKFLOW, status=status)


def statuses(stack) -> list[str]:
    return [o["status"] for o in stack.outcomes() if o["status"] != "failed"]


def clear_idempotency_store(stack) -> None:
    """As if our idempotency records had expired (TTL): only 99minds' own de-duplication is left."""
    ddb = boto3.client("dynamodb")
    table = stack.deployment.physical["IdempotencyTable"]["Ref"]
    for item in ddb.scan(TableName=table)["Items"]:
        ddb.delete_item(TableName=table, Key={"id": item["id"]})


# -- seed scenario 1: Completed Order Sync ------------------------------------------------------------------
def test_completed_order_sync(stack):
    customer_id = add_customer(stack)
    put(stack, txn("9001", "SO-1001"))
    stack.send(Q, note("9001"))
    stack.drain()
    [sent] = stack.outcomes("sent")
    execution = stack.ninetynine.executions["SO-1001"]
    assert execution["trigger"] == "order_paid" and execution["customer_id"] == customer_id
    assert (
        execution["total_price"],
        execution["subtotal_price"],
        execution["total_quantity"],
        execution["loyalty_points_claimed"],
    ) == (99.5, 90, 3, 150)
    # the execution is linked to the transaction in iPaaS.com
    assert sent["external_id"] == execution["id"]
    assert stack.ipaas.link(NINETYNINE_SYSTEM_ID, "transaction", "9001") == execution["id"]
    [link] = stack.ipaas.calls("POST", "/transactions/v2/External/UpdateExternalId")
    assert link.body["tracking_guid"] == "guid-9001"
    assert sent["details"] == {"transaction_number": "SO-1001", "trigger": "order_paid"}
    assert stack.messages(DLQ) == [] and stack.messages(Q) == []


@pytest.mark.parametrize("shape", ["published", "name", "object"])
def test_loyalty_points_claimed_is_read_in_every_custom_field_shape(stack, shape):
    """iPaaS.com serves custom fields as [{id, custom_field_name, value}] (its published read shape); the older
    shapes are read too. Before, the published shape lost LoyaltyPointsClaimed without a word."""
    add_customer(stack)
    stack.ipaas.custom_field_shape = shape
    put(stack, txn("9001", "SO-1001", custom_fields=[{"custom_field_name": "LoyaltyPointsClaimed", "value": "150"}]))
    served = stack.ipaas.served("transactions", "9001")["custom_fields"]
    assert (
        served
        == {
            "published": [{"id": ANY, "custom_field_name": "LoyaltyPointsClaimed", "value": "150"}],
            "name": [{"name": "LoyaltyPointsClaimed", "value": "150"}],
            "object": {"LoyaltyPointsClaimed": "150"},
        }[shape]
    )
    stack.send(Q, note("9001"))
    stack.drain()
    [_] = stack.outcomes("sent")
    assert stack.ninetynine.executions["SO-1001"]["loyalty_points_claimed"] == 150


# -- seed scenario 2: Validated Return Sync --------------------------------------------------------------
def test_validated_return_sync(stack):
    add_customer(stack)
    put(stack, txn("9001", "SO-1001"))
    put(
        stack,
        txn(
            "9002",
            "RT-1001",
            type="Validated Return",
            transaction_parent_id="9001",
            subtotal="-30.00",
            total="-33.17",
            total_qty="1",
            custom_fields=[{"name": "LoyaltyPointsClaimed", "value": "-50"}],
            lines=[{"id": "90021", "sku": "MUG-01", "qty": "1"}],
        ),
    )
    stack.send(Q, note("9001"))
    stack.drain()
    stack.send(Q, note("9002"))
    stack.drain()
    assert statuses(stack) == ["sent", "sent"]
    ret = stack.ninetynine.executions["RT-1001"]
    assert ret["trigger"] == "order_refunded" and ret["original_order_id"] == "SO-1001"
    assert ret["refund_amount"] == 33.17 and "total_price" not in ret  # the seed's TotalPrice formula: null
    assert ret["subtotal_price"] == -30 and ret["total_quantity"] == 1 and ret["loyalty_points_claimed"] == -50
    assert ret["line_items"] == [{"quantity": 1, "sku": "MUG-01", "line_id": "90021"}]
    # RefundAmount only on the Validated Return, never on the order
    assert "refund_amount" not in stack.ninetynine.executions["SO-1001"]


# -- seed scenario 3: Exclusion Filter Check (and checklist: Order and Return Types, Exclusion Rules) ------
def test_exclusion_filter_check(stack, log_output):
    add_customer(stack)
    samples = {
        "9101": txn("9101", "SO-1101-D"),
        "9102": txn("9102", "SO-1102-GC"),
        "9103": txn("9103", "SO-1103", status="Pending"),
        "9104": txn("9104", "Q-1104", type="Quote"),
    }
    for id_, record in samples.items():
        stack.send(Q, note(id_, record=record))
    stack.send(Q, note("9105", scope="transaction/deleted"))
    stack.drain()
    skipped = {o["record_id"]: o["reason"] for o in stack.outcomes("skipped")}
    assert skipped == {
        "9101": "transaction SO-1101-D: transaction number ends with '-D' (excluded by the filter)",
        "9102": "transaction SO-1102-GC: transaction number ends with '-GC' (excluded by the filter)",
        "9103": "transaction SO-1103: status 'Pending' is not 'Complete'",
        "9104": "transaction Q-1104: type 'Quote' is not one of Order, Validated Return (unsupported transaction type)",
        "9105": "transaction 9105: deletes are not transferred to 99minds (a completed order is not withdrawn)",
    }
    assert stack.ninetynine.requests == [] and stack.ipaas.requests == []  # nothing looked up, nothing sent
    assert stack.messages(DLQ) == [] and stack.messages(Q) == []  # deleted, not failed
    lines = [x for x in json_lines(log_output) if x.get("outcome", {}).get("record_id") == "9102"]
    assert lines and lines[0]["tracking_guid"] == "guid-9102" and lines[0]["outcome"]["status"] == "skipped"


def test_the_filter_is_the_subscriptions_setting(make_stack):
    stack = make_stack(
        subscription_overrides={
            "NinetyNineMindsSubscriptionSecret": {"Transaction Types": ["Order"], "Excluded Transaction Suffixes": ["-X"]}
        }
    )
    add_customer(stack)
    stack.send(Q, note("9201", record=txn("9201", "SO-1201-GC")))
    stack.send(Q, note("9202", record=txn("9202", "SO-1202-X")))
    stack.send(Q, note("9203", record=txn("9203", "RT-1203", type="Validated Return", total="-5")))
    stack.drain()
    assert list(stack.ninetynine.executions) == ["SO-1201-GC"]
    assert sorted(o["record_id"] for o in stack.outcomes("skipped")) == ["9202", "9203"]


# -- seed scenario 4: Customer Resolution Failure (and checklist: Customer Resolution) -------------------------
def test_customer_resolution_failure_then_replay_completes_it(stack, log_output):
    add_customer(stack, "43", linked=False)  # in 99minds, but no link in iPaaS.com
    add_customer(stack, "44", in_99minds=False)  # linked in iPaaS.com, unknown to 99minds
    stack.send(Q, note("9301", record=txn("9301", "SO-1301", customer_id="43")))
    stack.send(Q, note("9302", record=txn("9302", "SO-1302", customer_id="44")))
    stack.drain()
    assert stack.outcomes("sent") == [] and posts(stack) == [] and stack.ninetynine.executions == {}
    dead = {json.loads(m["body"])["id"]: m for m in dlq_reasons(stack, DLQ)}
    assert dead["9301"]["ipaas.error"] == "permanent:UnresolvedReference"
    assert dead["9301"]["ipaas.reason"].startswith(
        "transaction SO-1301: Unable to resolve customer: iPaaS.com customer 43 has no 99minds link"
    )
    assert dead["9302"]["ipaas.reason"].startswith(
        "transaction SO-1302: Unable to resolve customer: 99minds has no customer customer_44"
    )
    assert dead["9302"]["ipaas.tracking_guid"] == "guid-9302"
    logged = [x for x in json_lines(log_output) if x.get("outcome", {}).get("record_id") == "9301"]
    assert logged and logged[0]["tracking_guid"] == "guid-9301" and "Unable to resolve customer" in logged[0]["message"]

    # the customers are transferred; the DLQ messages are replayed (new message ids, same bodies)
    stack.ipaas.set_link(NINETYNINE_SYSTEM_ID, "customer", "43", "customer_43")
    add_customer(stack, "44")
    for m in stack.messages(DLQ):
        stack.send(Q, m["Body"])
    stack.drain()
    assert sorted(stack.ninetynine.executions) == ["SO-1301", "SO-1302"]
    assert stack.ninetynine.executions["SO-1302"]["customer_id"] == "customer_44"


# -- seed scenario 5: Duplicate Prevention (and checklist: IdempotentId Accuracy) ---------------------------
def test_duplicate_prevention(stack):
    add_customer(stack)
    put(stack, txn("9401", "SO-1401"))
    body = note("9401")
    stack.send(Q, body)
    stack.drain()
    stack.send(Q, body)  # redelivered
    stack.send(Q, note("9401", scope="transaction/updated"))  # updated, nothing relevant changed
    stack.drain()
    assert statuses(stack) == ["sent", "duplicate", "duplicate"]
    assert len(posts(stack)) == 1 and list(stack.ninetynine.executions) == ["SO-1401"]
    assert posts(stack)[0].body["idempotent_id"] == "SO-1401"

    # our own record has expired: 99minds de-duplicates on the IdempotentId itself
    clear_idempotency_store(stack)
    stack.send(Q, body)
    stack.drain()
    assert len(posts(stack)) == 2 and stack.ninetynine.duplicate_executions == 1
    assert list(stack.ninetynine.executions) == ["SO-1401"]
    assert statuses(stack)[-1] == "sent" and stack.messages(DLQ) == []


def test_same_transaction_number_with_different_totals_is_a_conflict(stack):
    add_customer(stack)
    put(stack, txn("9501", "SO-1501"))
    stack.send(Q, note("9501"))
    stack.drain()
    put(stack, txn("9501", "SO-1501", total="120.00"))
    stack.send(Q, note("9501", scope="transaction/updated"))
    stack.drain()
    assert len(posts(stack)) == 1 and stack.ninetynine.executions["SO-1501"]["total_price"] == 99.5
    [msg] = dlq_reasons(stack, DLQ)
    assert msg["ipaas.error"] == "permanent:ConflictError"
    assert msg["ipaas.reason"].startswith(
        "transaction SO-1501 was already sent to 99minds with different totals or content (total_price: 99.5 -> 120)"
    )
    assert statuses(stack) == ["sent", "dead-lettered"]


def test_a_lost_reply_is_retried_and_99minds_executes_once(stack):
    add_customer(stack)
    put(stack, txn("9601", "SO-1601"))
    stack.ninetynine.faults.malformed(1, path=WORKFLOW)  # executed, but the reply is lost in transit
    stack.send(Q, note("9601"))
    stack.drain()
    assert [o["status"] for o in stack.outcomes()] == ["retrying", "sent"]
    assert len(posts(stack)) == 2 and stack.ninetynine.duplicate_executions == 1
    assert len(stack.ninetynine.executions) == 1 and stack.messages(DLQ) == []


def test_5xx_on_the_workflow_is_retried(stack):
    add_customer(stack)
    put(stack, txn("9602", "SO-1602"))
    stack.ninetynine.faults.fail(1, status=503, path=WORKFLOW)
    stack.send(Q, note("9602"))
    stack.drain()
    assert statuses(stack) == ["sent"] and len(stack.ninetynine.executions) == 1
    assert len(posts(stack, status=503)) == 1 and stack.ninetynine.duplicate_executions == 0


# -- seed scenario 6: Field Mapping Verification (and checklist: Price Calculations, Quantity Mapping) ----------
def test_field_mapping_verification(stack):
    customer_id = add_customer(stack)
    put(
        stack,
        txn(
            "9701",
            "SO-1701",
            subtotal="1234.56",
            total="1300.01",
            total_qty="7.5",
            lines=[{"id": "L1", "sku": "BOLT-10", "qty": "7.5"}, {"id": "L2", "qty": "0"}],
        ),
    )
    stack.send(Q, note("9701"))
    stack.drain()
    [post] = posts(stack)
    assert post.body == {
        "idempotent_id": "SO-1701",
        "customer_id": customer_id,
        "trigger": "order_paid",
        "total_price": 1300.01,
        "subtotal_price": 1234.56,
        "total_quantity": 7.5,
        "loyalty_points_claimed": 150,
        "line_items": [{"quantity": 7.5, "sku": "BOLT-10", "line_id": "L1"}, {"quantity": 0, "line_id": "L2"}],
        "store_ref_id": STORE,
    }


# -- checklist: Refund Handling; the seed's errors --------------------------------------------------------------
def test_refund_handling_and_invalid_refund_data(stack):
    add_customer(stack)
    stack.send(Q, note("9801", record=txn("9801", "SO-1801", total="-12.00", subtotal="-12.00")))
    stack.send(Q, note("9802", record=txn("9802", "RT-1802", type="Validated Return", total=None)))
    stack.drain()
    negative_order = stack.ninetynine.executions["SO-1801"]
    assert negative_order["trigger"] == "order_refunded"
    assert {"refund_amount", "total_price", "original_order_id"}.isdisjoint(negative_order)
    [msg] = dlq_reasons(stack, DLQ)
    assert msg["ipaas.error"] == "permanent:InvalidRecord"
    assert msg["ipaas.reason"] == (
        "transaction RT-1802: Invalid refund data: the Validated Return has no return amount (field 'total')"
    )
    assert "RT-1802" not in stack.ninetynine.executions


def test_bad_records_are_named_and_never_fail_their_neighbours(stack):
    add_customer(stack)
    put(stack, txn("9901", "SO-1901"))
    stack.send(Q, note("9901"))
    stack.send(Q, note("9902", record=txn("9902", "SO-1902", subtotal=None, total_qty=None)))
    stack.send(
        Q, note("9903", record=txn("9903", "RT-1903", type="Validated Return", total="-5", transaction_parent_id="404404"))
    )
    stack.send(Q, note("9904"))  # not in iPaaS.com
    stack.drain()
    assert [o["record_id"] for o in stack.outcomes("sent")] == ["9901"]
    reasons = {json.loads(m["body"])["id"]: m["ipaas.reason"] for m in dlq_reasons(stack, DLQ)}
    assert reasons == {
        "9902": "transaction SO-1902: missing required fields 'subtotal', 'total_qty'",
        "9903": "transaction RT-1903: Unable to resolve the original order (parent transaction 404404): "
        "iPaaS.com has no transaction 404404 (HTTP 404)",
        "9904": "iPaaS.com has no transaction 9904 (HTTP 404)",
    }
    assert list(stack.ninetynine.executions) == ["SO-1901"]


# -- events/ for `sam local invoke`: each one through the real handler, as sam would invoke it ------------------
def test_sample_events(stack):
    events = Path(__file__).resolve().parents[2] / "events"
    add_customer(stack, "501")
    put(stack, txn("7001", "SO-7001", customer_id="501"))  # the return's original order, in iPaaS.com
    replies = {}
    for name in ("invoice_order", "invoice_return", "invoice_excluded_gc", "invoice_unresolvable_customer"):
        event = json.loads((events / f"{name}.json").read_text())
        replies[name] = stack.invoke("InvoiceTransferFunction", event)
    assert all(reply == {"batchItemFailures": []} for reply in replies.values())
    stack.drain(functions=["InvoiceTransferFunction"])  # a record deferred by the shared rate limit comes back
    assert {o["record_id"]: o["status"] for o in stack.outcomes()} == {
        "7001": "sent",
        "7002": "sent",
        "7003": "skipped",
        "7004": "dead-lettered",
    }
    assert stack.ninetynine.executions["RT-7002"]["original_order_id"] == "SO-7001"
    [msg] = dlq_reasons(stack, DLQ)
    assert "transaction SO-7004: Unable to resolve customer: iPaaS.com customer 999999" in msg["ipaas.reason"]
