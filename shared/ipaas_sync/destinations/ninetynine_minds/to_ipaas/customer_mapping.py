"""99minds customer -> iPaaS.com customer (pure; the transfer does the I/O).

Published (iPaaS.com "99minds to iPaaS.com Customer" article): a create copies the 99minds identity (name, email,
contact identifier) into a new iPaaS.com customer and attaches the loyalty data as custom fields; an update
refreshes only the loyalty data and keeps the identity fields; EmailAddress, FirstName, LastName and Customer
Number are required in iPaaS.com; create vs update is decided by the link (table `customer`).

Formulas:
    EmailAddress     email (lower-cased)                      required
    FirstName        first_name                               required
    LastName         last_name                                required
    CustomerNumber   customer_number, else the 99minds id     (assumed: a customer made in 99minds may have none)
    PhoneNumber      phone (digits or +international)         omitted when absent
    custom fields    loyalty card id, points balance (names are settings); an empty value is left out

NOT published, assumed here: the customer's JSON names (those this project sends to 99minds: email, first_name,
last_name, customer_number, phone), the loyalty card's (`id`, `balance`; else `points_balance` / `points`) and the
reply envelopes (`data.customer`; `data.loyaltycards` / `data.loyalty_cards`). The "loyalty transaction history"
custom field of the article is not written: its format is not published.
"""

from __future__ import annotations

from typing import Any

from ....core.errors import InvalidRecord, PermanentError
from ....ipaas.custom_fields import custom_field_item
from ....mapping.common import normalize_phone, valid_email
from .loyalty_mapping import points, wire_points

REQUIRED = ("email", "first_name", "last_name")


def customer_from_reply(body: Any, subject: str) -> dict[str, Any]:
    data = body.get("data", body) if isinstance(body, dict) else None
    if isinstance(data, dict):
        return data["customer"] if isinstance(data.get("customer"), dict) else data
    raise PermanentError(f"{subject}: 99minds answered without a customer object")


def card_from_reply(body: Any, subject: str) -> dict[str, Any] | None:
    """The customer's loyalty card (the first listed; 99minds issues one per customer), or None."""
    data = body.get("data", body) if isinstance(body, dict) else None
    cards = None
    if isinstance(data, dict):
        cards = next((data[k] for k in ("loyaltycards", "loyalty_cards", "cards") if isinstance(data.get(k), list)), None)
    elif isinstance(data, list):
        cards = data
    if cards is None:
        raise PermanentError(f"{subject}: 99minds answered the loyalty card list without a list")
    return next((c for c in cards if isinstance(c, dict)), None)


def loyalty_fields(card: dict[str, Any] | None, subject: str, *, card_field: str, points_field: str) -> list[dict[str, str]]:
    if card is None:
        return []
    balance = next((card[k] for k in ("balance", "points_balance", "points") if card.get(k) not in (None, "")), None)
    values = (
        (card_field, str(card.get("id") or "").strip()),
        (points_field, wire_points(points(balance, f"{subject} loyalty card")) if balance is not None else None),
    )
    return [custom_field_item(name, value) for name, value in values if value not in (None, "")]


def new_customer(
    raw: dict[str, Any], *, ninetynine_id: str, system_id: str, fields: list[dict[str, str]], subject: str
) -> dict[str, Any]:
    missing = [k for k in REQUIRED if not str(raw.get(k) or "").strip()]
    if missing:
        names = ", ".join(f"'{n}'" for n in missing)
        raise InvalidRecord(f"{subject}: missing required field{'s' if len(missing) > 1 else ''} {names}")
    body = {
        "customer_number": str(raw.get("customer_number") or "").strip() or ninetynine_id,
        "first_name": str(raw["first_name"]).strip(),
        "last_name": str(raw["last_name"]).strip(),
        "email_address": valid_email(str(raw["email"]), subject, field="email"),
        "phone_number": normalize_phone(raw.get("phone"), subject, field="phone"),
        "custom_fields": fields,
        "external_ids": [{"system_id": system_id, "external_id": ninetynine_id}],
    }
    if not fields:
        body.pop("custom_fields")
    return {k: v for k, v in body.items() if v is not None}
