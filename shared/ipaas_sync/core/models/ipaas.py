"""iPaaS.com canonical records (JSON names from iPaaS.Integration.Template IPaaSApi/Model).

Every field a destination requires is optional here: what is required depends on the destination and
is checked by its mapping module, which names the missing field. Unknown fields are kept (extra=allow).
Amounts are Decimal end to end.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class IpaasRecord(BaseModel):
    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=False, populate_by_name=True)

    id: str = Field(coerce_numbers_to_str=True)
    tracking_guid: str | None = None
    custom_fields: list[Any] | dict[str, Any] | None = None
    external_ids: list[Any] | dict[str, Any] | None = None


class IpaasAddress(BaseModel):
    """Address JSON shape is not published; these names follow the iPaaS.com formula names."""

    model_config = ConfigDict(extra="allow")

    is_primary_billing: bool | None = None
    is_primary_shipping: bool | None = None
    phone_number: str | None = None
    address1: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None


class IpaasCustomer(IpaasRecord):
    customer_number: str | None = Field(default=None, coerce_numbers_to_str=True)
    first_name: str | None = None
    last_name: str | None = None
    email_address: str | None = None
    company: str | None = None
    comment: str | None = None
    category_id: str | None = Field(default=None, coerce_numbers_to_str=True)
    phone_number: str | None = None
    created_datetime: datetime | None = None
    updated_datetime: datetime | None = None
    addresses: list[IpaasAddress] = Field(default_factory=list)

    def phone(self) -> str | None:
        """The customer's phone: its own field, else the primary billing address, else any address."""
        if self.phone_number:
            return self.phone_number
        ordered = sorted(self.addresses, key=lambda a: not a.is_primary_billing)
        return next((a.phone_number for a in ordered if a.phone_number), None)


class IpaasTransactionLine(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str | None = Field(default=None, coerce_numbers_to_str=True)
    parent_id: str | None = Field(default=None, coerce_numbers_to_str=True)
    sequence_number: int | None = None
    status: str | None = None
    sku: str | None = None
    description: str | None = None
    type: str | None = None
    qty: Decimal | None = None
    qty_shipped: Decimal | None = None
    unit_price: Decimal | None = None
    extended_price: Decimal | None = None
    discount_amount: Decimal | None = None


class IpaasTransaction(IpaasRecord):
    system_id: str | None = Field(default=None, coerce_numbers_to_str=True)
    transaction_parent_id: str | None = Field(default=None, coerce_numbers_to_str=True)
    transaction_number: str | None = None
    customer_id: str | None = Field(default=None, coerce_numbers_to_str=True)
    email_address: str | None = None
    type: str | None = None
    status: str | None = None
    discount_amount: Decimal | None = None
    tax_amount: Decimal | None = None
    shipping_amount: Decimal | None = None
    subtotal: Decimal | None = None
    total: Decimal | None = None
    total_qty: Decimal | None = None
    created_datetime: datetime | None = None
    updated_datetime: datetime | None = None
    lines: list[IpaasTransactionLine] = Field(default_factory=list)


class IpaasGiftCardActivity(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str | None = Field(default=None, coerce_numbers_to_str=True)
    activity_type: str | None = None
    timestamp: datetime | None = None
    location: str | None = None
    transaction_reference_id: str | None = Field(default=None, coerce_numbers_to_str=True)
    amount: Any = None  # validated (Decimal, non-negative) by the gift card mapping, with a clear reason


class IpaasGiftCard(IpaasRecord):
    number: str | None = Field(default=None, coerce_numbers_to_str=True)
    description: str | None = None
    type: str | None = None
    original_amount: Any = None
    balance: Any = None
    status: str | None = None
    purchase_date: datetime | None = None
    customer_id: str | None = Field(default=None, coerce_numbers_to_str=True)
    customer_name: str | None = None
    customer_email: str | None = None
    transaction_id: str | None = Field(default=None, coerce_numbers_to_str=True)
    system_id: str | None = Field(default=None, coerce_numbers_to_str=True)
    expiration_date: datetime | None = None
    activities: list[IpaasGiftCardActivity] = Field(default_factory=list)
