"""99minds API sandbox, as the reference describes it: bearer auth with the API Secret Key, the
documented paths, 150 requests per minute -> 429, a customer store (a create also issues a loyalty card
with balance 0), email mandatory, phone digits or +international, a store on every write.

Reply envelope {code, message, data}; the body keys mirror the assumptions in
shared/ipaas_sync/mapping/*_99minds.py (the real key names are not published).
"""
from __future__ import annotations

import copy
import re
import secrets
from typing import Any

from .server import Reply, SandboxServer, bearer

STORE_KEYS = ("store_ref_id", "client_store_id")


def ok(data: Any) -> dict:
    return {"code": 200, "message": "success", "data": data}


def rejected(status: int, message: str) -> Reply:
    return Reply(status, {"code": status, "message": message})


class NinetyNineMindsSandbox(SandboxServer):
    name = "99minds"

    def __init__(self, api_key: str = "99minds-sandbox-secret", *, rate_limit=(150, 60), **kw):
        self.api_key = api_key
        self.customers: dict[str, dict] = {}
        self.loyalty_cards: dict[str, dict] = {}
        super().__init__(rate_limit=rate_limit, **kw)

    def authorized(self, headers) -> bool:
        return bearer(headers, self.api_key)

    def register(self) -> None:
        self.route("POST", "/api/v1/ipaas/customers", self._upsert_customer)
        self.route("GET", "/api/v1/ipaas/customers/{id}", self._get_customer)
        self.route("GET", "/api/v1/ipaas/loyaltycards", self._loyalty_cards)

    # -- helpers shared by every write ----------------------------------------------------------------
    @staticmethod
    def require_store(body: dict) -> None:
        present = [k for k in STORE_KEYS if body.get(k)]
        if len(present) != 1:
            raise rejected(422, "exactly one of store_ref_id or client_store_id is required")

    @staticmethod
    def new_id(prefix: str) -> str:
        return f"{prefix}_{secrets.token_hex(9)}"

    # -- customers --------------------------------------------------------------------------------------
    def _upsert_customer(self, query, body):
        if not isinstance(body, dict):
            raise rejected(400, "body must be an object")
        self.require_store(body)
        if not body.get("email"):
            raise rejected(422, "email is required")
        phone = body.get("phone")
        if phone and not re.fullmatch(r"\+?\d{7,15}", str(phone)):
            raise rejected(422, "phone must be numeric or +1XXXXXXXXXX")
        same_email = next((c for c in self.customers.values()
                           if str(c.get("email", "")).lower() == str(body["email"]).lower()), None)
        if body.get("id"):
            customer = self.customers.get(body["id"])
            if customer is None:
                raise rejected(404, f"customer {body['id']} not found")
            customer.update({k: v for k, v in body.items() if k != "id"})
        elif same_email is not None:
            # assumed (see mapping/customer_99minds.py): one customer per email; a create answers it
            customer = same_email
            customer.update(body)
        else:
            customer = {**body, "id": self.new_id("customer")}
            self.customers[customer["id"]] = customer
            card_id = self.new_id("loyaltycard")
            self.loyalty_cards[card_id] = {"id": card_id, "customer_id": customer["id"], "balance": "0.00"}
        return ok({"customer": copy.deepcopy(customer)})

    def _get_customer(self, query, body, id):
        if id not in self.customers:
            raise rejected(404, f"customer {id} not found")
        return ok({"customer": copy.deepcopy(self.customers[id])})

    def _loyalty_cards(self, query, body):
        customer_id = (query.get("customer_id") or [None])[0]
        return ok({"loyaltycards": [c for c in self.loyalty_cards.values()
                                    if customer_id is None or c["customer_id"] == customer_id]})
