"""iPaaS.com customer -> Makini (Mintsoft) customer: POST /api/wms/customers {name, code, companyKey}.

Published (Makini OpenAPI): the create body is {name, code, companyKey}, the reply {data: Customer} with the
Makini `key`. Assumed here (the one place to adjust): `code` is the iPaaS.com customer number (also what the
existence check searches by); `name` is "first last", else the company; `companyKey` is the subscription's
Company Key when one is set (Makini customers are a subdivision of a company).
"""

from __future__ import annotations

from typing import Any

from ....core.errors import InvalidRecord, PermanentError
from ....core.models.ipaas import IpaasCustomer
from ....mapping.common import clean, present, require

REQUIRED = ("customer_number",)


def display_name(customer: IpaasCustomer) -> str | None:
    full = " ".join(p.strip() for p in (customer.first_name or "", customer.last_name or "") if p and p.strip())
    return full or (customer.company or "").strip() or None


def map_customer(customer: IpaasCustomer, company_key: str | None) -> dict[str, Any]:
    subject = f"customer {customer.id}"
    require(customer, subject, REQUIRED)
    name = display_name(customer)
    if not name:
        raise InvalidRecord(
            f"{subject}: missing required field 'first_name', 'last_name' or 'company' (Makini needs a customer name)"
        )
    code = present(customer.customer_number, subject, "customer_number").strip()
    return clean({"name": name, "code": code, "companyKey": company_key or None})


def key_from_reply(body: Any, subject: str, entity: str = "customer") -> str:
    data = body.get("data") if isinstance(body, dict) else None
    if isinstance(data, dict) and data.get("key") not in (None, ""):
        return str(data["key"])
    raise PermanentError(f"{subject}: Makini accepted the {entity} but its reply carries no data.key")
