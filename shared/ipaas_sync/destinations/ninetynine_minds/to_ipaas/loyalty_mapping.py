"""99minds loyalty card transaction -> iPaaS.com transaction (pure; the transfer does the I/O).

Published (iPaaS.com "99minds to iPaaS.com Loyalty Card Transaction" articles): every point earn or redemption
lands on an iPaaS.com transaction of type Ticket carrying the points amount, the 99minds transaction type and
the customer and order references; a transaction that names an existing order writes the loyalty data onto
that order without overwriting its order data; TransactionNumber = the word `99minds` followed by the 99minds
transaction id (unique; what the external-id link records); TransactionAmount and TransactionType are
required; the customer is resolved through the customer link; reversals and deletes are not transferred.

Formulas (one function each):
    TransactionNumber   prefix + separator + 99minds id           (settings; default "99minds" + "" + id)
    Type                "Ticket"
    Status              setting 'Loyalty Ticket Status'            (default "Complete"; the value is not published)
    CustomerId          the iPaaS.com customer linked to the 99minds customer id (resolved by the transfer)
    custom fields       points amount, 99minds transaction type, loyalty card id (names are settings); an empty
                        value is left out (iPaaS.com rejects empty custom field values)

NOT published, assumed here (the one place to adjust): the 99minds JSON names of a loyalty transaction
(FIELD_KEYS: snake_case like the rest of the 99minds API, first key present wins) and the reply envelope
(`data.transaction`, `data.loyalty_transaction`, else `data`).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from ....core.errors import InvalidRecord, PermanentError
from ....ipaas.custom_fields import custom_field_item, custom_field_name, custom_field_values

TICKET = "Ticket"
# our field -> the 99minds JSON keys it may come in (first present wins)
FIELD_KEYS: dict[str, tuple[str, ...]] = {
    "id": ("id", "transaction_id"),
    "TransactionAmount": ("transaction_amount", "amount", "points"),
    "TransactionType": ("transaction_type", "type"),
    "CustomerId": ("customer_id",),
    "CardId": ("card_id", "loyalty_card_id"),
    "ClientOrderId": ("client_order_id", "order_id"),
}


@dataclass(frozen=True)
class LoyaltyTransaction:
    id: str
    amount: Decimal
    type: str
    customer_id: str | None
    card_id: str | None
    client_order_id: str | None


def record_from_reply(body: Any, subject: str) -> dict[str, Any]:
    data = body.get("data", body) if isinstance(body, dict) else None
    if isinstance(data, dict):
        for key in ("transaction", "loyalty_transaction"):
            found = data.get(key)
            if isinstance(found, dict):
                return found
        return data
    raise PermanentError(f"{subject}: 99minds answered without a loyalty transaction object")


def _field(raw: dict[str, Any], name: str) -> Any:
    for key in FIELD_KEYS[name]:
        value = raw.get(key)
        if value is not None and not (isinstance(value, str) and not value.strip()):
            return value
    return None


def _text(value: Any) -> str | None:
    return None if value is None else (str(value).strip() or None)


def points(value: Any, subject: str) -> Decimal:
    """The points amount as a Decimal; a JSON float only through its shortest text. Negative is allowed
    (a redemption may be sent as negative points)."""
    if isinstance(value, bool):
        raise InvalidRecord(f"{subject}: field 'TransactionAmount' is not a number")
    try:
        amount = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation:
        raise InvalidRecord(f"{subject}: field 'TransactionAmount' is not a number") from None
    if not amount.is_finite():
        raise InvalidRecord(f"{subject}: field 'TransactionAmount' is not a finite number")
    return amount


def parse(raw: dict[str, Any], subject: str, expected_id: str) -> LoyaltyTransaction:
    missing = [name for name in ("TransactionAmount", "TransactionType") if _field(raw, name) is None]
    if missing:
        names = ", ".join(f"'{n}'" for n in missing)
        raise InvalidRecord(f"{subject}: missing required field{'s' if len(missing) > 1 else ''} {names}")
    found_id = _text(_field(raw, "id"))
    if found_id is not None and found_id != expected_id:
        raise PermanentError(f"{subject}: 99minds answered with loyalty transaction '{found_id[:60]}' instead")
    return LoyaltyTransaction(
        id=expected_id,
        amount=points(_field(raw, "TransactionAmount"), subject),
        type=str(_field(raw, "TransactionType")).strip(),
        customer_id=_text(_field(raw, "CustomerId")),
        card_id=_text(_field(raw, "CardId")),
        client_order_id=_text(_field(raw, "ClientOrderId")),
    )


def _norm(text: str) -> str:
    return re.sub(r"[\s_\-]", "", text).lower()


def skip_reason(txn: LoyaltyTransaction, skipped_types: tuple[str, ...], subject: str) -> str | None:
    """Reversals are not transferred (iPaaS.com: no delete or reversal mappings exist)."""
    if _norm(txn.type) in {_norm(t) for t in skipped_types}:
        return (
            f"{subject}: a 99minds {txn.type} is not transferred to iPaaS.com (reversals and deletes leave the "
            f"iPaaS.com transaction as it is)"
        )
    return None


def transaction_number(transaction_id: str, prefix: str, separator: str) -> str:
    return f"{prefix}{separator}{transaction_id}"


def wire_points(amount: Decimal) -> str:
    """Points as iPaaS.com custom field text: no exponent, no trailing zeros ("50", "-12.5")."""
    text = format(amount.normalize(), "f")
    return text if text != "-0" else "0"


def custom_fields(txn: LoyaltyTransaction, *, points_field: str, type_field: str, card_field: str) -> list[dict[str, str]]:
    values = ((points_field, wire_points(txn.amount)), (type_field, txn.type), (card_field, txn.card_id))
    return [custom_field_item(name, value) for name, value in values if value not in (None, "")]


def ticket(
    txn: LoyaltyTransaction, *, number: str, status: str, customer_id: str, system_id: str, fields: list[dict[str, str]]
) -> dict[str, Any]:
    """The new iPaaS.com transaction of a point adjustment or redemption without an order. The link is nested
    in the create (external_ids), so the Ticket never exists unlinked; it is also written by UpdateExternalId."""
    return {
        "transaction_number": number,
        "type": TICKET,
        "status": status,
        "customer_id": customer_id,
        "system_id": system_id,
        "custom_fields": copy.deepcopy(fields),
        "external_ids": [{"system_id": system_id, "external_id": number}],
    }


def has_values(record: dict[str, Any], fields: list[dict[str, str]]) -> bool:
    """Whether the record (custom fields in any shape it is read in) already holds these values."""
    current = custom_field_values(record.get("custom_fields"))
    held = {name: str(value) for name, value in current.items() if value is not None}
    return all(held.get(f["custom_field_name"]) == f["value"] for f in fields)


def with_custom_fields(record: dict[str, Any], fields: list[dict[str, str]]) -> dict[str, Any]:
    """The record exactly as read, with these custom fields set (added or their values replaced); every other
    field and every other custom field stays as it was. The custom fields go back in iPaaS.com's write shape
    (a list of {custom_field_name, value}, ids kept), whatever shape they were read in. Works for customers and
    transactions alike."""
    out = copy.deepcopy(record)
    wanted = {f["custom_field_name"]: f["value"] for f in fields}
    current = out.get("custom_fields")
    read = [{"custom_field_name": k, "value": v} for k, v in current.items()] if isinstance(current, dict) else current or []
    items: list[Any] = []
    seen: set[str] = set()
    for item in read:
        name = custom_field_name(item)
        if name is None:
            items.append(copy.deepcopy(item))  # not a custom field we can name: left as it was
            continue
        value = wanted.get(name, custom_field_values([item])[name])
        if "custom_field_name" in item:  # the published shape: kept as read (its id too), the value set
            items.append({**item, "value": value})
        else:
            ident = {"id": item["id"]} if item.get("id") not in (None, "") else {}
            items.append({**ident, "custom_field_name": name, "value": value})
        seen.add(name)
    items.extend(custom_field_item(n, v) for n, v in wanted.items() if n not in seen)
    out["custom_fields"] = items
    return out
