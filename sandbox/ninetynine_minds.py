"""99minds API sandbox, as the reference describes it: bearer auth with the API Secret Key, the
documented paths, 150 requests per minute -> 429, a customer store (a create also issues a loyalty card
with balance 0; `created_at` / `updated_at` kept; listed by `page_no`, the page size parameter and sizes
settable), email mandatory, phone digits or +international, a store on every write; the order workflow
(POST /api/v1/ipaas/workflows/execute), which records every execution and de-duplicates on its
IdempotentId as 99minds is documented to; and gift cards (issue with a campaign, reload, redeem, get by id
or number; balances kept as Decimal and answered as two-place decimal strings; a redemption beyond the
balance -> 422).

Not published, implemented as the subscription settings assume (settings.NinetyNineMindsSettings, docs/giftcards.md):
a reload/redemption keeps the reference it was sent in `reference_field` (default `reference_id`), and the card's
history is looked up by it: `GET /api/v1/giftcards/transactions?card_id=&reference_id=` answers
`data.transactions[]` (`type`, `amount`, the reference, ...), in pages with `history_paging()` (`page_no`, `total`,
`next_page`; leading empty pages possible), listing an activity only some seconds after it was applied with
`history_lag()`. `use_card()` uses a card the way a shop till does, past
this integration (a history entry with the till's own reference), e.g. between a lost answer and its redelivery.
The reply to a duplicate IdempotentId is not published; this sandbox answers 200 with the execution it
already has (message "already executed") and changes nothing.

Loyalty (the 99minds -> iPaaS.com direction): each customer has a loyalty card (`balance` = points). An
`order_paid` execution earns `points_per_unit` x total_price points (a loyalty transaction of type `earn` with
the order's IdempotentId as `client_order_id`); `order_refunded` reverses what the original order earned
(type `reversal`); `adjust_points` / `redeem_points` are changes made in 99minds itself (no order). Loyalty
transactions are read by id (`GET /api/v1/ipaas/loyaltycards/transactions/{id}`, assumed) or listed by
customer / card (published). With `webhook_url` set, every loyalty transaction and customer change is posted
there as a webhook: `Authorization: Bearer <webhook_key>` and `{"scope": <event>, "external_id": <id>}` (the
iPaaS.com template receiver's shape, which is also the product's default; 99minds' own is not published).
"""

from __future__ import annotations

import copy
import math
import re
import secrets
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from .kit import SandboxKit
from .server import Reply, SandboxServer, bearer

LIMIT = (150, 60)  # 99minds: 150 requests per minute per IP address

STORE_KEYS = ("store_ref_id", "client_store_id")


def ok(data: Any) -> dict:
    return {"code": 200, "message": "success", "data": data}


def rejected(status: int, message: str) -> Reply:
    return Reply(status, {"code": status, "message": message})


class NinetyNineMindsSandbox(SandboxServer):
    name = "99minds"

    def __init__(
        self,
        api_key: str = "99minds-sandbox-secret",
        *,
        rate_limit=LIMIT,
        reference_field: str = "reference_id",
        **kw,
    ):
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
        # the card-history lookup's paging and lag (not published; see history_paging / history_lag)
        self.history_page_size: int | None = None
        self.history_empty_pages = 0
        self.history_lag_seconds = 0.0
        self._listed_after: dict[tuple[str, int], float] = {}  # (card id, history index) -> listed from (epoch s)
        # loyalty: transaction id -> {id, transaction_amount, transaction_type, customer_id, card_id, client_order_id}
        self.loyalty_transactions: dict[str, dict] = {}
        # the customer list (GET /api/v1/ipaas/customers?page_no=): only page_no is published; the page size
        # parameter's name and the default / largest page size are the product's settings' defaults, changeable
        self.list_size_param = "page_size"
        self.list_default_size = 50
        self.list_max_size = 100
        self.points_per_unit = Decimal(1)
        self.webhook_url: str | None = None
        self.webhook_key: str | None = None
        self.webhooks: list[dict] = []  # every webhook sent: {"event", "id", "status"}
        self._webhook_lock = threading.Lock()
        super().__init__(rate_limit=rate_limit, **kw)

    def authorized(self, headers) -> bool:
        return bearer(headers, self.api_key)

    def register(self) -> None:
        self.route("POST", "/api/v1/ipaas/customers", self._upsert_customer)
        self.route("GET", "/api/v1/ipaas/customers", self._list_customers)
        self.route("GET", "/api/v1/ipaas/customers/{id}", self._get_customer)
        self.route("GET", "/api/v1/ipaas/loyaltycards", self._loyalty_cards)
        self.route("GET", "/api/v1/ipaas/loyaltycards/transactions", self._list_loyalty_transactions)
        self.route("GET", "/api/v1/ipaas/loyaltycards/transactions/{id}", self._get_loyalty_transaction)
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
        same_email = next(
            (c for c in self.customers.values() if str(c.get("email", "")).lower() == str(body["email"]).lower()), None
        )
        if body.get("id"):
            customer = self.customers.get(body["id"])
            if customer is None:
                raise rejected(404, f"customer {body['id']} not found")
            customer.update(
                {k: v for k, v in body.items() if k != "id"}, updated_at=datetime.now(UTC).isoformat(timespec="seconds")
            )
            self.notify("customer/updated", customer["id"])
        elif same_email is not None:
            # assumed (see destinations/ninetynine_minds/mapping/customer.py): one customer per email; a create answers it
            customer = same_email
            customer.update(body, updated_at=datetime.now(UTC).isoformat(timespec="seconds"))
            self.notify("customer/updated", customer["id"])
        else:
            now = datetime.now(UTC).isoformat(timespec="seconds")
            customer = {**body, "id": self.new_id("customer"), "created_at": now}
            self.customers[customer["id"]] = customer
            card_id = self.new_id("loyaltycard")
            self.loyalty_cards[card_id] = {"id": card_id, "customer_id": customer["id"], "balance": "0"}
            self.notify("customer/created", customer["id"])
        return ok({"customer": copy.deepcopy(customer)})

    def _list_customers(self, query, body):
        """Customers in creation order, `page_no` from 1; a page past the end is empty."""
        try:
            page = int((query.get("page_no") or ["1"])[0])
            size = int((query.get(self.list_size_param) or [self.list_default_size])[0])
        except ValueError:
            raise rejected(422, "page_no and the page size must be numbers") from None
        if page < 1 or size < 1:
            raise rejected(422, "page_no and the page size must be at least 1")
        size = min(size, self.list_max_size)
        customers = list(self.customers.values())[(page - 1) * size : page * size]
        return ok({"customers": copy.deepcopy(customers), "page_no": page})

    def _get_customer(self, query, body, id):
        if id not in self.customers:
            raise rejected(404, f"customer {id} not found")
        return ok({"customer": copy.deepcopy(self.customers[id])})

    def _loyalty_cards(self, query, body):
        customer_id = (query.get("customer_id") or [None])[0]
        return ok(
            {"loyaltycards": [c for c in self.loyalty_cards.values() if customer_id is None or c["customer_id"] == customer_id]}
        )

    # -- the order workflow -----------------------------------------------------------------------------
    def _execute_workflow(self, query, body):
        if not isinstance(body, dict):
            raise rejected(400, "body must be an object")
        idempotent_id = body.get("idempotent_id")
        if not idempotent_id:
            raise rejected(422, "idempotent_id is required")
        if idempotent_id in self.executions:  # documented: 99minds de-duplicates on IdempotentId
            self.duplicate_executions += 1
            return {
                "code": 200,
                "message": "already executed",
                "data": {"execution": copy.deepcopy(self.executions[idempotent_id])},
            }
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
        if body["trigger"] == "order_paid":
            earned = (Decimal(str(body["total_price"])) * self.points_per_unit).to_integral_value(rounding="ROUND_FLOOR")
            if earned:
                self._loyalty(body["customer_id"], earned, "earn", client_order_id=idempotent_id)
        elif original is not None:
            earned = sum(
                (
                    Decimal(t["transaction_amount"])
                    for t in self.loyalty_transactions.values()
                    if t.get("client_order_id") == original and t["transaction_type"] == "earn"
                ),
                Decimal(0),
            )
            if earned:
                self._loyalty(body["customer_id"], -earned, "reversal", client_order_id=original)
        return ok({"execution": copy.deepcopy(execution)})

    # -- loyalty ------------------------------------------------------------------------------------------------
    def card_of(self, customer_id: str) -> dict:
        card = next((c for c in self.loyalty_cards.values() if c["customer_id"] == customer_id), None)
        if card is None:  # 99minds issues a card with every customer; tests may seed customers without one
            card = {"id": self.new_id("loyaltycard"), "customer_id": customer_id, "balance": "0"}
            self.loyalty_cards[card["id"]] = card
        return card

    def _loyalty(self, customer_id: str, amount: Decimal, kind: str, *, client_order_id: str | None = None) -> dict:
        card = self.card_of(customer_id)
        card["balance"] = str(Decimal(card["balance"]) + amount)
        txn = {
            "id": self.new_id("transaction"),
            "transaction_amount": str(amount),
            "transaction_type": kind,
            "customer_id": customer_id,
            "card_id": card["id"],
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        if client_order_id:
            txn["client_order_id"] = client_order_id
        self.loyalty_transactions[txn["id"]] = txn
        self.notify("loyalty_transaction/created", txn["id"])
        self.notify("customer/updated", customer_id)  # the points balance is customer data too
        return copy.deepcopy(txn)

    def adjust_points(self, customer_id: str, amount: int | str, kind: str = "adjustment") -> dict:
        """Test helper: a manual point adjustment made in 99minds (no order)."""
        with self.lock:
            return self._loyalty(customer_id, Decimal(str(amount)), kind)

    def redeem_points(self, customer_id: str, amount: int | str) -> dict:
        """Test helper: points redeemed at the till (no iPaaS.com order)."""
        with self.lock:
            return self._loyalty(customer_id, -abs(Decimal(str(amount))), "redeem")

    def _get_loyalty_transaction(self, query, body, id):
        if id not in self.loyalty_transactions:
            raise rejected(404, f"loyalty transaction {id} not found")
        return ok({"transaction": copy.deepcopy(self.loyalty_transactions[id])})

    def _list_loyalty_transactions(self, query, body):
        wanted = {k: (query.get(k) or [None])[0] for k in ("customer_id", "card_id", "client_order_id")}
        if not wanted["customer_id"] and not wanted["card_id"]:
            raise rejected(422, "customer_id or card_id is required")
        return ok(
            {
                "transactions": [
                    copy.deepcopy(t)
                    for t in self.loyalty_transactions.values()
                    if all(v is None or t.get(k) == v for k, v in wanted.items())
                ]
            }
        )

    def notify(self, event: str, record_id: str) -> None:
        """Post the webhook of one change to `webhook_url` (when set), as 99minds does after a change."""
        if not self.webhook_url:
            return
        import requests

        headers = {"Content-Type": "application/json"}
        if self.webhook_key:
            headers["Authorization"] = f"Bearer {self.webhook_key}"
        with self._webhook_lock:
            try:
                status = requests.post(
                    self.webhook_url, json={"scope": event, "external_id": record_id}, headers=headers, timeout=10
                ).status_code
            except requests.RequestException as exc:
                status = type(exc).__name__
            self.webhooks.append({"event": event, "id": record_id, "status": status})

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
            card = {
                "id": self.new_id("giftcard"),
                "giftcard_number": number,
                "balance": Decimal(balance),
                "status": "active",
                "history": [],
                **extra,
            }
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
        card = {
            "id": self.new_id("giftcard"),
            "giftcard_number": number,
            "balance": amount,
            "status": "active",
            "campaign_id": body["campaign_id"],
            "history": [("issue", amount, None)],
            **{k: body[k] for k in (*STORE_KEYS, "customer_id", "customer_email", "expiry_date") if body.get(k)},
        }
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
                self._listed_after[(card["id"], len(card["history"]))] = time.time() + self.history_lag_seconds
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
            self._listed_after[(card["id"], len(card["history"]))] = time.time() + self.history_lag_seconds
            card["history"].append((kind, value, reference or self.new_id("till")))

    def history_paging(self, page_size: int, *, empty_pages: int = 0) -> None:
        """Answer the card-history lookup in pages of `page_size` (`page_no`, from 1), each with `total` and
        `next_page`; the first `empty_pages` pages list nothing although `total` counts every entry (an answer 99minds
        may give: "total 1, next page 2" and no entry on page 1)."""
        self.history_page_size, self.history_empty_pages = page_size, empty_pages

    def history_lag(self, seconds: float) -> None:
        """Reloads and redemptions applied from now on are listed in the card history only `seconds` later (the
        balance moves at once)."""
        self.history_lag_seconds = seconds

    def _giftcard_history(self, query, body):
        key = (query.get("card_id") or [None])[0]
        card = self.giftcard(key) if key else None
        if card is None:
            raise rejected(404 if key else 422, f"giftcard {key} not found" if key else "card_id is required")
        wanted = (query.get(self.reference_field) or [None])[0]
        entries = [
            {
                "id": f"{card['id']}-{n}",
                "giftcard_id": card["id"],
                "giftcard_number": card["giftcard_number"],
                "type": kind,
                "amount": str(amount),
                self.reference_field: reference,
            }
            for n, (kind, amount, reference) in enumerate(card["history"], 1)
            if (wanted is None or reference == wanted) and self._listed_after.get((card["id"], n - 1), 0.0) <= time.time()
        ]
        size = self.history_page_size
        if size is None:
            return ok({"transactions": entries})
        try:
            page = int((query.get("page_no") or ["1"])[0])
        except ValueError:
            raise rejected(422, "page_no must be an integer") from None
        last = self.history_empty_pages + max(1, math.ceil(len(entries) / size))
        start = (page - 1 - self.history_empty_pages) * size
        rows = entries[start : start + size] if page > self.history_empty_pages else []
        return ok({"transactions": rows, "total": len(entries), "page_no": page, "next_page": page + 1 if page < last else None})

    def _get_giftcard(self, query, body, card_id):
        card = self.giftcard(card_id)
        if card is None:
            raise rejected(404, f"giftcard {card_id} not found")
        return ok({"giftcard": self.giftcard_view(card)})

    def _list_giftcards(self, query, body):
        page = int((query.get("page_no") or ["1"])[0])
        cards = sorted(self.giftcards.values(), key=lambda c: c["id"])
        size = 50
        return ok({"giftcards": [self.giftcard_view(c) for c in cards[(page - 1) * size : page * size]], "page_no": page})


WORKFLOW_TRIGGERS = ("order_paid", "order_refunded")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _settings(server: NinetyNineMindsSandbox) -> dict[str, Any]:
    return {
        "API Url": server.url,
        "API Secret Key": server.api_key,
        "Store Ref Id": "store_b81a893dc2bc6e1a5d",
        "Campaign Id": "campaign_local",
    }


_STORE = "store_b81a893dc2bc6e1a5d"


def _customer(n: int, last: str | None = None) -> dict[str, Any]:
    return {"email": f"ada{n}@example.com", "first_name": "Ada", "last_name": last or f"L{n}", "store_ref_id": _STORE}


def _create(client, payload: dict[str, Any]) -> str:
    return str(client.upsert_customer(payload, what="contract customer")["data"]["customer"]["id"])


def _get(client, key: str) -> Any:
    reply = client.get_customer(key, what="contract customer")
    return None if reply is None else reply["data"]["customer"]


def _add_customer(server: NinetyNineMindsSandbox, email: str) -> str:
    with server.lock:
        customer = {"id": server.new_id("customer"), "email": email, "first_name": "Old", "store_ref_id": _STORE}
        server.customers[customer["id"]] = customer
        return str(customer["id"])


def _held(server: NinetyNineMindsSandbox) -> list[tuple[str, str, str]]:
    with server.lock:
        return [
            (c["id"], str(c["email"]).lower(), f"{c.get('first_name') or ''} {c.get('last_name') or ''}")
            for c in server.customers.values()
        ]


def _created(server: NinetyNineMindsSandbox) -> list[tuple[str, str | None]]:
    """Creates and updates share the path; a create is the one without an id."""
    calls = server.calls("POST", "/api/v1/ipaas/customers", status=200)
    return [(str(r.body["email"]).lower(), r.fault) for r in calls if "id" not in r.body]


SYSTEM_ID = "1001"
KIT = SandboxKit(
    attribute="ninetynine",
    system_id=SYSTEM_ID,
    server=NinetyNineMindsSandbox,
    limit=LIMIT,
    settings=_settings,
    webhook_key=None,  # the stack's own key: the 99minds subscription is the one the hook tests post for
    credential="API Secret Key",
    customer=_customer,
    create_customer=_create,
    get_customer=_get,
    stored_customers=lambda server: len(server.customers),
    customer_key=lambda record: str(record["email_address"]).lower(),
    customer_create="upsert_customer",
    add_customer=_add_customer,
    held_customers=_held,
    created_customers=_created,
    update_customer=lambda client, key, payload: client.upsert_customer({**payload, "id": key}, what="contract customer"),
    read_path="/api/v1/ipaas/customers",
    write_path="/api/v1/ipaas/customers",
)
