"""iPaaS.com completed order -> Makini (Mintsoft) sales order: POST /api/wms/sales-orders,
PUT /api/wms/sales-orders/{key}.

Published (Makini OpenAPI, SalesOrder and SalesLineItem): customerKey, code, orderNumber, date, lines[] of
{productKey, quantity, price, discount, lineTotalValue, ...}; the reply is {data: SalesOrder} with its `key`.
Assumed here (the one place to adjust): `code` and `orderNumber` both carry the iPaaS.com transaction number
(the existence check searches by `code`); `date` is the transaction's created time (ISO 8601); amounts are
sent as decimal strings (the spec types them as strings); a line's product is the Makini product whose
`sku` equals the iPaaS.com line SKU (resolved by the transfer, passed in here); the line total is the
line's extended price, else quantity x unit price less the line discount. Addresses are not sent: the
iPaaS.com transaction address JSON shape is not published.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ....core.errors import InvalidRecord
from ....core.models.ipaas import IpaasTransaction, IpaasTransactionLine
from ....mapping.common import clean, present, require


def subject_of(txn: IpaasTransaction) -> str:
    return f"transaction {txn.transaction_number or txn.id}"


def amount(value: Decimal) -> str:
    """A decimal string without exponent or trailing zeros: 10.00 -> "10", 19.990 -> "19.99"."""
    return format(value.normalize(), "f")


def _line_subject(txn: IpaasTransaction, index: int, line: IpaasTransactionLine) -> str:
    return f"{subject_of(txn)} line {line.sequence_number if line.sequence_number is not None else index + 1}"


def required_skus(txn: IpaasTransaction) -> list[str]:
    """Validate the order and its lines; the distinct SKUs whose Makini products the order needs."""
    subject = subject_of(txn)
    require(txn, subject, ("transaction_number",))
    if not txn.lines:
        raise InvalidRecord(f"{subject}: field 'lines' is empty (a sales order needs at least one line)")
    skus: list[str] = []
    for index, line in enumerate(txn.lines):
        where = _line_subject(txn, index, line)
        missing = [
            f
            for f in ("sku", "qty", "unit_price")
            if getattr(line, f) in (None, "") or (isinstance(getattr(line, f), str) and not getattr(line, f).strip())
        ]
        if missing:
            raise InvalidRecord(
                f"{where}: missing required field{'s' if len(missing) > 1 else ''} {', '.join(repr(f) for f in missing)}"
            )
        qty, unit_price = present(line.qty, where, "qty"), present(line.unit_price, where, "unit_price")
        if qty <= 0:
            raise InvalidRecord(f"{where}: field 'qty' must be positive (found {qty})")
        if unit_price < 0:
            raise InvalidRecord(f"{where}: field 'unit_price' must not be negative")
        sku = present(line.sku, where, "sku").strip()
        if sku not in skus:
            skus.append(sku)
    return skus


def line_total(line: IpaasTransactionLine, where: str = "the line") -> Decimal:
    """The line's extended price, else qty x unit price less the discount (a line required_skus has checked)."""
    if line.extended_price is not None:
        return line.extended_price
    qty, unit_price = present(line.qty, where, "qty"), present(line.unit_price, where, "unit_price")
    return qty * unit_price - (line.discount_amount or Decimal(0))


def map_sales_order(txn: IpaasTransaction, *, customer_key: str | None, product_keys: Mapping[str, str]) -> dict[str, Any]:
    required_skus(txn)
    lines = []
    for index, line in enumerate(txn.lines):
        where = _line_subject(txn, index, line)
        sku = present(line.sku, where, "sku").strip()
        if sku not in product_keys:
            raise InvalidRecord(f"{where}: SKU '{sku[:60]}' has no Makini product")
        lines.append(
            clean(
                {
                    "productKey": product_keys[sku],
                    "quantity": amount(present(line.qty, where, "qty")),
                    "price": amount(present(line.unit_price, where, "unit_price")),
                    "discount": amount(line.discount_amount) if line.discount_amount else None,
                    "lineTotalValue": amount(line_total(line, where)),
                }
            )
        )
    number = present(txn.transaction_number, subject_of(txn), "transaction_number").strip()
    return clean(
        {
            "code": number,
            "orderNumber": number,
            "date": txn.created_datetime.isoformat() if txn.created_datetime else None,
            "customerKey": customer_key,
            "lines": lines,
        }
    )
