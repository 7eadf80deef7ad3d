"""The records a mapping collection reads: each source's field names and the type of each (what a formula may name,
checked when a collection loads), and how one record becomes the names a formula sees.

Types are the formula language's (expressions.py): string, number, boolean, datetime, list, any. Every field may
also be null (absent). Money and quantities are `number`: Decimal end to end, never float (a JSON float in an
extra field is read through its shortest text, so 0.1 stays 0.1).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from ..core.models.ipaas import IpaasCustomer, IpaasGiftCard, IpaasGiftCardActivity, IpaasTransaction, IpaasTransactionLine

_TYPE_OF: dict[Any, str] = {
    str: "string",
    Decimal: "number",
    int: "number",
    float: "number",
    bool: "boolean",
    datetime: "datetime",
    date: "datetime",
    list: "list",
    dict: "any",
}


def _type_tag(annotation: Any) -> str:
    """The formula type of a pydantic field annotation (`str | None` -> string, `list[...]` -> list, else any)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        tags = {_type_tag(a) for a in args}
        return tags.pop() if len(tags) == 1 else "any"
    if origin is not None:
        return _TYPE_OF.get(origin, "any")
    return _TYPE_OF.get(annotation, "any")


def exact(value: Any) -> Any:
    """A JSON float through its shortest text (0.1 -> Decimal('0.1')): binary noise never reaches a formula."""
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


@dataclass(frozen=True)
class Source:
    """One kind of source record. `fields`: name -> formula type; `computed`: names derived from the record
    (e.g. a customer's phone: its own, else its primary billing address's); `children`: the line collections."""

    name: str
    fields: Mapping[str, str]
    model: type[BaseModel] | None = None  # the record's model (None: a plain JSON object)
    computed: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)
    children: Mapping[str, str] = field(default_factory=dict)  # field -> the child Source's name
    platform: str | None = None  # the destination platform the records come from (None: iPaaS.com records)

    def parse(self, raw: Any) -> Any:
        """A JSON record as the transfer hands it to a collection (its model, else the object itself)."""
        return self.model.model_validate(raw) if self.model is not None else raw

    def names(self, record: Any, extra_fields: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The names a formula sees for this record: every field (None when absent), declared extra fields (the
        collection's `source_fields`), the computed ones. Floats become exact Decimals."""
        out: dict[str, Any] = dict.fromkeys(extra_fields or (), None)
        if isinstance(record, BaseModel):
            out.update(record.__dict__)
            for key, value in (record.model_extra or {}).items():
                if key in out:
                    out[key] = exact(value)
        elif dataclasses.is_dataclass(record) and not isinstance(record, type):
            out.update({k: exact(v) for k, v in vars(record).items()})
        elif isinstance(record, Mapping):
            out.update(dict.fromkeys(self.fields, None))
            for key, value in record.items():
                if key in out:
                    out[key] = exact(value)
        for name, compute in self.computed.items():
            out[name] = compute(record)
        return out


def _model_fields(model: type[BaseModel]) -> dict[str, str]:
    return {name: _type_tag(info.annotation) for name, info in model.model_fields.items()}


def _phone(customer: Any) -> Any:
    return customer.phone() if isinstance(customer, IpaasCustomer) else None


SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source("customer", {**_model_fields(IpaasCustomer), "phone": "string"}, IpaasCustomer, computed={"phone": _phone}),
        Source("transaction", _model_fields(IpaasTransaction), IpaasTransaction, children={"lines": "transaction_line"}),
        Source("transaction_line", _model_fields(IpaasTransactionLine), IpaasTransactionLine),
        Source("giftcard", _model_fields(IpaasGiftCard), IpaasGiftCard, children={"activities": "giftcard_activity"}),
        Source("giftcard_activity", {**_model_fields(IpaasGiftCardActivity), "amount": "number"}, IpaasGiftCardActivity),
        # 99minds records read back for iPaaS.com (published names not available: those this project assumes)
        Source(
            "99minds_customer",
            {
                "id": "string",
                "email": "string",
                "first_name": "string",
                "last_name": "string",
                "customer_number": "string",
                "phone": "string",
            },
            platform="99minds",
        ),
        # a 99minds loyalty card transaction as the transfer parsed it (mapping/loyalty_transaction_to_ipaas.py)
        Source(
            "99minds_loyalty_transaction",
            {
                "id": "string",
                "amount": "number",
                "type": "string",
                "customer_id": "string",
                "card_id": "string",
                "client_order_id": "string",
            },
            platform="99minds",
        ),  # fmt: skip
    )
}


def subscription_platform(destination: str, source: str) -> str:
    """The platform of the subscription a collection belongs to: its destination's, or for a collection writing
    iPaaS.com ("ipaas") the platform its source records come from (99minds -> iPaaS.com: the 99minds subscription)."""
    if destination == "ipaas":
        found = SOURCES.get(source)
        return (found.platform if found else None) or ""
    return destination


# every name a source may expose: the only attributes `parent.<name>` may read at run time (expressions.py)
ALL_FIELD_NAMES: frozenset[str] = frozenset(name for s in SOURCES.values() for name in s.fields)
