"""Stamped.io v2 API adapter: HTTP Basic auth (user = API Public Key, password = API Private Key), the store
hash in every path: {API Url}/api/v2/{storeHash}/...

Customers (iPaaS.com "Stamped.io API Endpoints"): create POST .../dashboard/customers/add, list
GET .../dashboard/customers, get GET .../dashboard/customers/{id}, update POST .../dashboard/customers/{id}.
Stamped de-duplicates customers by email: a create for an email it already has updates that customer.
That makes a create safe to retry (a repeat lands on the same customer), so creates are retried in-call like
updates. Errors are {"message": ...}; 401 means wrong keys (a configuration error, via ApiClient.check).
The body keys are in destinations/stamped/mapping/customer.py (the v2 names are not published).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ...core.errors import PermanentError
from ...platform.http import ApiClient
from .settings import StampedSettings


class StampedClient(ApiClient):
    system = "Stamped.io"

    limiter_key = "stamped"

    def __init__(self, settings: StampedSettings):
        super().__init__(
            settings.api_url,
            auth=(settings.api_public_key.strip(), settings.api_private_key.get_secret_value().strip()),
            rate=(settings.api_throttle_limit, settings.api_throttle_seconds),
            pool_size=settings.concurrent_batch_executions,
        )
        self.customers_path = f"/api/v2/{quote(settings.api_store_hash.strip(), safe='')}/dashboard/customers"

    def create_customer(self, payload: dict[str, Any], *, what: str) -> Any:
        return self.request("POST", f"{self.customers_path}/add", json_body=payload, what=what, idempotent=True)

    def update_customer(self, customer_id: str, payload: dict[str, Any], *, what: str) -> Any:
        return self.request(
            "POST", f"{self.customers_path}/{quote(customer_id, safe='')}", json_body=payload, what=what, idempotent=True
        )

    def get_customer(self, customer_id: str, *, what: str) -> Any:
        return self.request("GET", f"{self.customers_path}/{quote(customer_id, safe='')}", what=what, allow_404=True)

    def list_customers(self, *, what: str = "customer list") -> Any:
        return self.request("GET", self.customers_path, what=what)

    def check_credentials(self) -> str:
        """Read-only: list customers (proves the keys and the store hash together)."""
        body = self.list_customers(what="credentials check")
        if body is None:
            raise PermanentError("Stamped.io answered the credentials check with an empty body")
        return f"keys accepted for store (GET {self.customers_path})"
