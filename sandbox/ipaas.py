"""iPaaS.com API sandbox: records by id, searches, and the external-id link table.

Behaves as the reference describes: bearer auth, {base}/{area}/v2/{endpoint} paths, LookupExternal
answers the linked id as a JSON string or 404 when not linked, UpdateExternalId stores the link.
"""
from __future__ import annotations

import copy

from .server import Reply, SandboxServer, bearer

AREAS = {"customers": ("Customer", "customers"), "transactions": ("Transaction", "transactions"),
         "giftcards": ("GiftCard", "giftcards")}


class IpaasSandbox(SandboxServer):
    name = "ipaas"

    def __init__(self, token: str = "ipaas-sandbox-token", *, rate_limit=(500, 60), **kw):
        self.token = token
        self.records: dict[str, dict[str, dict]] = {"customers": {}, "transactions": {}, "giftcards": {}}
        # (system_id, table_name.lower(), internal_id) -> external_id
        self.links: dict[tuple[str, str, str], str] = {}
        super().__init__(rate_limit=rate_limit, **kw)

    def authorized(self, headers) -> bool:
        return bearer(headers, self.token)

    # -- test helpers -------------------------------------------------------------------------------
    def put(self, area: str, record: dict) -> dict:
        with self.lock:
            self.records[area][str(record["id"])] = copy.deepcopy(record)
        return record

    def link(self, system_id: str, table: str, internal_id: str) -> str | None:
        with self.lock:
            return self.links.get((str(system_id), table.lower(), str(internal_id)))

    def set_link(self, system_id: str, table: str, internal_id: str, external_id: str) -> None:
        with self.lock:
            self.links[(str(system_id), table.lower(), str(internal_id))] = external_id

    # -- routes ---------------------------------------------------------------------------------------
    def register(self) -> None:
        for area, (name, _) in AREAS.items():
            self.route("GET", f"/{area}/v2/{name}/{{id}}", self._getter(area))
            self.route("GET", f"/{area}/v2/External/LookupExternal/{{id}}/{{system_id}}/{{table}}", self._lookup)
            self.route("GET", f"/{area}/v2/External/LookupSpaceport/{{system_id}}/{{table}}/{{external_id}}",
                       self._spaceport)
            self.route("POST", f"/{area}/v2/External/UpdateExternalId", self._update_link)
        self.route("GET", "/customers/v2/Customers", self._search("customers", {"EmailAddress": "email_address"}))
        self.route("GET", "/transactions/v2/Transactions",
                   self._search("transactions", {"TransactionNumber": "transaction_number"}))

    def _getter(self, area: str):
        def get(query, body, id):
            record = self.records[area].get(id)
            if record is None:
                raise Reply(404, {"message": f"{AREAS[area][0]} {id} not found"})
            return copy.deepcopy(record)
        return get

    def _search(self, area: str, fields: dict[str, str]):
        def search(query, body):
            out = list(self.records[area].values())
            for param, field in fields.items():
                if param in query:
                    out = [r for r in out if str(r.get(field, "")).lower() == query[param][0].lower()]
            return copy.deepcopy(out)
        return search

    def _lookup(self, query, body, id, system_id, table):
        external = self.links.get((system_id, table.lower(), id))
        if external is None:
            raise Reply(404, {"message": "not linked"})
        return external

    def _spaceport(self, query, body, system_id, table, external_id):
        for (sid, tbl, internal), ext in self.links.items():
            if sid == system_id and tbl == table.lower() and ext == external_id:
                return internal
        raise Reply(404, {"message": "not linked"})

    def _update_link(self, query, body):
        required = ("table_name", "system_id", "external_id", "internal_id")
        if not isinstance(body, dict) or any(not body.get(k) for k in required):
            raise Reply(400, {"message": f"required: {', '.join(required)}"})
        self.links[(str(body["system_id"]), str(body["table_name"]).lower(), str(body["internal_id"]))] = str(
            body["external_id"])
        return body
