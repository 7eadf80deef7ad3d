"""99minds API sandbox, as the reference describes it: bearer auth with the API Secret Key, the
documented paths, 150 requests per minute -> 429, a customer store (a create also issues a loyalty card
with balance 0), email mandatory, phone digits or +international, a store on every write; the order
workflow (POST /api/v1/ipaas/workflows/execute), which records every execution and de-duplicates on its
IdempotentId as 99minds is documented to; and gift cards (issue with a campaign, reload, redeem, get by id
or number; balances kept as Decimal and answered as two-place decimal strings; a redemption beyond the
balance -> 422).

Not published, implemented as the subscription settings assume (settings.NinetyNineMindsSettings, docs/giftcards.md):
a reload/redemption keeps the reference it was sent in `reference_field` (default `reference_id`), and the card's
history is looked up by it: `GET /api/v1/giftcards/transactions?card_id=&reference_id=` answers
`data.transactions[]` (`type`, `amount`, the reference, ...). `use_card()` uses a card the way a shop till does, past
this integration (a history entry with the till's own reference), e.g. between a lost answer and its redelivery.
The reply to a duplicate IdempotentId is not published; this sandbox answers 200 with the execution it
already has (message "already executed") and changes nothing.
"""
from __future__ import annotations

import copy
import re
import secrets
from decimal import Decimal, InvalidOperation
from typing import Any

from .server import Reply, SandboxServer, bearer

STORE_KEYS = ("store_ref_id", "client_store_id")


def ok(data: Any) -> dict:
    return {"code": 200, "message": "success", "data": data}


def rejected(status: int, message: str) -> Reply:
    return Reply(status, {"code": status, "message": message})


class NinetyNineMindsSandbox(SandboxServer):
    name = "99minds"

    def __init__(self, api_key: str = "99minds-sandbox-secret", *, rate_limit=(150, 60),
                 reference_field: str = "reference_id", **kw):
        self.api_key = api_key
        self.reference_field = reference_field
        self.customers: dict[str, dict] = {}
        self.loyalty_cards: dict[str, dict] = {}
        # IdempotentId -> the workflow execution it created (the first one wins)
        self.executions: dict[str, dict] = {}
        self.duplicate_executions = 0

        # 99minds card id -> card; "balance" is a Decimal, "history" lists every applied issue/reload/redemption as
        # (kind, amount, reference)
        self.giftcards: dict[str, dict] = {}
        super().__init__(rate_limit=rate_limit, **kw)

    def authorized(self, headers) -> bool:
        return bearer(headers, self.api_key)

    def register(self) -> None:
        self.route("POST", "/api/v1/ipaas/customers", self._upsert_customer)
        self.route("GET", "/api/v1/ipaas/customers/{id}", self._get_customer)
        self.route("GET", "/api/v1/ipaas/loyaltycards", self._loyalty_cards)
        self.route("POST", "/api/v1/ipaas/workflows/execute", self._execute_workflow)
        self.route("POST", "/api/v1/giftcards/issue", self._issue_giftcard)
        self.route("POST", "/api/v1/giftcards/reload", self._activity("reload", "reload_amount"))
        self.route("POST", "/api/v1/giftcards/redeem", self._activity("redeem", "redemption_amount"))
        self.route("GET", "/api/v1/giftcards", self._list_giftcards)
        self.route("GET", "/api/v1/giftcards/transactions", self._giftcard_history)  # before {card_id}
        self.route("GET", "/api/v1/giftcards/{card_id}", self._get_giftcard)

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

    # -- the order workflow -----------------------------------------------------------------------------
    def _execute_workflow(self, query, body):
        if not isinstance(body, dict):
            raise rejected(400, "body must be an object")
        idempotent_id = body.get("idempotent_id")
        if not idempotent_id:
            raise rejected(422, "idempotent_id is required")
        if idempotent_id in self.executions:  # documented: 99minds de-duplicates on IdempotentId
            self.duplicate_executions += 1
            return {"code": 200, "message": "already executed",
                    "data": {"execution": copy.deepcopy(self.executions[idempotent_id])}}
        self.require_store(body)
        missing = [k for k in ("customer_id", "trigger", "subtotal_price", "total_quantity") if body.get(k) is None]
        if missing:
            raise rejected(422, f"required: {', '.join(missing)}")
        if body["trigger"] not in WORKFLOW_TRIGGERS:
            raise rejected(422, f"trigger must be one of {', '.join(WORKFLOW_TRIGGERS)}")
        for key in ("total_price", "subtotal_price", "total_quantity", "loyalty_points_claimed", "refund_amount"):
            if key in body and not _is_number(body[key]):
                raise rejected(422, f"{key} must be a number")
        if body["customer_id"] not in self.customers:
            raise rejected(404, f"customer {body['customer_id']} not found")
        if body["trigger"] == "order_paid" and ("total_price" not in body or "refund_amount" in body):
            raise rejected(422, "order_paid needs total_price and takes no refund_amount")
        original = body.get("original_order_id")
        if original is not None and original not in self.executions:
            raise rejected(422, f"original order {original} not found")  # seed: must be a valid 99minds order
        for n, line in enumerate(body.get("line_items") or []):
            if not isinstance(line, dict) or not line.get("line_id") or not _is_number(line.get("quantity")):
                raise rejected(422, f"line_items[{n}] needs line_id and a numeric quantity")
        execution = {"id": self.new_id("execution"), "status": "completed", **copy.deepcopy(body)}
        self.executions[idempotent_id] = execution
        return ok({"execution": copy.deepcopy(execution)})


    # -- gift cards -----------------------------------------------------------------------------------------
    @staticmethod
    def money(value: Any, field: str, *, positive: bool) -> Decimal:
        if isinstance(value, (bool, float)) or value is None:
            raise rejected(422, f"{field} must be a decimal string or integer")
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            raise rejected(422, f"{field} is not a number") from None
        if not amount.is_finite() or amount < 0 or (positive and amount == 0):
            raise rejected(422, f"{field} must be {'positive' if positive else 'zero or more'}")
        if amount != amount.quantize(Decimal("0.01")):
            raise rejected(422, f"{field} has more than two decimal places")
        return amount.quantize(Decimal("0.01"))

    def add_giftcard(self, number: str, balance: str = "0.00", **extra) -> dict:
        """Test helper: a card that already exists in 99minds."""
        with self.lock:
            card = {"id": self.new_id("giftcard"), "giftcard_number": number, "balance": Decimal(balance),
                    "status": "active", "history": [], **extra}
            self.giftcards[card["id"]] = card
            return card

    def giftcard(self, key: str) -> dict | None:
        """By 99minds id or by giftcard number."""
        with self.lock:
            if key in self.giftcards:
                return self.giftcards[key]
            return next((c for c in self.giftcards.values() if c["giftcard_number"] == key), None)

    @staticmethod
    def giftcard_view(card: dict) -> dict:
        view = {k: copy.deepcopy(v) for k, v in card.items() if k != "history"}
        view["balance"] = str(card["balance"])
        return view

    def _issue_giftcard(self, query, body):
        if not isinstance(body, dict):
            raise rejected(400, "body must be an object")
        self.require_store(body)
        if not body.get("campaign_id"):
            raise rejected(422, "campaign_id is required")
        amount = self.money(body.get("amount"), "amount", positive=False)
        number = str(body.get("giftcard_number") or secrets.token_hex(8).upper())
        if self.giftcard(number) is not None:
            raise rejected(422, f"giftcard_number {number} already exists")
        card = {"id": self.new_id("giftcard"), "giftcard_number": number, "balance": amount, "status": "active",
                "campaign_id": body["campaign_id"], "history": [("issue", amount, None)],
                **{k: body[k] for k in (*STORE_KEYS, "customer_id", "customer_email", "expiry_date") if body.get(k)}}
        self.giftcards[card["id"]] = card
        return ok({"giftcard": self.giftcard_view(card)})

    def _activity(self, kind: str, amount_key: str):
        def apply(query, body):
            if not isinstance(body, dict):
                raise rejected(400, "body must be an object")
            self.require_store(body)
            entries = ((body.get("giftcard") or {}).get("data")) if isinstance(body.get("giftcard"), dict) else None
            if not isinstance(entries, list) or not entries:
                raise rejected(422, "giftcard.data must be a non-empty list")
            planned = []
            balances: dict[str, Decimal] = {}
            for entry in entries:  # validate every entry first: all or nothing
                card = self.giftcard(str((entry or {}).get("giftcard_number") or ""))
                if card is None:
                    raise rejected(404, f"giftcard {entry.get('giftcard_number') if entry else None} not found")
                amount = self.money((entry or {}).get(amount_key), amount_key, positive=True)
                balance = balances.get(card["id"], card["balance"])
                balance = balance + amount if kind == "reload" else balance - amount
                if balance < 0:
                    raise rejected(422, f"insufficient balance on giftcard {card['giftcard_number']}")
                balances[card["id"]] = balance
                planned.append((card, amount))
            for card, amount in planned:
                card["balance"] = card["balance"] + amount if kind == "reload" else card["balance"] - amount
                card["history"].append((kind, amount, body.get(self.reference_field)))
            views = [self.giftcard_view(card) for card, _ in planned]
            return ok({"giftcard": views[-1], "giftcards": views})
        return apply

    def use_card(self, number: str, kind: str, amount: str, reference: str | None = None) -> None:
        """Test helper: a reload/redemption 99minds applies outside any answer we see: with no reference, a use at
        a shop till (it gets the till's own reference); with ours, a request whose answer was lost."""
        with self.lock:
            card = self.giftcard(number)
            value = Decimal(amount)
            card["balance"] += value if kind == "reload" else -value
            card["history"].append((kind, value, reference or self.new_id("till")))

    def _giftcard_history(self, query, body):
        key = (query.get("card_id") or [None])[0]
        card = self.giftcard(key) if key else None
        if card is None:
            raise rejected(404 if key else 422, f"giftcard {key} not found" if key else "card_id is required")
        wanted = (query.get(self.reference_field) or [None])[0]
        entries = [{"id": f"{card['id']}-{n}", "giftcard_id": card["id"], "giftcard_number": card["giftcard_number"],
                    "type": kind, "amount": str(amount), self.reference_field: reference}
                   for n, (kind, amount, reference) in enumerate(card["history"], 1)
                   if wanted is None or reference == wanted]
        return ok({"transactions": entries})

    def _get_giftcard(self, query, body, card_id):
        card = self.giftcard(card_id)
        if card is None:
            raise rejected(404, f"giftcard {card_id} not found")
        return ok({"giftcard": self.giftcard_view(card)})

    def _list_giftcards(self, query, body):
        page = int((query.get("page_no") or ["1"])[0])
        cards = sorted(self.giftcards.values(), key=lambda c: c["id"])
        size = 50
        return ok({"giftcards": [self.giftcard_view(c) for c in cards[(page - 1) * size:page * size]],
                   "page_no": page})


WORKFLOW_TRIGGERS = ("order_paid", "order_refunded")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
