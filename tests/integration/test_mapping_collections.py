"""Mapping collections through the real handlers against moto and the sandboxes (docs/mappings.md):

- the Makini sales orders and the 99minds -> iPaaS.com bodies (Tickets, new customers) go through the subscription's
  collections: the wire bytes are the ones today's Python mappings sent (each scenario runs twice, once with the
  Python mapping put back in the transfer's place), and a deployed override takes effect;
- an override that does not validate, written by hand into Parameter Store, parks its subscription's records with
  the collection, field and formula position, while another subscription's records in the SAME batch go through.
"""

from __future__ import annotations

import json
from typing import Any

import boto3

from ipaas_sync.destinations.makini.mapping import transaction as sales_order_makini
from ipaas_sync.destinations.makini.transfer import transaction as makini_transfer
from ipaas_sync.destinations.ninetynine_minds.to_ipaas import customer_mapping as cm
from ipaas_sync.destinations.ninetynine_minds.to_ipaas import loyalty_mapping as lt
from ipaas_sync.destinations.ninetynine_minds.to_ipaas import transfer as to_ipaas_transfer
from sandbox.local_aws import sqs_event
from sandbox.pipeline import transaction
from sandbox.stack import MAKINI_SYSTEM_ID, NINETYNINE_SYSTEM_ID

from .conftest import add_customer, dlq_reasons, notification

MAKINI_Q, MAKINI_DLQ = "TransactionMakiniQueue", "TransactionMakiniDLQ"
NN_Q, NN_DLQ = "TransactionNinetyNineMindsQueue", "TransactionNinetyNineMindsDLQ"
LOYALTY_Q, LOYALTY_DLQ = "FromNinetyNineMindsQueue", "FromNinetyNineMindsDLQ"
SALES_ORDERS = "/api/wms/sales-orders"
IPAAS_TRANSACTION, IPAAS_CUSTOMER = "/transactions/v2/Transaction", "/customers/v2/Customer"
STORE = "store_b81a893dc2bc6e1a5d"


# -- the scenarios ---------------------------------------------------------------------------------------------------
def makini_order(stack, id_: str = "77", **kw) -> None:
    """A completed order of a Makini customer, its SKUs Makini products, queued for the Makini subscription."""
    for sku in ("SKU-1", "SKU-2"):
        stack.makini.add_product(sku)
    customer = stack.makini.add_customer("C-5", name="Ada Lovelace")
    stack.ipaas.set_link(MAKINI_SYSTEM_ID, "customer", "5", customer["key"])
    lines = [
        {"sequence_number": 1, "sku": "SKU-1", "qty": "2", "unit_price": "10.00", "discount_amount": "1.50"},
        {"sequence_number": 2, "sku": "SKU-2", "qty": "1", "unit_price": "5.50", "extended_price": "5.25"},
    ]
    record = transaction(id_, f"10{id_}", "5", created_datetime="2025-03-01T10:00:00Z", lines=lines, **kw)
    stack.ipaas.put("transactions", record)
    stack.send(MAKINI_Q, notification(id_, scope="transaction/created", destination=MAKINI_SYSTEM_ID))


def loyalty_records(stack) -> None:
    """A 99minds point adjustment of a linked customer (-> a Ticket) and a customer made in 99minds (-> a new iPaaS.com
    customer), with fixed ids so that two stacks send the same bytes; their webhooks queued."""
    add_customer(stack, "42")
    stack.ninetynine.customers["customer_42"] = {"id": "customer_42", "email": "ada42@example.com", "store_ref_id": STORE}
    stack.ipaas.set_link(NINETYNINE_SYSTEM_ID, "customer", "42", "customer_42")
    stack.ninetynine.loyalty_cards["card_42"] = {"id": "card_42", "customer_id": "customer_42", "balance": "25"}
    stack.ninetynine.loyalty_transactions["transaction_1"] = {
        "id": "transaction_1",
        "transaction_amount": "25.50",
        "transaction_type": "adjustment",
        "customer_id": "customer_42",
        "card_id": "card_42",
    }
    stack.ninetynine.customers["customer_g"] = {
        "id": "customer_g",
        "email": " Grace@Example.com",
        "first_name": "Grace ",
        "last_name": "Hopper",
        "phone": "+1 555 0100",
        "store_ref_id": STORE,
    }
    stack.ninetynine.loyalty_cards["card_g"] = {"id": "card_g", "customer_id": "customer_g", "balance": "0"}
    assert stack.post_99minds_hook("loyalty_transaction/created", "transaction_1").status_code == 202
    assert stack.post_99minds_hook("customer/created", "customer_g").status_code == 202


def python_sales_order(sub, target, record, resolved=None, *, tables=None, destination=None) -> dict[str, Any]:
    """Today's Python sales order mapping in the collection's place (the same inputs)."""
    assert target == "sales_order"
    return sales_order_makini.map_sales_order(
        record, customer_key=(resolved or {}).get("linked_customer_key"), product_keys=(tables or {})["products"]
    )


def python_to_ipaas(sub, target, record, resolved=None, *, tables=None, destination=None) -> dict[str, Any]:
    """Today's Python 99minds -> iPaaS.com mappings (Ticket, new customer) in the collections' place."""
    resolved = resolved or {}
    if target == "loyalty_ticket":
        number = lt.transaction_number(record.id, sub.loyalty_transaction_number_prefix, sub.loyalty_transaction_number_separator)
        return lt.ticket(
            record,
            number=number,
            status=sub.loyalty_ticket_status,
            customer_id=resolved["linked_customer_id"],
            system_id=sub.system_id,
            fields=resolved["loyalty_custom_fields"],
        )
    assert target == "customer"
    return cm.new_customer(
        record,
        ninetynine_id=resolved["ninetynine_id"],
        system_id=sub.system_id,
        fields=resolved["loyalty_custom_fields"],
        subject=f"99minds customer {resolved['ninetynine_id']}",
    )


def wire(make_stack, scenario, function: str, server: str, paths: tuple[str, ...]) -> list[tuple[str, bytes]]:
    stack = make_stack()
    scenario(stack)
    stack.drain(functions=[function])
    calls = getattr(stack, server).calls("POST")
    sent = [(c.path, c.raw) for c in calls if c.path.startswith(paths)]
    assert sent and all(c.status == 200 for c in calls if c.path.startswith(paths)), calls
    return sent


# -- equivalence at the wire ------------------------------------------------------------------------------------------
def test_a_makini_sales_order_is_the_bytes_the_python_mapping_sent(make_stack, monkeypatch):
    collection = wire(make_stack, makini_order, "InvoiceTransferFunction", "makini", (SALES_ORDERS,))
    monkeypatch.setattr(makini_transfer, "map_record", python_sales_order)
    python = wire(make_stack, makini_order, "InvoiceTransferFunction", "makini", (SALES_ORDERS,))
    assert collection == python
    assert json.loads(collection[0][1])["lines"][0]["discount"] == "1.5"  # the line fields are all there


def test_tickets_and_new_customers_in_ipaas_are_the_bytes_the_python_mappings_sent(make_stack, monkeypatch):
    paths = (IPAAS_TRANSACTION, IPAAS_CUSTOMER)
    collection = wire(make_stack, loyalty_records, "LoyaltyTransferFunction", "ipaas", paths)
    monkeypatch.setattr(to_ipaas_transfer, "map_record", python_to_ipaas)
    python = wire(make_stack, loyalty_records, "LoyaltyTransferFunction", "ipaas", paths)
    assert sorted(collection) == sorted(python)
    bodies = {path: json.loads(raw) for path, raw in collection}
    assert bodies[IPAAS_TRANSACTION]["type"] == "Ticket" and bodies[IPAAS_CUSTOMER]["email_address"] == "grace@example.com"


# -- a deployed override takes effect in both ------------------------------------------------------------------------
def test_a_makini_override_changes_the_sales_order_and_its_filter(make_stack):
    """The Makini filter is the collection's (before: Python re-applied the settings' filter inside the transfer, so
    an override accepting returns was ignored), and its fields are the collection's (before: Python mapped them)."""
    stack = make_stack()
    override = {
        "collections": [
            {
                "extends": "Mintsoft Sales Order From iPaaS",
                "filter": {"formula": "status == 'Complete'", "reason": "not complete"},
                "fields": [{"to": "orderNumber", "kind": "formula", "type": "string", "formula": "'WEB-' + transaction_number"}],
            }
        ]
    }
    assert stack.mappings().deploy(MAKINI_SYSTEM_ID, override) == 1
    stack.mapping_takes_effect()
    makini_order(stack, "78", type="Validated Return")
    stack.drain(functions=["InvoiceTransferFunction"])
    [created] = stack.makini.calls("POST", SALES_ORDERS)
    assert (created.body["code"], created.body["orderNumber"]) == ("1078", "WEB-1078")
    assert stack.messages(MAKINI_DLQ) == []


def test_a_loyalty_ticket_override_changes_the_ticket(stack):
    override = {
        "collections": [
            {
                "extends": "99minds to iPaaS.com Loyalty Ticket",
                "fields": [
                    {"to": "status", "kind": "static", "value": "Pending", "type": "string"},
                    {"to": "memo", "kind": "formula", "type": "string", "formula": "'99minds ' + type + ' on card ' + card_id"},
                ],
            }
        ]
    }
    stack.mappings().deploy(NINETYNINE_SYSTEM_ID, override)
    stack.mapping_takes_effect()
    loyalty_records(stack)
    stack.drain(functions=["LoyaltyTransferFunction"])
    [ticket] = stack.ipaas.calls("POST", IPAAS_TRANSACTION)
    assert (ticket.body["status"], ticket.body["memo"]) == ("Pending", "99minds adjustment on card card_42")
    assert stack.messages(LOYALTY_DLQ) == []


# -- a bad override parks its own subscription only, in the same batch -----------------------------------------------
def received(stack, logical: str, count: int) -> list[dict]:
    sqs = boto3.client("sqs")
    out: list[dict] = []
    for _ in range(10):  # bounded: moto hands out up to 10 per receive
        out += sqs.receive_message(
            QueueUrl=stack.queue_url(logical), MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
        ).get("Messages", [])
        if len(out) >= count:
            break
    assert len(out) == count
    return out


def test_a_bad_override_parks_its_subscriptions_records_and_the_other_subscription_goes_on_in_the_same_batch(stack):
    # edited by hand in the console (deploy would have refused it): the filter names a field that does not exist
    bad = {
        "collections": [{"extends": "99minds Invoice From iPaaS", "filter": {"formula": "type == 'Order' and sorce == 'web'"}}]
    }
    boto3.client("ssm").put_parameter(
        Name=f"/{stack.deployment.stack_name}/mappings/99minds/{NINETYNINE_SYSTEM_ID}", Value=json.dumps(bad), Type="String"
    )
    stack.ipaas.put("transactions", transaction("9001", "SO-9001", "42"))
    stack.send(NN_Q, notification("9001", scope="transaction/created"))
    makini_order(stack, "79")
    arn = {
        q: boto3.client("sqs").get_queue_attributes(QueueUrl=stack.queue_url(q), AttributeNames=["QueueArn"])
        for q in (NN_Q, MAKINI_Q)
    }
    event = {
        "Records": [
            *sqs_event(received(stack, NN_Q, 1), arn[NN_Q]["Attributes"]["QueueArn"])["Records"],
            *sqs_event(received(stack, MAKINI_Q, 1), arn[MAKINI_Q]["Attributes"]["QueueArn"])["Records"],
        ]
    }
    reply = stack.invoke("InvoiceTransferFunction", event)
    assert reply == {"batchItemFailures": []}  # both settled: one parked, one sent
    [parked] = dlq_reasons(stack, NN_DLQ)
    reason = parked["ipaas.reason"]
    assert parked["ipaas.error"] == "configuration:ConfigurationError", parked
    assert "99minds Invoice From iPaaS" in reason and "field 'filter'" in reason and "unknown field 'sorce'" in reason
    assert "(column 21) in formula `type == 'Order' and sorce == 'web'`" in reason  # where in the formula
    assert stack.ninetynine.calls("POST") == []
    [created] = stack.makini.calls("POST", SALES_ORDERS)
    assert created.body["code"] == "1079" and stack.messages(MAKINI_DLQ) == []
    statuses = {(o["destination"], o["status"]) for o in stack.outcomes()}
    assert statuses == {(NINETYNINE_SYSTEM_ID, "dead-lettered"), (MAKINI_SYSTEM_ID, "created")}, statuses
