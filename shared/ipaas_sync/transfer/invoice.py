"""Invoice transfer: completed orders and validated returns (iPaaS.com transactions) to the destination.

For every destination: take the inline snapshot or fetch the transaction, apply the subscription's mapping
filter (mapping/transaction_filter.py; a filtered-out transaction is a deliberate Skip, not a failure), then
the destination's own path from DESTINATIONS.

99minds, the order workflow (POST /api/v1/ipaas/workflows/execute):
1. validate the record alone (required fields, trigger, refund data) before any lookup;
2. CustomerId: the iPaaS.com external-id link of the transaction's customer (table `customer`), and that
   customer must exist in 99minds. Either failing is UnresolvedReference naming the failed lookup: nothing is
   sent, the message waits in the DLQ, and a replay once the customer is transferred completes it;
3. OriginalOrderId (Validated Returns with a parent): the parent transaction's TransactionNumber;
4. the workflow runs once per (destination, TransactionNumber) under Powertools idempotency; the stored
   result keeps the payload hash. The same number again with the same content is a `duplicate` (nothing
   sent); with different content it is a ConflictError (DLQ with both values; never sent twice). 99minds
   itself de-duplicates on IdempotentId, which is what makes the POST safe to retry;
5. if the reply carries an execution id it is linked to the transaction in iPaaS.com (table `transaction`),
   after a replay too (UpdateExternalId is idempotent), so a failed write-back heals on redelivery. A reply
   without an id links nothing: there is no 99minds record id to keep.
"""

from __future__ import annotations

from typing import Any

from ..clients.ipaas import TABLE_CUSTOMER, TABLE_TRANSACTION
from ..clients.ninetynine_minds import NinetyNineMindsClient
from ..errors import ConflictError, InvalidRecord, PermanentError, UnresolvedReference
from ..idempotency import payload_hash, run_once
from ..mapping import invoice_99minds
from ..mapping.common import present
from ..mapping.transaction_filter import rejection
from ..models.ipaas import IpaasTransaction
from ..models.notification import TransferMessage
from ..models.outcome import Outcome
from ..settings import NinetyNineMindsSettings, SubscriptionSettings
from .env import TransferEnv
from .records import Destination, dispatch
from .sales_order_makini import to_makini


def _resolve_customer(txn: IpaasTransaction, sub: SubscriptionSettings, env: TransferEnv, client: NinetyNineMindsClient) -> str:
    """The 99minds customer id: the iPaaS.com link of the transaction's customer, verified in 99minds."""
    subject = invoice_99minds.subject_of(txn)
    customer_id = present(txn.customer_id, subject, "customer_id")  # required: invoice_99minds.validate checked it
    linked = env.ipaas(sub).lookup_external("customer", customer_id, TABLE_CUSTOMER)
    if not linked:
        raise UnresolvedReference(
            f"{subject}: Unable to resolve customer: iPaaS.com customer {txn.customer_id} has no 99minds link "
            f"(iPaaS.com LookupExternal, table '{TABLE_CUSTOMER}'); nothing was sent. Transfer the customer, "
            f"then replay this message"
        )
    if client.get_customer(linked, what=f"{subject} (customer {linked})") is None:
        raise UnresolvedReference(
            f"{subject}: Unable to resolve customer: 99minds has no customer {linked} (linked to iPaaS.com "
            f"customer {txn.customer_id}; 99minds GET customer answered 404); nothing was sent. Transfer the "
            f"customer, then replay this message"
        )
    return linked


def _original_order_id(txn: IpaasTransaction, sub: SubscriptionSettings, env: TransferEnv) -> str | None:
    """A Validated Return's original order: its parent transaction's number (that order's IdempotentId)."""
    if not invoice_99minds.is_return(txn.type) or not txn.transaction_parent_id:
        return None
    subject, parent_id = invoice_99minds.subject_of(txn), txn.transaction_parent_id
    try:
        parent = env.ipaas(sub).get_record("transaction", parent_id)
    except PermanentError as exc:
        raise UnresolvedReference(
            f"{subject}: Unable to resolve the original order (parent transaction {parent_id}): {exc.message}"
        ) from None
    number = str(parent.get("transaction_number") or "").strip()
    if not number:
        raise InvalidRecord(f"{subject}: the original order (parent transaction {parent_id}) has no 'transaction_number'")
    return number


def _to_99minds(txn: IpaasTransaction, msg: TransferMessage, sub: NinetyNineMindsSettings, env: TransferEnv) -> Outcome:
    subject = invoice_99minds.subject_of(txn)
    invoice_99minds.validate(txn)  # a bad record fails before any lookup
    client = env.partner(sub)
    payload = invoice_99minds.map_invoice(
        txn,
        customer_id=_resolve_customer(txn, sub, env, client),
        original_order_id=_original_order_id(txn, sub, env),
        store=sub.store,
    )
    number = payload[invoice_99minds.WIRE_KEYS["IdempotentId"]]
    digest, summary = payload_hash(payload), invoice_99minds.summary(payload)
    identity = {"destination": sub.system_id, "platform": sub.platform, "entity": "transaction", "transaction_number": number}

    def execute() -> dict[str, Any]:
        reply = client.execute_workflow(payload, what=subject)
        return {
            "action": "sent",
            "external_id": invoice_99minds.execution_id_from_reply(reply),
            "payload": digest,
            "summary": summary,
        }

    result, replayed = run_once(identity, execute)
    if replayed and result.get("payload") != digest:
        changes = invoice_99minds.differences(result.get("summary") or {}, summary)
        raise ConflictError(
            f"transaction {number} was already sent to 99minds with different totals or content "
            f"({'; '.join(changes) or 'line items differ'}); not sent again. 99minds keeps the first execution "
            f"of IdempotentId {number}: correct it in 99minds, or send the change as a new transaction"
        )
    execution_id = result.get("external_id")
    if execution_id:
        env.ipaas(sub).update_external_id("transaction", TABLE_TRANSACTION, msg.id, execution_id, msg.tracking_guid)
    return Outcome(
        status="duplicate" if replayed else "sent",
        entity=msg.entity,
        record_id=msg.id,
        destination=sub.system_id,
        platform=sub.platform,
        external_id=execution_id,
        reason=f"transaction {number} already sent with the same content" if replayed else None,
        details={"transaction_number": number, "trigger": payload[invoice_99minds.WIRE_KEYS["Trigger"]]},
    )


# platform -> how a completed transaction reaches it. A new destination (Mintsoft sales orders) adds one entry.
DESTINATIONS: dict[str, Destination[IpaasTransaction]] = {
    "99minds": _to_99minds,
    "makini": to_makini,
}


def transfer_invoice(msg: TransferMessage, env: TransferEnv) -> Outcome:
    return dispatch(
        msg,
        env,
        DESTINATIONS,
        IpaasTransaction,
        noun="transaction",
        delete_reason=f"transaction {msg.id}: deletes are not transferred to {{platform}} (a completed order is not withdrawn)",
        check=lambda txn, sub: rejection(txn, sub.transaction_filter),
    )
