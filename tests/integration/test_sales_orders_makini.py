"""Completed iPaaS.com orders -> Makini sales orders: destinations/makini/transfer/transaction.transfer called in-process
with the local stack's environment (moto idempotency table, subscription secrets, iPaaS.com and Makini
sandboxes). The transaction handler registers it in its DESTINATIONS table."""

from __future__ import annotations

import pytest

from ipaas_sync.core.errors import InvalidRecord, Skip, TransientError
from ipaas_sync.core.models.ipaas import IpaasTransaction
from ipaas_sync.core.models.notification import TransferMessage
from ipaas_sync.destinations.makini.transfer.transaction import transfer as to_makini
from ipaas_sync.platform import deadline
from ipaas_sync.runtime.env import TransferEnv
from ipaas_sync.runtime.idempotency import register_lambda_context
from sandbox.local_aws import LambdaContext
from sandbox.stack import MAKINI_SYSTEM_ID


@pytest.fixture(autouse=True)
def invocation():
    """As inside the transaction handler: the invocation's deadline and the Lambda context for idempotency."""
    ctx = LambdaContext("TransactionTransferFunction", 30)
    register_lambda_context(ctx)
    with deadline.invocation(ctx):
        yield


@pytest.fixture
def env(stack):
    stack.sku = {s: stack.makini.add_product(s)["key"] for s in ("SKU-1", "SKU-2")}
    customer = stack.makini.add_customer("C-5", name="Ada Lovelace")
    stack.ipaas.set_link(MAKINI_SYSTEM_ID, "customer", "5", customer["key"])
    stack.customer_key = customer["key"]
    return TransferEnv()


def order(id_="77", **kw) -> dict:
    return {
        "id": id_,
        "transaction_number": f"10{id_}",
        "type": "Order",
        "status": "Complete",
        "customer_id": "5",
        "created_datetime": "2025-03-01T10:00:00Z",
        "lines": [
            {"sequence_number": 1, "sku": "SKU-1", "qty": 2, "unit_price": "10.00"},
            {"sequence_number": 2, "sku": "SKU-2", "qty": 1, "unit_price": "5.50"},
        ],
        **kw,
    }


def send(env, record, scope="transaction/created"):
    msg = TransferMessage(
        scope=scope, id=record["id"], destination=MAKINI_SYSTEM_ID, tracking_guid=f"g-{record['id']}", record=record
    )
    sub = env.subscription(MAKINI_SYSTEM_ID)
    return to_makini(IpaasTransaction.model_validate(record), msg, sub, env)


def test_completed_order_becomes_a_sales_order_and_is_linked(stack, env):
    outcome = send(env, order())
    assert outcome.status == "created" and outcome.platform == "makini"
    so = stack.makini.sales_orders[outcome.external_id]
    assert so["code"] == "1077" and so["orderNumber"] == "1077" and so["customerKey"] == stack.customer_key
    assert [(line["productKey"], line["quantity"], line["lineTotalValue"]) for line in so["lines"]] == [
        (stack.sku["SKU-1"], "2", "20"),
        (stack.sku["SKU-2"], "1", "5.5"),
    ]
    assert stack.ipaas.link(MAKINI_SYSTEM_ID, "transaction", "77") == outcome.external_id
    # products were found by SKU, the order by code, before the one create
    gets = [(c.path, c.query.get("filter[sku]", c.query.get("filter[code]"))) for c in stack.makini.calls("GET")]
    assert gets == [("/api/wms/products", ["SKU-1"]), ("/api/wms/products", ["SKU-2"]), ("/api/wms/sales-orders", ["1077"])]


def test_same_order_twice_is_one_sales_order_and_a_change_is_a_put(stack, env):
    first = send(env, order("78"))
    assert send(env, order("78")).status == "duplicate"
    assert len(stack.makini.calls("POST", "/api/wms/sales-orders")) == 1
    changed = order("78", lines=[{"sku": "SKU-1", "qty": 3, "unit_price": "10.00"}])
    assert send(env, changed, scope="transaction/updated").status == "updated"
    [put] = stack.makini.calls("PUT")
    assert put.path == f"/api/wms/sales-orders/{first.external_id}"
    assert stack.makini.sales_orders[first.external_id]["lines"][0]["quantity"] == "3"


def test_lost_reply_is_linked_on_redelivery_not_created_twice(stack, env):
    stack.makini.faults.malformed(1, path="/api/wms/sales-orders", method="POST")
    with pytest.raises(TransientError, match="malformed JSON"):
        send(env, order("79"))
    outcome = send(env, order("79"))
    assert outcome.status == "linked" and len(stack.makini.sales_orders) == 1
    assert stack.ipaas.link(MAKINI_SYSTEM_ID, "transaction", "79") == outcome.external_id


@pytest.mark.parametrize(
    "kw,reason",
    [
        ({"status": "Pending"}, "status 'Pending' is not 'Complete'"),
        ({"type": "Validated Return"}, "type 'Validated Return' is not one of Order"),
        ({"transaction_number": "1080-GC"}, "ends with '-GC'"),
    ],
)
def test_filtered_transactions_are_skipped_with_the_reason(stack, env, kw, reason):
    with pytest.raises(Skip, match=reason):
        send(env, order("80", **kw))
    assert stack.makini.requests == []


def test_returns_go_when_the_subscription_filter_says_so(make_stack):
    stack = make_stack(subscription_overrides={"MakiniSubscriptionSecret": {"Transaction Types": ["Order", "Validated Return"]}})
    stack.makini.add_product("SKU-1")
    record = order("81", type="Validated Return", customer_id=None, lines=[{"sku": "SKU-1", "qty": 1, "unit_price": 1}])
    assert send(TransferEnv(), record).status == "created"


def test_unknown_sku_names_the_line(stack, env):
    with pytest.raises(InvalidRecord, match="transaction 1082 line 2: SKU 'SKU-9' has no Makini product"):
        send(env, order("82", lines=[{"sku": "SKU-1", "qty": 1, "unit_price": 1}, {"sku": "SKU-9", "qty": 1, "unit_price": 1}]))
    assert stack.makini.calls("POST") == []


def test_customer_found_by_number_is_linked_and_a_missing_one_waits(stack, env):
    existing = stack.makini.add_customer("C-6")
    stack.ipaas.put("customers", {"id": "6", "customer_number": "C-6"})
    outcome = send(env, order("83", customer_id="6"))
    assert stack.makini.sales_orders[outcome.external_id]["customerKey"] == existing["key"]
    assert stack.ipaas.link(MAKINI_SYSTEM_ID, "customer", "6") == existing["key"]
    stack.ipaas.put("customers", {"id": "7", "customer_number": "C-7"})
    with pytest.raises(TransientError, match="customer 7 \\(C-7\\) is not in Makini yet"):
        send(env, order("84", customer_id="7"))


def test_guest_order_has_no_customer(stack, env):
    outcome = send(env, order("85", customer_id=None))
    assert "customerKey" not in stack.makini.sales_orders[outcome.external_id]
