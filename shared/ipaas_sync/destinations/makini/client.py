"""Makini unified API adapter (Mintsoft behind it). Bearer token per connection on every request.

Paths (Makini OpenAPI, eqcentric/api-docs oas3_wms.json): GET/POST /api/wms/customers,
GET /api/wms/customers/{key}, GET /api/wms/products, GET/POST /api/wms/sales-orders,
GET/PUT /api/wms/sales-orders/{key}. Lists are paged: `page` and `per_page` in, and
{data[], links{first,last,prev,next}, meta{current_page, last_page, per_page, total}} out. The seed speaks
of continuation tokens instead: where a reply carries no `meta.last_page`, the `links.next` URL (or a
`meta.next_cursor` / `meta.continuation_token`, sent back as `cursor`) is followed until there is none.

Writes go through one WritePacer (platform/pacing.py): after every `Batch Size` writes, `Batch Delay Seconds`.
A 401 means the connection's token is no longer valid: Makini tokens live as long as the underlying
system credentials, so a changed credential means reconnecting for a new token; the error says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, quote, urlparse

import requests

from ...core.errors import ConfigurationError, PermanentError
from ...platform.http import ApiClient
from ...platform.pacing import WritePacer
from .settings import MakiniSettings

CUSTOMERS = "/api/wms/customers"
PRODUCTS = "/api/wms/products"
SALES_ORDERS = "/api/wms/sales-orders"
PER_PAGE = 100  # reads: the most a page may carry (Mintsoft lists allow at most 100)
MAX_PAGES = 500  # bound on one paged read (50,000 records at PER_PAGE)
CURSOR_KEYS = ("next_cursor", "continuation_token", "cursor")


class MakiniClient(ApiClient):
    system = "Makini"

    limiter_key = "makini"

    def __init__(self, settings: MakiniSettings):
        super().__init__(
            settings.api_url,
            bearer=settings.api_token.get_secret_value(),
            rate=(settings.api_throttle_limit, settings.api_throttle_seconds),
            pool_size=settings.concurrent_batch_executions,
        )
        self.pacer = WritePacer(settings.batch_size, settings.batch_delay_seconds, label="Makini")

    def check(self, resp: requests.Response, *, what: str, allow_404: bool = False) -> Any:
        if resp.status_code == 401:
            call = f"{resp.request.method} {urlparse(resp.url).path}"
            raise ConfigurationError(
                f"Makini rejected the token (HTTP 401) on {call} for {what}: a changed credential means "
                f"reconnecting for a new token (setting 'API Token')"
            )
        return super().check(resp, what=what, allow_404=allow_404)

    # -- reads ----------------------------------------------------------------------------------------
    def pages(self, path: str, *, what: str, filters: dict[str, str] | None = None) -> Iterator[list[dict[str, Any]]]:
        """Every page of a list, first to last, each page's `data` items."""
        params: dict[str, Any] = {"page": 1, "per_page": PER_PAGE}
        params.update({f"filter[{k}]": v for k, v in (filters or {}).items()})
        for _ in range(MAX_PAGES):
            body = self.request("GET", path, params=params, what=what)
            if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                raise PermanentError(f"Makini answered GET {path} for {what} without a 'data' list")
            yield [item for item in body["data"] if isinstance(item, dict)]
            following = self._next_params(body, params, path)
            if following is None:
                return
            params = following
        raise PermanentError(f"Makini GET {path} for {what}: more than {MAX_PAGES} pages; narrow the read")

    def _next_params(self, body: dict[str, Any], params: dict[str, Any], path: str) -> dict[str, Any] | None:
        meta: dict[str, Any] = body["meta"] if isinstance(body.get("meta"), dict) else {}
        links: dict[str, Any] = body["links"] if isinstance(body.get("links"), dict) else {}
        if not body["data"]:
            return None
        if meta.get("last_page") is not None:
            current = int(meta.get("current_page") or params.get("page") or 1)
            return {**params, "page": current + 1} if current < int(meta["last_page"]) else None
        if links.get("next"):  # cursor-style paging: the next link carries the continuation token
            nxt = urlparse(str(links["next"]))
            if nxt.path and not nxt.path.rstrip("/").endswith(path.rstrip("/")):
                raise PermanentError(f"Makini paging link for {path} points elsewhere ({nxt.path})")
            query = {k: v[-1] for k, v in parse_qs(nxt.query).items()}
            return {**{k: v for k, v in params.items() if k != "page"}, **query}
        token = next((meta.get(k) for k in CURSOR_KEYS if meta.get(k)), None) or body.get("next_cursor")
        if token:
            return {**{k: v for k, v in params.items() if k != "page"}, "cursor": token}
        return None

    def find_one(self, path: str, field: str, value: str, *, what: str) -> dict[str, Any] | None:
        """The record whose `field` equals `value`, paging through every page (the filter narrows the read
        where the connector supports it; the match is checked here as well, since it may not)."""
        for page in self.pages(path, what=what, filters={field: value}):
            for item in page:
                if str(item.get(field, "")).strip() == value:
                    return item
        return None

    def find_customer(self, code: str, *, what: str) -> dict[str, Any] | None:
        return self.find_one(CUSTOMERS, "code", code, what=what)

    def find_product(self, sku: str, *, what: str) -> dict[str, Any] | None:
        return self.find_one(PRODUCTS, "sku", sku, what=what)

    def find_sales_order(self, code: str, *, what: str) -> dict[str, Any] | None:
        return self.find_one(SALES_ORDERS, "code", code, what=what)

    def get_customer(self, key: str, *, what: str) -> Any:
        return self.request("GET", f"{CUSTOMERS}/{quote(key, safe='')}", what=what, allow_404=True)

    # -- writes (paced) ---------------------------------------------------------------------------------
    def _write(self, method: str, path: str, payload: dict[str, Any], *, what: str, idempotent: bool) -> Any:
        self.pacer.before_write(what)
        try:
            return self.request(method, path, json_body=payload, what=what, idempotent=idempotent)
        finally:
            self.pacer.after_write()

    def create_customer(self, payload: dict[str, Any], *, what: str) -> Any:
        # a create is not retried in-call: a lost reply is healed by the existence check on redelivery
        return self._write("POST", CUSTOMERS, payload, what=what, idempotent=False)

    def create_sales_order(self, payload: dict[str, Any], *, what: str) -> Any:
        return self._write("POST", SALES_ORDERS, payload, what=what, idempotent=False)

    def update_sales_order(self, key: str, payload: dict[str, Any], *, what: str) -> Any:
        return self._write("PUT", f"{SALES_ORDERS}/{quote(key, safe='')}", payload, what=what, idempotent=True)

    # -- credentials check (read-only) ------------------------------------------------------------------
    def check_credentials(self) -> str:
        body = self.request("GET", CUSTOMERS, params={"page": 1, "per_page": 1}, what="credentials check")
        if not isinstance(body, dict) or "data" not in body:
            raise PermanentError("Makini answered the credentials check without a 'data' list")
        return "token accepted (GET /api/wms/customers)"
