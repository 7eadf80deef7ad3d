"""iPaaS.com customer -> Stamped.io customer (POST /api/v2/{storeHash}/dashboard/customers/add, update
POST .../dashboard/customers/{id}).

Published (iPaaS.com Stamped.io mapping documentation): Stamped matches and de-duplicates customers by
email; the iPaaS.com customer number goes to Stamped's external reference field; the Stamped customer id
(e.g. 143491) is the external id kept in iPaaS.com.
NOT published, assumed here (the one place to adjust): the v2 body keys. They follow the v3 field guide
(`email`, `customCustomerId`, `firstName`, `lastName`), with the external reference in `customCustomerId`;
and the new id is read from the reply's `id` (or `customerId`, `customer.id`, `data.id`).
"""

from __future__ import annotations

from typing import Any

from ....core.errors import PermanentError
from ....core.models.ipaas import IpaasCustomer
from ....mapping.common import clean, present, require, valid_email

REQUIRED = ("email_address",)  # Stamped's identity of a customer


def _text(value: str | None) -> str | None:
    return (value or "").strip() or None


def map_customer(customer: IpaasCustomer) -> dict[str, Any]:
    subject = f"customer {customer.id}"
    require(customer, subject, REQUIRED)
    return clean(
        {
            "email": valid_email(present(customer.email_address, subject, "email_address"), subject),
            "firstName": _text(customer.first_name),
            "lastName": _text(customer.last_name),
            "customCustomerId": _text(customer.customer_number),  # the external reference field
        }
    )


def customer_id_from_reply(body: Any, subject: str) -> str:
    candidates: list[Any] = []
    if isinstance(body, dict):
        data: dict[str, Any] = body["data"] if isinstance(body.get("data"), dict) else {}
        customer: dict[str, Any] = body["customer"] if isinstance(body.get("customer"), dict) else {}
        candidates = [body.get("id"), body.get("customerId"), customer.get("id"), data.get("id")]
    for candidate in candidates:
        if candidate not in (None, ""):
            return str(candidate)
    raise PermanentError(f"{subject}: Stamped.io accepted the customer but its reply carries no customer id")
