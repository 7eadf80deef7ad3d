"""Makini unified API sandbox (Mintsoft behind it), as the reference and the Makini OpenAPI describe it:
bearer token per connection checked on every request (401 otherwise), the /api/wms paths, paged lists
{data, links{first,last,prev,next}, meta{current_page, from, last_page, path, per_page, to, total}} with
`page` / `per_page` (at most 100) and `filter[field]=value`, a rate limit answered with 429 + Retry-After,
and writes replying {data: record} with a 14-digit `key`.

Switches a test can set, to show the client copes with what the seed and the spec leave open:
    paging = "pages"   meta.last_page (the spec), or "cursor": no last_page; links.next carries a `cursor`
                       continuation token (the seed's wording)
    honour_filters     False: filters are ignored (a connector that cannot filter); the client must page
                       through and match itself
Validation (sandbox assumptions, Laravel-style 422 {"message", "errors"}): customer `name` and `code`
required and `code` unique; a sales order needs a unique `code`, an existing `customerKey` when given, and
lines whose `productKey` exists.
"""

from __future__ import annotations

import copy
import itertools
import math
import re
from urllib.parse import urlencode

from .kit import SandboxKit
from .server import Reply, SandboxServer, bearer

LIMIT = (100, 60)  # Makini: not published, the subscription settings' default

MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 15


def invalid(field: str, message: str) -> Reply:
    return Reply(422, {"message": message, "errors": {field: [message]}})


class MakiniSandbox(SandboxServer):
    name = "makini"

    def __init__(
        self,
        token: str = "makini-sandbox-token-0000",
        *,
        rate_limit=LIMIT,
        paging: str = "pages",
        honour_filters: bool = True,
        **kw,
    ):
        self.token = token
        self.paging = paging
        self.honour_filters = honour_filters
        self.customers: dict[str, dict] = {}
        self.products: dict[str, dict] = {}
        self.sales_orders: dict[str, dict] = {}
        self._keys = itertools.count(3000000000001)
        super().__init__(rate_limit=rate_limit, **kw)

    def authorized(self, headers) -> bool:
        return bearer(headers, self.token)

    def unauthorized_body(self):
        return {"message": "Unauthenticated."}

    def register(self) -> None:
        for path, store in (
            ("/api/wms/customers", "customers"),
            ("/api/wms/products", "products"),
            ("/api/wms/sales-orders", "sales_orders"),
        ):
            self.route("GET", path, self._lister(path, store))
            self.route("GET", f"{path}/{{key}}", self._getter(store))
        self.route("POST", "/api/wms/customers", self._create_customer)
        self.route("POST", "/api/wms/sales-orders", self._create_sales_order)
        self.route("PUT", "/api/wms/sales-orders/{key}", self._update_sales_order)

    # -- test helpers ------------------------------------------------------------------------------------
    def new_key(self) -> str:
        return f"{next(self._keys):014d}"

    def add_customer(self, code: str, name: str = "Existing Customer", **fields) -> dict:
        with self.lock:
            record = {"key": self.new_key(), "code": code, "name": name, **fields}
            self.customers[record["key"]] = record
            return copy.deepcopy(record)

    def add_product(self, sku: str, name: str | None = None) -> dict:
        with self.lock:
            record = {"key": self.new_key(), "sku": sku, "code": sku, "name": name or sku}
            self.products[record["key"]] = record
            return copy.deepcopy(record)

    def find(self, store: str, field: str, value: str) -> list[dict]:
        with self.lock:
            return [r for r in getattr(self, store).values() if str(r.get(field)) == value]

    # -- reads --------------------------------------------------------------------------------------------
    @staticmethod
    def _int(query: dict, name: str, default: int) -> int:
        raw = (query.get(name) or [str(default)])[0]
        if not raw.isdigit() or int(raw) < 1:
            raise invalid(name, f"The {name} must be a positive integer.")
        return int(raw)

    def _filtered(self, store: str, query: dict) -> list[dict]:
        rows = list(getattr(self, store).values())
        if not self.honour_filters:
            return rows
        for name, values in query.items():
            m = re.fullmatch(r"filter\[(\w+)\]", name)
            if m:
                rows = [r for r in rows if str(r.get(m.group(1), "")) == values[0]]
        return rows

    def _lister(self, path: str, store: str):
        def list_(query, body):
            per_page = min(self._int(query, "per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE)
            rows = self._filtered(store, query)
            if self.paging == "cursor":
                start = int((query.get("cursor") or ["0"])[0] or 0)
                page_rows = rows[start : start + per_page]
                rest = {k: v[0] for k, v in query.items() if k not in ("cursor", "page")}
                nxt = (
                    f"{self.url}{path}?{urlencode({**rest, 'cursor': start + per_page})}"
                    if start + per_page < len(rows)
                    else None
                )
                return {
                    "data": copy.deepcopy(page_rows),
                    "links": {"next": nxt},
                    "meta": {"per_page": per_page, "path": f"{self.url}{path}"},
                }
            page = self._int(query, "page", 1)
            last = max(1, math.ceil(len(rows) / per_page))
            page_rows = rows[(page - 1) * per_page : page * per_page]
            rest = {k: v[0] for k, v in query.items() if k != "page"}

            def link(n: int) -> str:
                return f"{self.url}{path}?{urlencode({**rest, 'page': n})}"

            return {
                "data": copy.deepcopy(page_rows),
                "links": {
                    "first": link(1),
                    "last": link(last),
                    "prev": link(page - 1) if page > 1 else None,
                    "next": link(page + 1) if page < last else None,
                },
                "meta": {
                    "current_page": page,
                    "from": (page - 1) * per_page + 1 if page_rows else None,
                    "last_page": last,
                    "path": f"{self.url}{path}",
                    "per_page": per_page,
                    "to": (page - 1) * per_page + len(page_rows) if page_rows else None,
                    "total": len(rows),
                },
            }

        return list_

    def _getter(self, store: str):
        def get(query, body, key):
            record = getattr(self, store).get(key)
            if record is None:
                raise Reply(404, {"message": "Not found."})
            return {"data": copy.deepcopy(record)}

        return get

    # -- writes ---------------------------------------------------------------------------------------------
    @staticmethod
    def _object(body) -> dict:
        if not isinstance(body, dict):
            raise Reply(400, {"message": "The request body must be a JSON object."})
        return body

    def _create_customer(self, query, body):
        body = self._object(body)
        for field in ("name", "code"):
            if not str(body.get(field) or "").strip():
                raise invalid(field, f"The {field} field is required.")
        if self.find("customers", "code", str(body["code"])):
            raise invalid("code", "The code has already been taken.")
        record = {"key": self.new_key(), **{k: body[k] for k in ("name", "code", "companyKey") if k in body}}
        self.customers[record["key"]] = record
        return {"data": copy.deepcopy(record)}

    def _check_order(self, body: dict, key: str | None) -> None:
        if not str(body.get("code") or "").strip():
            raise invalid("code", "The code field is required.")
        same = [o for o in self.find("sales_orders", "code", str(body["code"])) if o["key"] != key]
        if same:
            raise invalid("code", "The code has already been taken.")
        if body.get("customerKey") and body["customerKey"] not in self.customers:
            raise invalid("customerKey", "The selected customer key is invalid.")
        lines = body.get("lines")
        if not isinstance(lines, list) or not lines:
            raise invalid("lines", "The lines field is required.")
        for n, line in enumerate(lines):
            if not isinstance(line, dict) or line.get("productKey") not in self.products:
                raise invalid(f"lines.{n}.productKey", "The selected product key is invalid.")

    def _create_sales_order(self, query, body):
        body = self._object(body)
        self._check_order(body, None)
        record = {"key": self.new_key(), **copy.deepcopy(body)}
        self.sales_orders[record["key"]] = record
        return {"data": copy.deepcopy(record)}

    def _update_sales_order(self, query, body, key):
        body = self._object(body)
        if key not in self.sales_orders:
            raise Reply(404, {"message": "Not found."})
        self._check_order(body, key)
        self.sales_orders[key] = {"key": key, **copy.deepcopy(body)}
        return {"data": copy.deepcopy(self.sales_orders[key])}


def _get(client, key: str) -> dict | None:
    reply = client.get_customer(key, what="contract customer")
    return None if reply is None else reply["data"]


def _find(client, payload: dict) -> str | None:
    found = client.find_customer(payload["code"], what="contract customer")
    return None if not found else str(found["key"])


def _held(server: MakiniSandbox) -> list[tuple[str, str, str]]:
    with server.lock:
        return [(c["key"], str(c["code"]), str(c.get("name") or "")) for c in server.customers.values()]


def _created(server: MakiniSandbox) -> list[tuple[str, str | None]]:
    return [(str(r.body["code"]), r.fault) for r in server.calls("POST", "/api/wms/customers", status=200)]


SYSTEM_ID = "3001"
KIT = SandboxKit(
    attribute="makini",
    system_id=SYSTEM_ID,
    server=MakiniSandbox,
    limit=LIMIT,
    settings=lambda server: {
        "API Url": server.url,
        "API Token": server.token,
        "Company Key": "07000268162057",
        "Batch Size": 50,
        "Batch Delay Seconds": 1,
    },
    webhook_key="whk-local-makini-3001-00000000000",
    credential="API Token",
    customer=lambda n, last=None: {"name": f"Ada {last or f'L{n}'}", "code": f"C-{n}"},
    create_customer=lambda client, payload: str(client.create_customer(payload, what="contract customer")["data"]["key"]),
    get_customer=_get,
    stored_customers=lambda server: len(server.customers),
    customer_key=lambda record: str(record["customer_number"]),  # its code (destinations/makini/mapping/customer.py)
    customer_create="create_customer",
    add_customer=lambda server, code: server.add_customer(code, name="Old")["key"],
    held_customers=_held,
    created_customers=_created,
    update_customer=None,  # Makini's customer API has no update (runtime/transfers.py skips a linked customer)
    find_customer=_find,
    read_path="/api/wms/customers",
    write_path="/api/wms/customers",
)
