"""Completed iPaaS.com orders -> Makini (Mintsoft) sales orders.

`transfer(txn, msg, sub, env)` has the signature of a transaction DESTINATIONS entry (as runtime/transfers.py
has for customers); the transaction handler registers it under "makini".

Steps: the transaction filter (mapping/transaction_filter.py; a Makini subscription accepts orders only
unless its Transaction Types say otherwise) -> validate the order and its lines -> the Makini customer
(the iPaaS.com customer link; else found by customer number and linked; a guest order has none) -> the
Makini product of each SKU (paged reads) -> map -> create or update through the iPaaS.com transaction
link, with an existence check by code before creating (a create whose reply was lost is linked, never
created twice).
"""

from __future__ import annotations

from ....core.errors import InvalidRecord, Skip, TransientError
from ....core.models.ipaas import IpaasTransaction
from ....core.models.notification import TransferMessage
from ....core.models.outcome import Outcome
from ....core.settings import SubscriptionSettings
from ....ipaas.client import TABLE_CUSTOMER, TABLE_TRANSACTION
from ....mapping.transaction_filter import rejection
from ....runtime.env import TransferEnv
from ....runtime.linked import Found, upsert_linked
from ..client import MakiniClient
from ..mapping import transaction as sales_order_makini
from ..mapping.customer import key_from_reply
from ..settings import MakiniSettings


def transfer(txn: IpaasTransaction, msg: TransferMessage, sub: MakiniSettings, env: TransferEnv) -> Outcome:
    what = sales_order_makini.subject_of(txn)
    if msg.verb == "deleted":
        raise Skip(f"{what}: transaction deletes are not transferred to Makini")
    reason = rejection(txn, sub.transaction_filter)
    if reason:
        raise Skip(reason)
    skus = sales_order_makini.required_skus(txn)  # a bad order fails here, before any call
    client: MakiniClient = env.partner(sub)
    customer_key = _customer_key(txn, msg, sub, env, client, what)
    products: dict[str, str] = {}
    for sku in skus:
        found = client.find_product(sku, what=f"{what} SKU {sku}")
        if found and found.get("key"):
            products[sku] = str(found["key"])
    payload = sales_order_makini.map_sales_order(txn, customer_key=customer_key, product_keys=products)

    def create() -> str | Found:
        existing = client.find_sales_order(payload["code"], what=what)
        if existing and existing.get("key"):
            return Found(str(existing["key"]))
        return key_from_reply(client.create_sales_order(payload, what=what), what, entity="sales order")

    def update(key: str) -> str:
        client.update_sales_order(key, payload, what=what)
        return key

    return upsert_linked(env=env, sub=sub, msg=msg, table=TABLE_TRANSACTION, payload=payload, create=create, update=update)


def _customer_key(
    txn: IpaasTransaction, msg: TransferMessage, sub: SubscriptionSettings, env: TransferEnv, client: MakiniClient, what: str
) -> str | None:
    """The Makini key of the order's customer; None for a guest order (no customer_id)."""
    if not txn.customer_id:
        return None
    ipaas = env.ipaas(sub)
    linked = ipaas.lookup_external("customer", txn.customer_id, TABLE_CUSTOMER)
    if linked:
        return linked
    customer = ipaas.get_record("customer", txn.customer_id)
    number = str(customer.get("customer_number") or "").strip()
    if not number:
        raise InvalidRecord(
            f"{what}: customer {txn.customer_id} is not linked to Makini and has no 'customer_number' to find it by"
        )
    found = client.find_customer(number, what=f"{what} customer {txn.customer_id}")
    if not found or not found.get("key"):
        raise TransientError(
            f"{what}: customer {txn.customer_id} ({number}) is not in Makini yet; the order "
            f"waits for the customer transfer (retried, then kept in the DLQ)"
        )
    key = str(found["key"])
    ipaas.update_external_id("customer", TABLE_CUSTOMER, txn.customer_id, key, msg.tracking_guid)
    return key
