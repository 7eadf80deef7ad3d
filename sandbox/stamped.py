"""Stamped.io v2 API sandbox, as the reference describes it: HTTP Basic auth (public key : private key) checked
on every request, the store hash in every path, 500 calls per 60 s -> 429, errors as {"message": ...}.

Customers: create POST /api/v2/{storeHash}/dashboard/customers/add, list GET .../dashboard/customers,
get GET .../dashboard/customers/{id}, update POST .../dashboard/customers/{id}. Stamped de-duplicates by
email: a create for an email it already has (case-insensitive) updates that customer and answers with it.
Ids are numbers like 143491. The body keys mirror the assumptions in
shared/ipaas_sync/destinations/stamped/mapping/customer.py (the v2 names are not published).
Sandbox assumption (not published): keys that do not belong to the store in the path answer 403.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hmac
import itertools

from .kit import SandboxKit
from .server import Reply, SandboxServer

LIMIT = (500, 60)  # Stamped.io: the subscription settings' default

FIELDS = ("email", "firstName", "lastName", "customCustomerId", "dateOfBirth", "tags")


class StampedSandbox(SandboxServer):
    name = "stamped"

    def __init__(
        self,
        public_key: str = "pubkey-sandbox0000000000000000",
        private_key: str = "key-sandbox-secret-0000",
        store_hash: str = "270392",
        *,
        rate_limit=LIMIT,
        **kw,
    ):
        self.public_key, self.private_key, self.store_hash = public_key, private_key, store_hash
        self.customers: dict[str, dict] = {}
        self._ids = itertools.count(143491)
        super().__init__(rate_limit=rate_limit, **kw)

    def authorized(self, headers) -> bool:
        got = headers.get("Authorization") or ""
        if not got.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(got[6:], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return hmac.compare_digest(user.encode(), self.public_key.encode()) and hmac.compare_digest(
            password.encode(), self.private_key.encode()
        )

    def unauthorized_body(self):
        return {"message": "Authorization has been denied for this request."}

    def register(self) -> None:
        base = "/api/v2/{store}/dashboard/customers"
        self.route("POST", f"{base}/add", self._create)
        self.route("GET", base, self._list)
        self.route("GET", f"{base}/{{id}}", self._get)
        self.route("POST", f"{base}/{{id}}", self._update)

    # -- test helpers --------------------------------------------------------------------------------------
    def add_customer(self, email: str, **fields) -> dict:
        with self.lock:
            customer = {"id": next(self._ids), "email": email, **fields}
            self.customers[str(customer["id"])] = customer
            return copy.deepcopy(customer)

    def by_email(self, email: str) -> dict | None:
        with self.lock:
            return next((c for c in self.customers.values() if c["email"].lower() == email.lower()), None)

    # -- routes -------------------------------------------------------------------------------------------------
    def _store(self, store: str) -> None:
        if store != self.store_hash:
            raise Reply(403, {"message": "The API keys do not belong to this store."})

    @staticmethod
    def _body(body) -> dict:
        if not isinstance(body, dict):
            raise Reply(400, {"message": "The request body must be a JSON object."})
        return {k: v for k, v in body.items() if k in FIELDS and v is not None}

    def _create(self, query, body, store):
        self._store(store)
        fields = self._body(body)
        if not str(fields.get("email") or "").strip():
            raise Reply(400, {"message": "email is required."})
        existing = self.by_email(fields["email"])
        if existing is not None:  # de-duplicated by email: this create updates that customer
            existing.update(fields)
            return copy.deepcopy(existing)
        customer = {"id": next(self._ids), **fields}
        self.customers[str(customer["id"])] = customer
        return copy.deepcopy(customer)

    def _list(self, query, body, store):
        self._store(store)
        return [copy.deepcopy(c) for c in self.customers.values()]

    def _get(self, query, body, store, id):
        self._store(store)
        if id not in self.customers:
            raise Reply(404, {"message": f"Customer {id} not found."})
        return copy.deepcopy(self.customers[id])

    def _update(self, query, body, store, id):
        self._store(store)
        if id not in self.customers:
            raise Reply(404, {"message": f"Customer {id} not found."})
        fields = self._body(body)
        other = self.by_email(fields["email"]) if fields.get("email") else None
        if other is not None and str(other["id"]) != id:
            raise Reply(400, {"message": "Another customer already has this email."})
        self.customers[id].update(fields)
        return copy.deepcopy(self.customers[id])


def _settings(server: StampedSandbox) -> dict:
    return {
        "API Url": server.url,
        "API Public Key": server.public_key,
        "API Private Key": server.private_key,
        "API Store Hash": server.store_hash,
        "API User": server.public_key,
        "API Password": server.private_key,
    }


def _held(server: StampedSandbox) -> list[tuple[str, str, str]]:
    with server.lock:
        return [
            (str(c["id"]), str(c["email"]).lower(), f"{c.get('firstName') or ''} {c.get('lastName') or ''}")
            for c in server.customers.values()
        ]


def _created(server: StampedSandbox) -> list[tuple[str, str | None]]:
    """A create is POST .../customers/add (an update posts to .../customers/<id>)."""
    calls = server.calls("POST", "/api/v2/", status=200)
    return [(str(r.body["email"]).lower(), r.fault) for r in calls if r.path.endswith("/add")]


SYSTEM_ID = "2001"
KIT = SandboxKit(
    attribute="stamped",
    system_id=SYSTEM_ID,
    server=StampedSandbox,
    limit=LIMIT,
    settings=_settings,
    webhook_key="whk-local-stamped-2001-0000000000",
    credential="API Private Key",
    customer=lambda n, last=None: {
        "email": f"ada{n}@example.com",
        "firstName": "Ada",
        "lastName": last or f"L{n}",
        "customCustomerId": str(n),
    },
    create_customer=lambda client, payload: str(client.create_customer(payload, what="contract customer")["id"]),
    get_customer=lambda client, key: client.get_customer(key, what="contract customer"),
    stored_customers=lambda server: len(server.customers),
    customer_key=lambda record: str(record["email_address"]).lower(),
    customer_create="create_customer",
    add_customer=lambda server, email: str(server.add_customer(email, firstName="Old")["id"]),
    held_customers=_held,
    created_customers=_created,
    update_customer=lambda client, key, payload: client.update_customer(key, payload, what="contract customer"),
    read_path="/api/v2/",
    write_path="/api/v2/",
)
