"""iPaaS.com API adapter: records by id and the external-id links (the system of record for links).

Paths are {base}/{area}/v2/{endpoint}; the External endpoints live in the area of the entity they link
(as the iPaaS.com integration template calls them).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ..core.errors import PermanentError
from ..core.settings import SubscriptionSettings
from ..platform.http import ApiClient

AREAS = {
    "customer": ("customers", "Customer"),
    "transaction": ("transactions", "Transaction"),
    "giftcard": ("giftcards", "GiftCard"),
}

# Search endpoints: v2/Customers and v2/Transactions are in the iPaaS.com API introduction; v2/GiftCards is
# assumed by the same pattern (not published)
SEARCH_ENDPOINTS = {"customer": "Customers", "transaction": "Transactions", "giftcard": "GiftCards"}

# External-id table names (iPaaS.com mapping collection tables)
TABLE_CUSTOMER = "customer"
TABLE_TRANSACTION = "transaction"
TABLE_GIFT_CARD = "Gift Card"
TABLE_GIFT_CARD_ACTIVITY = "Gift Card Activity"


class IpaasClient(ApiClient):
    system = "iPaaS.com"
    limiter_key = "ipaas"
    circuit_breaker = False  # the circuit is the destinations': iPaaS.com's trouble is retried on the schedule only
    # iPaaS.com's "To iPaaS" limit is generous (500 per minute by default, several times what the destinations let a
    # backlog send): we use at most 80% of it, and in exchange a container's reserved slots stay usable for seconds
    # (platform/throttle.py), so most records make no DynamoDB call for it
    limiter_headroom = 0.25

    def __init__(self, settings: SubscriptionSettings):
        super().__init__(
            settings.ipaas_api_url,
            bearer=settings.ipaas_api_token.get_secret_value(),
            rate=(settings.ipaas_throttle_limit, settings.ipaas_throttle_seconds),
            pool_size=settings.concurrent_batch_executions,
        )
        self.system_id = settings.system_id

    def get_record(self, entity: str, record_id: str) -> dict[str, Any]:
        area, name = AREAS[entity]
        body = self.request(
            "GET", f"{area}/v2/{name}/{quote(str(record_id), safe='')}", what=f"{entity} {record_id}", allow_404=True
        )
        if body is None:
            raise PermanentError(f"iPaaS.com has no {entity} {record_id} (HTTP 404)")
        if not isinstance(body, dict):
            raise PermanentError(f"iPaaS.com answered {entity} {record_id} with a {type(body).__name__}, not an object")
        return body

    def lookup_external(self, entity: str, internal_id: str, table: str) -> str | None:
        """The destination id linked to an iPaaS.com record, or None (404, empty, or DELETED:)."""
        area, _ = AREAS[entity]
        path = (
            f"{area}/v2/External/LookupExternal/{quote(str(internal_id), safe='')}/"
            f"{quote(self.system_id, safe='')}/{quote(table, safe='')}"
        )
        return self._link(path, what=f"{entity} {internal_id} link ({table})")

    def _link(self, path: str, *, what: str) -> str | None:
        """A link lookup's answer: the id as a (quoted) string, or None (404, empty, or DELETED:)."""
        value = self.request("GET", path, what=what, allow_404=True)
        value = str(value).strip().strip('"') if value is not None else ""
        return None if not value or value.startswith("DELETED:") else value

    def update_external_id(self, entity: str, table: str, internal_id: str, external_id: str, tracking_guid: str | None) -> None:
        """Write the destination id back; setting the same link twice is harmless, so it is retried."""
        area, _ = AREAS[entity]
        self.request(
            "POST",
            f"{area}/v2/External/UpdateExternalId",
            idempotent=True,
            what=f"{entity} {internal_id} link ({table})",
            json_body={
                "table_name": table,
                "system_id": self.system_id,
                "external_id": external_id,
                "internal_id": str(internal_id),
                "tracking_guid": tracking_guid,
            },
        )

    # -- the TO-iPaaS direction (99minds -> iPaaS.com): links by external id, searches, creates and updates --------
    def lookup_spaceport(self, entity: str, table: str, external_id: str) -> str | None:
        """The iPaaS.com id linked to a destination id (`LookupSpaceport`), or None (404, empty, or DELETED:)."""
        area, _ = AREAS[entity]
        path = (
            f"{area}/v2/External/LookupSpaceport/{quote(self.system_id, safe='')}/{quote(table, safe='')}/"
            f"{quote(str(external_id), safe='')}"
        )
        return self._link(path, what=f"{entity} linked to {external_id} ({table})")

    def search(self, entity: str, *, what: str, **criteria: str) -> list[dict[str, Any]]:
        """`GET v2/<Name>s?action=equals&<Field>=<value>`: the records whose fields equal the values."""
        area, name = AREAS[entity]
        body = self.request("GET", f"{area}/v2/{name}s", params={"action": "equals", **criteria}, what=what)
        if body is None:
            return []
        items = body if isinstance(body, list) else (body.get("data") if isinstance(body, dict) else None)
        if not isinstance(items, list):
            raise PermanentError(f"iPaaS.com answered the {entity} search for {what} without a list")
        return [item for item in items if isinstance(item, dict)]

    def create_record(self, entity: str, body: dict[str, Any], *, what: str) -> dict[str, Any]:
        """POST a new record; never retried in-call (a retry after a lost reply could create it twice: the
        caller searches before creating again)."""
        area, name = AREAS[entity]
        reply = self.request("POST", f"{area}/v2/{name}", json_body=body, what=what, idempotent=False)
        if not isinstance(reply, dict) or reply.get("id") in (None, ""):
            raise PermanentError(f"iPaaS.com answered the {entity} create for {what} without an 'id'")
        return reply

    def update_record(self, entity: str, record_id: str, body: dict[str, Any], *, what: str) -> None:
        """PUT the record (the whole record as read, with the changed fields): a repeat is harmless, so retried."""
        area, name = AREAS[entity]
        self.request("PUT", f"{area}/v2/{name}/{quote(str(record_id), safe='')}", json_body=body, what=what, idempotent=True)

    def check_credentials(self) -> str:
        """Read-only: a link lookup for this subscription (404 = not linked, which still proves the token)."""
        self.request(
            "GET",
            f"customers/v2/External/LookupExternal/0/{quote(self.system_id, safe='')}/{TABLE_CUSTOMER}",
            what="credentials check",
            allow_404=True,
        )
        return "token accepted"

    def search_page(self, entity: str, params: dict[str, str | int], *, what: str) -> object:
        """(Not `search`: that name is the criteria search above, which the 99minds -> iPaaS.com handlers use.)
        One page of an entity's search endpoint (v2/Customers, v2/Transactions, v2/GiftCards), read-only.
        The reply's shape and the paging parameters are not published (see tools/initialize/)."""
        area, _ = AREAS[entity]
        return self.request("GET", f"{area}/v2/{SEARCH_ENDPOINTS[entity]}", params=params, what=what)
