""""""

from __future__ import annotations

from typing import Any

from ....core.errors import ConflictError, InvalidRecord, PermanentError, UnresolvedReference
from ....core.models.ipaas import IpaasTransaction
from ....core.models.notification import TransferMessage
from ....core.models.outcome import Outcome
from ....core.settings import SubscriptionSettings
from ....ipaas.client import TABLE_CUSTOMER, TABLE_TRANSACTION
from ....mapping.common import present
from ....runtime.env import TransferEnv
from ....runtime.idempotency import payload_hash, run_once
from ..client import NinetyNineMindsClient
from ..mapping import transaction as invoice_99minds
from ..settings import NinetyNineMindsSettings


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


def transfer(txn: IpaasTransaction, msg: TransferMessage, sub: NinetyNineMindsSettings, env: TransferEnv) -> Outcome:
    subject = invoice_99minds.subject_of(txn)
    invoice_99minds.validate(txn)  # a bad record fails before any lookup
    client: NinetyNineMindsClient = env.partner(sub)
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
