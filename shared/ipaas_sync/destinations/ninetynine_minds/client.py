"""99minds API adapter. Bearer auth with the API Secret Key on every request; no token exchange.

The body shapes are in the mapping modules (mapping/*_99minds.py): they are not published and are kept
in one obvious place to adjust. This adapter knows paths, auth and the reply envelope {code, message, data}.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ...platform.http import ApiClient
from .settings import NinetyNineMindsSettings

CUSTOMERS = "/api/v1/ipaas/customers"
WORKFLOWS = "/api/v1/ipaas/workflows/execute"
GIFTCARDS = "/api/v1/giftcards"
LOYALTY_CARDS = "/api/v1/ipaas/loyaltycards"
# Not published: a loyalty transaction by its id (the published read is the list below, by customer or card).
# Assumed as the REST pattern of the customer path; the one place to adjust.
LOYALTY_TRANSACTIONS = "/api/v1/ipaas/loyaltycards/transactions"


class NinetyNineMindsClient(ApiClient):
    system = "99minds"
    limiter_key = "99minds"  # 99minds limits per IP address: every subscription calling it shares one limit

    def __init__(self, settings: NinetyNineMindsSettings):
        super().__init__(
            settings.api_url,
            bearer=settings.api_secret_key.get_secret_value(),
            rate=(settings.api_throttle_limit, settings.api_throttle_seconds),
            pool_size=settings.concurrent_batch_executions,
        )

    def check_credentials(self) -> str:
        """Read-only: get a customer id that does not exist (404 proves the key; 401 rejects it)."""
        self.request("GET", f"{CUSTOMERS}/ipaas-sync-credentials-check", what="credentials check", allow_404=True)
        return "API Secret Key accepted"

    def upsert_customer(self, payload: dict[str, Any], *, what: str) -> Any:
        # An update (carries the 99minds id) may be retried; a create may not (a retry could duplicate it).
        return self.request("POST", CUSTOMERS, json_body=payload, what=what, idempotent="id" in payload)

    def list_customers(self, params: dict[str, Any], *, what: str) -> Any:
        """One page of customers, `GET /api/v1/ipaas/customers?page_no=` (initialize --source 99minds). Assumed:
        99minds publishes `page_no` paging for gift cards (`GET /api/v1/giftcards?page_no=`); the customer list
        pages the same way. Its other parameters (page size) are initialize's settings."""
        return self.request("GET", CUSTOMERS, params=params, what=what)

    def get_customer(self, customer_id: str, *, what: str) -> Any:
        return self.request("GET", f"{CUSTOMERS}/{quote(customer_id, safe='')}", what=what, allow_404=True)

    # -- loyalty (read only: the 99minds -> iPaaS.com direction) ----------------------------------------------
    def get_loyalty_transaction(self, transaction_id: str, *, what: str) -> Any:
        """One loyalty transaction by its 99minds id, or None (404)."""
        return self.request("GET", f"{LOYALTY_TRANSACTIONS}/{quote(transaction_id, safe='')}", what=what, allow_404=True)

    def loyalty_cards(self, customer_id: str, *, what: str) -> Any:
        """`GET /api/v1/ipaas/loyaltycards?customer_id=` (published)."""
        return self.request("GET", LOYALTY_CARDS, params={"customer_id": customer_id}, what=what)

    def execute_workflow(self, payload: dict[str, Any], *, what: str) -> Any:
        # The body carries the IdempotentId and 99minds de-duplicates on it: a retry (read timeout, 5xx)
        # cannot execute the workflow twice, so this POST is retried like an idempotent call.
        return self.request("POST", WORKFLOWS, json_body=payload, what=what, idempotent=True)

    # -- gift cards: money. Writes are never retried in-process (idempotent=False): a retry after a lost
    # answer could apply twice; the caller checks the card (get_giftcard) before writing again.
    def get_giftcard(self, card_id: str, *, what: str) -> Any:
        """The card by its 99minds id (or giftcard number), or None when 99minds has no such card (404)."""
        return self.request("GET", f"{GIFTCARDS}/{quote(card_id, safe='')}", what=what, allow_404=True)

    def giftcard_history(self, path: str, *, what: str) -> Any:
        """The card-history lookup by activity reference (the subscription's Gift Card History Path), or None on 404."""
        return self.request("GET", path, what=what, allow_404=True)

    def issue_giftcard(self, payload: dict[str, Any], *, what: str) -> Any:
        return self.request("POST", f"{GIFTCARDS}/issue", json_body=payload, what=what, idempotent=False)

    def reload_giftcard(self, payload: dict[str, Any], *, what: str) -> Any:
        return self.request("POST", f"{GIFTCARDS}/reload", json_body=payload, what=what, idempotent=False)

    def redeem_giftcard(self, payload: dict[str, Any], *, what: str) -> Any:
        return self.request("POST", f"{GIFTCARDS}/redeem", json_body=payload, what=what, idempotent=False)
