"""iPaaS.com completed order / validated return -> 99minds order workflow (POST /api/v1/ipaas/workflows/execute).

The seed ("99minds Invoice From iPaaS") maps, each destination field by one formula here:

    IdempotentId          TransactionNumber
    CustomerId            the 99minds customer id linked to the transaction's customer (resolved by the
                          transfer, passed in here: this module does no I/O)
    Trigger               if (Type == "Order" && Total >= 0) "order_paid";
                          if (Type == "Validated Return" || Total < 0) "order_refunded"; else null
    TotalPrice            if (Type == "Validated Return" || Total < 0) null; if (Total >= 0) Total; else null
    SubtotalPrice         Subtotal (as in iPaaS.com: negative on a return that carries negative amounts)
    TotalQuantity         TotalQty
    LoyaltyPointsClaimed  the transaction's custom field LoyaltyPointsClaimed (see below)
    RefundAmount          Validated Return only: the return amount (see return_amount)
    OriginalOrderId       Validated Return only: the parent transaction's TransactionNumber (the parent's own
                          IdempotentId in 99minds); resolved by the transfer, passed in here
    line items            per line: quantity (Qty), SKU, the unique line id (TransactionLineEntityId = line id)

Required (seed): TransactionNumber, CustomerId, Subtotal, TotalQty. Errors name the transaction and field.

NOT published by 99minds, assumed here (the one place to adjust):
- the JSON key names on the wire (WIRE_KEYS below; snake_case like the customer body), the line item keys
  (LINE_KEYS), and the store key (store_ref_id / client_store_id, as for customers);
- amounts and quantities are sent as JSON numbers (Decimal -> the shortest float text, exact for up to 15
  significant digits);
- where the reply carries the workflow execution id (data.id, data.execution.id, data.execution_id,
  data.workflow_execution_id; none is fine: the reply is then only an acknowledgement).
Decided here (the seed leaves them "to adjust"):
- the return amount of a Validated Return is abs(Total) of the return (return_amount); a return without a
  Total is "Invalid refund data";
- LoyaltyPointsClaimed comes from the custom field named LOYALTY_POINTS_FIELD (iPaaS.com has no standard
  transaction field for it); absent -> not sent.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from ....core.errors import InvalidRecord
from ....core.models.ipaas import IpaasTransaction, IpaasTransactionLine
from ....ipaas.custom_fields import custom_field
from ....mapping.common import clean, present, require
from ..settings import StoreRef

ORDER = "Order"
VALIDATED_RETURN = "Validated Return"
ORDER_PAID = "order_paid"
ORDER_REFUNDED = "order_refunded"

REQUIRED = ("transaction_number", "customer_id", "subtotal", "total_qty")
LOYALTY_POINTS_FIELD = "LoyaltyPointsClaimed"

# seed destination field -> JSON key on the wire (assumed; not published)
WIRE_KEYS = {
    "IdempotentId": "idempotent_id",
    "CustomerId": "customer_id",
    "Trigger": "trigger",
    "TotalPrice": "total_price",
    "SubtotalPrice": "subtotal_price",
    "TotalQuantity": "total_quantity",
    "LoyaltyPointsClaimed": "loyalty_points_claimed",
    "RefundAmount": "refund_amount",
    "OriginalOrderId": "original_order_id",
    "LineItems": "line_items",
}
LINE_KEYS = {"Quantity": "quantity", "Sku": "sku", "LineId": "line_id"}


def subject_of(txn: IpaasTransaction) -> str:
    return f"transaction {txn.transaction_number or txn.id}"


# -- the seed's formulas, one each ---------------------------------------------------------------------------
def trigger(txn_type: str | None, total: Decimal | None) -> str | None:
    """if (Type == "Order" && Total >= 0) order_paid; if (Type == "Validated Return" || Total < 0) order_refunded."""
    if txn_type == ORDER and total is not None and total >= 0:
        return ORDER_PAID
    if txn_type == VALIDATED_RETURN or (total is not None and total < 0):
        return ORDER_REFUNDED
    return None


def total_price(txn_type: str | None, total: Decimal | None) -> Decimal | None:
    """if (Type == "Validated Return" || Total < 0) null; if (Total >= 0) Total; else null."""
    if txn_type == VALIDATED_RETURN or (total is not None and total < 0):
        return None
    if total is not None and total >= 0:
        return total
    return None


def is_return(txn_type: str | None) -> bool:
    """RefundAmount and OriginalOrderId are for Validated Returns only (seed checklist: Refund Handling)."""
    return txn_type == VALIDATED_RETURN


def return_amount(total: Decimal | None) -> Decimal | None:
    """The amount a Validated Return refunds: abs(Total) of the return (None when it has no Total)."""
    return None if total is None else abs(total)


def refund_amount(txn_type: str | None, total: Decimal | None) -> Decimal | None:
    """Validated Return: its return amount; anything else: none."""
    return return_amount(total) if is_return(txn_type) else None


def loyalty_points_claimed(txn: IpaasTransaction) -> Decimal | None:
    """The custom field LOYALTY_POINTS_FIELD (custom_fields in any shape common.custom_field_values reads), else none."""
    raw = custom_field(txn.custom_fields, LOYALTY_POINTS_FIELD)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise InvalidRecord(f"{subject_of(txn)}: custom field '{LOYALTY_POINTS_FIELD}' is not a number")
    return value


def line_item(line: IpaasTransactionLine, index: int, subject: str) -> dict[str, Any]:
    """One invoiced line: quantity, SKU and the unique line id (TransactionLineEntityId)."""
    missing = [f for f in ("id", "qty") if getattr(line, f) in (None, "")]
    if missing:
        names = ", ".join(f"'lines[{index}].{f}'" for f in missing)
        raise InvalidRecord(f"{subject}: missing required field{'s' if len(missing) > 1 else ''} {names}")
    return clean(
        {
            LINE_KEYS["Quantity"]: wire_number(line.qty),
            LINE_KEYS["Sku"]: (line.sku or "").strip() or None,
            LINE_KEYS["LineId"]: str(line.id),
        }
    )


def wire_number(value: Decimal | None) -> int | float | None:
    """A Decimal as a JSON number: integral values as int, others as the shortest float that round-trips."""
    if value is None:
        return None
    if value == value.to_integral_value():
        return int(value)
    return float(value)


# -- validation and the payload ----------------------------------------------------------------------------
def validate(txn: IpaasTransaction) -> str:
    """Everything that can be checked on the record alone, before any lookup. Returns the trigger."""
    subject = subject_of(txn)
    require(txn, subject, REQUIRED)
    chosen = trigger(txn.type, txn.total)
    if chosen is None:
        if txn.type == ORDER:  # an Order without a Total: the trigger formula cannot decide
            raise InvalidRecord(f"{subject}: missing required field 'total' (needed to choose the trigger)")
        raise InvalidRecord(
            f"{subject}: unsupported transaction type '{txn.type}' for the 99minds order "
            f"workflow (Order or Validated Return); check the mapping filter"
        )
    if is_return(txn.type) and return_amount(txn.total) is None:
        raise InvalidRecord(f"{subject}: Invalid refund data: the Validated Return has no return amount (field 'total')")
    return chosen


def map_invoice(txn: IpaasTransaction, *, customer_id: str, original_order_id: str | None, store: StoreRef) -> dict[str, Any]:
    """The workflow execution body. customer_id and original_order_id are resolved by the transfer."""
    subject = subject_of(txn)
    chosen = validate(txn)
    if not customer_id:
        raise InvalidRecord(f"{subject}: missing required field 'CustomerId' (the 99minds customer id)")
    k = WIRE_KEYS
    return clean(
        {
            k["IdempotentId"]: present(txn.transaction_number, subject, "transaction_number").strip(),
            k["CustomerId"]: customer_id,
            k["Trigger"]: chosen,
            k["TotalPrice"]: wire_number(total_price(txn.type, txn.total)),
            k["SubtotalPrice"]: wire_number(txn.subtotal),
            k["TotalQuantity"]: wire_number(txn.total_qty),
            k["LoyaltyPointsClaimed"]: wire_number(loyalty_points_claimed(txn)),
            k["RefundAmount"]: wire_number(refund_amount(txn.type, txn.total)),
            k["OriginalOrderId"]: original_order_id if is_return(txn.type) else None,
            k["LineItems"]: [line_item(line, i, subject) for i, line in enumerate(txn.lines)],
            store.kind: store.value,
        }
    )


def summary(payload: dict[str, Any]) -> dict[str, Any]:
    """The scalar fields of a payload (what a conflict message compares); line items as a count."""
    out = {key: value for key, value in payload.items() if not isinstance(value, list | dict)}
    out["line_items"] = len(payload.get(WIRE_KEYS["LineItems"], []))
    return out


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """'field: old -> new' for every summary field that differs."""
    return [
        f"{key}: {before.get(key)} -> {after.get(key)}"
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    ]


def execution_id_from_reply(body: Any) -> str | None:
    """The workflow execution id, if the reply carries one (not published; an acknowledgement is enough)."""
    data = body.get("data", body) if isinstance(body, dict) else None
    if not isinstance(data, dict):
        return None
    execution: dict[str, Any] = data["execution"] if isinstance(data.get("execution"), dict) else {}
    for candidate in (data.get("id"), execution.get("id"), data.get("execution_id"), data.get("workflow_execution_id")):
        if candidate not in (None, ""):
            return str(candidate)
    return None
