"""iPaaS.com customer -> 99minds customer (POST /api/v1/ipaas/customers).

Published: email is mandatory; phone is numeric or +1XXXXXXXXXX; create and update share the path and an
update carries the 99minds customer id; every write carries a store (Store Ref Id or Client Store Id).
NOT published, assumed here (the one place to adjust): the JSON key names below; where the reply
carries the new customer id (data.id, data.customer.id or data.customer_id, in that order); and that
99minds keeps one customer per email (email is its mandatory customer key), so a create for an email it
already has answers that customer. That is what makes a create safe to redeliver after its reply was
lost (timeout, reset, unreadable reply): the redelivery finds the same customer and links it.
"""

from __future__ import annotations

from typing import Any

from ....core.errors import PermanentError
from ....core.models.ipaas import IpaasCustomer
from ....mapping.common import clean, normalize_phone, present, require, valid_email
from ..settings import StoreRef

REQUIRED = ("email_address", "first_name", "last_name", "customer_number")


def map_customer(customer: IpaasCustomer, store: StoreRef) -> dict[str, Any]:
    subject = f"customer {customer.id}"
    require(customer, subject, REQUIRED)
    return clean(
        {
            "email": valid_email(present(customer.email_address, subject, "email_address"), subject),
            "first_name": present(customer.first_name, subject, "first_name").strip(),
            "last_name": present(customer.last_name, subject, "last_name").strip(),
            "customer_number": present(customer.customer_number, subject, "customer_number").strip(),
            "phone": normalize_phone(customer.phone(), subject),
            "company": (customer.company or "").strip() or None,
            store.kind: store.value,
        }
    )


def as_update(payload: dict[str, Any], customer_id: str) -> dict[str, Any]:
    return {**payload, "id": customer_id}


def customer_id_from_reply(body: Any, subject: str) -> str:
    data = body.get("data", body) if isinstance(body, dict) else None
    if isinstance(data, dict):
        for candidate in (data.get("id"), (data.get("customer") or {}).get("id"), data.get("customer_id")):
            if candidate:
                return str(candidate)
    raise PermanentError(f"{subject}: 99minds accepted the customer but its reply carries no customer id")


STORE_KEYS = ("store_ref_id", "client_store_id")


def same_content(payload: dict[str, Any], current: dict[str, Any]) -> bool:
    """True when the 99minds customer already holds every value of this payload (ignoring case and the store key,
    which is not customer data): the update would change nothing. Skipping it ends the echo of a customer that
    came from 99minds (99minds -> iPaaS.com -> iPaaS.com's outbound hook -> here)."""
    for key, value in payload.items():
        if key == "id" or key in STORE_KEYS:
            continue
        have = current.get(key)
        if have is None or str(have).strip().lower() != str(value).strip().lower():
            return False
    return True
