"""iPaaS.com API adapter: records by id and the external-id links (the system of record for links).

Paths are {base}/{area}/v2/{endpoint}; the External endpoints live in the area of the entity they link
(as the iPaaS.com integration template calls them).
"""
from __future__ import annotations

from urllib.parse import quote

from ..errors import PermanentError
from ..http import ApiClient
from ..settings import SubscriptionSettings

AREAS = {"customer": ("customers", "Customer"), "transaction": ("transactions", "Transaction"),
         "giftcard": ("giftcards", "GiftCard")}

# External-id table names (iPaaS.com mapping collection tables)
TABLE_CUSTOMER = "customer"
TABLE_TRANSACTION = "transaction"
TABLE_GIFT_CARD = "Gift Card"
TABLE_GIFT_CARD_ACTIVITY = "Gift Card Activity"


class IpaasClient(ApiClient):
    system = "iPaaS.com"
    limiter_key = "ipaas"
    # iPaaS.com's "To iPaaS" limit is generous (500 per minute by default, several times what the destinations let a
    # backlog send): we use at most 80% of it, and in exchange a container's reserved slots stay usable for seconds
    # (throttle.py), so most records make no DynamoDB call for it
    limiter_headroom = 0.25

    def __init__(self, settings: SubscriptionSettings):
        super().__init__(settings.ipaas_api_url, bearer=settings.ipaas_api_token.get_secret_value(),
                         rate=(settings.ipaas_throttle_limit, settings.ipaas_throttle_seconds),
                         pool_size=settings.concurrent_batch_executions)
        self.system_id = settings.system_id

    def get_record(self, entity: str, record_id: str) -> dict:
        area, name = AREAS[entity]
        body = self.request("GET", f"{area}/v2/{name}/{quote(str(record_id), safe='')}",
                            what=f"{entity} {record_id}", allow_404=True)
        if body is None:
            raise PermanentError(f"iPaaS.com has no {entity} {record_id} (HTTP 404)")
        if not isinstance(body, dict):
            raise PermanentError(f"iPaaS.com answered {entity} {record_id} with a {type(body).__name__}, not an object")
        return body

    def lookup_external(self, entity: str, internal_id: str, table: str) -> str | None:
        """The destination id linked to an iPaaS.com record, or None (404, empty, or DELETED:)."""
        area, _ = AREAS[entity]
        path = (f"{area}/v2/External/LookupExternal/{quote(str(internal_id), safe='')}/"
                f"{quote(self.system_id, safe='')}/{quote(table, safe='')}")
        value = self.request("GET", path, what=f"{entity} {internal_id} link ({table})", allow_404=True)
        if value is None:
            return None
        value = str(value).strip().strip('"')
        if not value or value.startswith("DELETED:"):
            return None
        return value

    def update_external_id(self, entity: str, table: str, internal_id: str, external_id: str,
                           tracking_guid: str | None) -> None:
        """Write the destination id back; setting the same link twice is harmless, so it is retried."""
        area, _ = AREAS[entity]
        self.request("POST", f"{area}/v2/External/UpdateExternalId", idempotent=True,
                     what=f"{entity} {internal_id} link ({table})",
                     json_body={"table_name": table, "system_id": self.system_id, "external_id": external_id,
                                "internal_id": str(internal_id), "tracking_guid": tracking_guid})

    def check_credentials(self) -> str:
        """Read-only: a link lookup for this subscription (404 = not linked, which still proves the token)."""
        self.request("GET", f"customers/v2/External/LookupExternal/0/{quote(self.system_id, safe='')}/"
                            f"{TABLE_CUSTOMER}", what="credentials check", allow_404=True)
        return "token accepted"
