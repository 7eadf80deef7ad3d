"""iPaaS.com API sandbox: records by id, searches, and the external-id link table.

Behaves as the reference describes: bearer auth, {base}/{area}/v2/{endpoint} paths, LookupExternal
answers the linked id as a JSON string or 404 when not linked, UpdateExternalId stores the link.

Custom fields are served in iPaaS.com's published read shape, a list of `{id, custom_field_name, value}`
(reference: to-ipaas-and-more.md, section 5), whatever shape a test stored them in; `custom_field_shape` serves
the other shapes the references name instead ("name": `[{name, value}]`, "object": `{name: value}`).
Writes (the 99minds -> iPaaS.com direction): POST creates a customer or transaction (nested `custom_fields`
`[{custom_field_name, value}]`, the published write shape, never empty; nested `external_ids` become links; a
TransactionNumber is unique),
PUT replaces one. Every write is kept (`writes`, exactly as sent) so tests can assert field by field what was
and was not touched, and each one queues the outbound hook iPaaS.com would fire (`outbox`:
`{"scope": "transaction/updated", "id": ...}`), which a test or the demo posts to our hook ingress.
Searches (v2/Customers, v2/Transactions, v2/GiftCards) answer a JSON list, filtered by the equals-parameters
the reference shows, ordered by id. iPaaS.com does not publish its paging parameters: the sandbox pages the
way ipaas_sync.tools.initialize.run's documented defaults assume (`page`, 1-based, and `page_size`), or with the names
it is given, so the client's settings can be exercised. `fail_page(n)` answers page n once with a 5xx.
"""

from __future__ import annotations

import copy

from .server import IPAAS_LIMIT, Reply, SandboxServer, bearer

AREAS = {
    "customers": ("Customer", "customers"),
    "transactions": ("Transaction", "transactions"),
    "giftcards": ("GiftCard", "giftcards"),
}


class IpaasSandbox(SandboxServer):
    name = "ipaas"

    def __init__(
        self,
        token: str = "ipaas-sandbox-token",
        *,
        rate_limit=IPAAS_LIMIT,
        page_param: str = "page",
        size_param: str = "page_size",
        first_page: int = 1,
        **kw,
    ):
        self.token = token
        self.page_param, self.size_param, self.first_page = page_param, size_param, first_page
        self._failing_pages: dict[tuple[str, int], int] = {}
        self.records: dict[str, dict[str, dict]] = {"customers": {}, "transactions": {}, "giftcards": {}}
        # (system_id, table_name.lower(), internal_id) -> external_id
        self.links: dict[tuple[str, str, str], str] = {}
        self.writes: list[dict] = []  # {"method", "area", "id", "body"} of every accepted create / update
        self.outbox: list[dict] = []  # the outbound hook notifications those writes fire
        self._next_id = 900000
        self.nested_external_ids = True  # a create's nested external_ids become links (False: as if ignored)
        self.custom_field_shape = "published"  # how reads serve custom fields: "published", "name" or "object"
        self._next_field_id = 500
        super().__init__(rate_limit=rate_limit, **kw)

    def authorized(self, headers) -> bool:
        return bearer(headers, self.token)

    # -- test helpers -------------------------------------------------------------------------------
    def put(self, area: str, record: dict) -> dict:
        with self.lock:
            self.records[area][str(record["id"])] = self._stored(record)
        return record

    def served(self, area: str, record_id: str) -> dict:
        """The record as a GET answers it (custom fields in `custom_field_shape`)."""
        with self.lock:
            return self._served(self.records[area][str(record_id)])

    def link(self, system_id: str, table: str, internal_id: str) -> str | None:
        with self.lock:
            return self.links.get((str(system_id), table.lower(), str(internal_id)))

    def set_link(self, system_id: str, table: str, internal_id: str, external_id: str) -> None:
        with self.lock:
            self.links[(str(system_id), table.lower(), str(internal_id))] = external_id

    def fail_page(self, area: str, page: int, status: int = 503, times: int = 1) -> None:
        """Answer search page `page` of `area` with `status`, `times` times (then normally)."""
        with self.lock:
            self._failing_pages[(area, page)] = times
            self._failing_status = status

    # -- routes ---------------------------------------------------------------------------------------
    def register(self) -> None:
        for area, (name, _) in AREAS.items():
            self.route("GET", f"/{area}/v2/{name}/{{id}}", self._getter(area))
            self.route("GET", f"/{area}/v2/External/LookupExternal/{{id}}/{{system_id}}/{{table}}", self._lookup)
            self.route("GET", f"/{area}/v2/External/LookupSpaceport/{{system_id}}/{{table}}/{{external_id}}", self._spaceport)
            self.route("POST", f"/{area}/v2/External/UpdateExternalId", self._update_link)
        for area, (name, _) in AREAS.items():
            if area != "giftcards":
                self.route("POST", f"/{area}/v2/{name}", self._create(area))
                self.route("PUT", f"/{area}/v2/{name}/{{id}}", self._replace(area))
        self.route("GET", "/customers/v2/Customers", self._search("customers", {"EmailAddress": "email_address"}))
        self.route(
            "GET", "/transactions/v2/Transactions", self._search("transactions", {"TransactionNumber": "transaction_number"})
        )
        self.route("GET", "/giftcards/v2/GiftCards", self._search("giftcards", {"Number": "number"}))

    def _getter(self, area: str):
        def get(query, body, id):
            record = self.records[area].get(id)
            if record is None:
                raise Reply(404, {"message": f"{AREAS[area][0]} {id} not found"})
            return self._served(record)

        return get

    def _search(self, area: str, fields: dict[str, str]):
        def search(query, body):
            out = sorted(self.records[area].values(), key=_id_order)
            for param, field in fields.items():
                if param in query:
                    out = [r for r in out if str(r.get(field, "")).lower() == query[param][0].lower()]
            if self.page_param in query:
                try:
                    page = int(query[self.page_param][0])
                    size = int(query.get(self.size_param, ["50"])[0])
                except ValueError:
                    raise Reply(400, {"message": f"{self.page_param} and {self.size_param} must be integers"}) from None
                if page < self.first_page or size < 1:
                    raise Reply(400, {"message": f"{self.page_param} starts at {self.first_page}; {self.size_param} at 1"})
                if self._failing_pages.get((area, page)):
                    self._failing_pages[(area, page)] -= 1
                    raise Reply(self._failing_status, {"message": "sandbox fault: search page failed"})
                start = (page - self.first_page) * size
                out = out[start : start + size]
            return [self._served(r) for r in out]

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
        self.links[(str(body["system_id"]), str(body["table_name"]).lower(), str(body["internal_id"]))] = str(body["external_id"])
        return body

    # -- writes ---------------------------------------------------------------------------------------------
    REQUIRED = {
        "customers": ("customer_number", "first_name", "last_name", "email_address"),
        "transactions": ("transaction_number", "type"),
    }
    TABLES = {"customers": "customer", "transactions": "transaction"}

    def take_outbox(self) -> list[dict]:
        with self.lock:
            out, self.outbox = self.outbox, []
            return out

    def writes_to(self, area: str, record_id: str | None = None) -> list[dict]:
        with self.lock:
            return [
                copy.deepcopy(w) for w in self.writes if w["area"] == area and (record_id is None or w["id"] == str(record_id))
            ]

    def _check(self, area: str, body) -> None:
        if not isinstance(body, dict):
            raise Reply(400, {"message": "VALD: body must be an object"})
        missing = [k for k in self.REQUIRED[area] if not str(body.get(k) or "").strip()]
        if missing:
            raise Reply(400, {"message": f"VALD: required: {', '.join(missing)}"})
        fields = body.get("custom_fields") or []
        if not isinstance(fields, list):
            raise Reply(400, {"message": "VALD: custom_fields must be a list of {custom_field_name, value}"})
        for item in fields:
            if not isinstance(item, dict) or not item.get("custom_field_name") or item.get("value") in (None, ""):
                raise Reply(400, {"message": "VALD: a custom field needs custom_field_name and a non-empty value"})

    # -- custom fields: stored in the published shape, served in `custom_field_shape` --------------------------
    def _stored(self, record: dict) -> dict:
        """A copy of the record with its custom fields as [{id, custom_field_name, value}] (ids given to new ones);
        a test may store them in any shape the references name."""
        out = copy.deepcopy(record)
        fields = out.get("custom_fields")
        if fields is None:
            return out
        items = [{"custom_field_name": k, "value": v} for k, v in fields.items()] if isinstance(fields, dict) else fields
        stored = []
        for item in items:
            name = item.get("custom_field_name", item.get("name", item.get("Name")))
            ident = item.get("id")
            if ident in (None, ""):
                self._next_field_id += 1
                ident = str(self._next_field_id)
            stored.append({"id": ident, "custom_field_name": name, "value": item.get("value", item.get("Value"))})
        out["custom_fields"] = stored
        return out

    def _served(self, record: dict) -> dict:
        out = copy.deepcopy(record)
        fields = out.get("custom_fields")
        if isinstance(fields, list) and self.custom_field_shape == "name":
            out["custom_fields"] = [{"name": f.get("custom_field_name"), "value": f.get("value")} for f in fields]
        elif isinstance(fields, list) and self.custom_field_shape == "object":
            out["custom_fields"] = {f.get("custom_field_name"): f.get("value") for f in fields}
        return out

    def _fire(self, method: str, area: str, record_id: str, body: dict) -> None:
        self.writes.append({"method": method, "area": area, "id": record_id, "body": copy.deepcopy(body)})
        entity = "customer" if area == "customers" else "transaction"
        self.outbox.append({"scope": f"{entity}/{'created' if method == 'POST' else 'updated'}", "id": record_id})

    def _create(self, area: str):
        def create(query, body):
            self._check(area, body)
            if area == "transactions" and any(
                r.get("transaction_number") == body["transaction_number"] for r in self.records[area].values()
            ):
                raise Reply(409, {"message": "BIZL-1004: transaction_number is already used"})
            self._next_id += 1
            record = self._stored({**body, "id": str(self._next_id)})
            for link in (record.get("external_ids") or []) if self.nested_external_ids else []:
                self.links[(str(link["system_id"]), self.TABLES[area], record["id"])] = str(link["external_id"])
            self.records[area][record["id"]] = record
            self._fire("POST", area, record["id"], body)
            return self._served(record)

        return create

    def _replace(self, area: str):
        def replace(query, body, id):
            if id not in self.records[area]:
                raise Reply(404, {"message": f"NFND-1005: {AREAS[area][0]} {id} not found"})
            self._check(area, body)
            self.records[area][id] = self._stored({**body, "id": id})
            self._fire("PUT", area, id, body)
            return self._served(self.records[area][id])

        return replace


def _id_order(record: dict) -> tuple:
    ident = str(record.get("id", ""))
    return (0, int(ident), "") if ident.isdigit() else (1, 0, ident)
