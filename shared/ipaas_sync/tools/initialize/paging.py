"""Reading a source page by page: the paging settings and the enumerators (iPaaS.com search, 99minds customers)."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from ...core.observability import logger
from ...core.settings import SubscriptionSettings
from ...destinations.ninetynine_minds.settings import NinetyNineMindsSettings

if TYPE_CHECKING:  # the boto3 service stubs are development packages (types only), never in the layer
    from ...destinations.ninetynine_minds.client import NinetyNineMindsClient
    from ...ipaas.client import IpaasClient

RUN_PK = "initialize#"
DEFAULT_LOCK_SECONDS = 300
RUN_TTL_DAYS = 30
LIST_KEYS = ("data", "items", "records", "results", "value")


# -- paging settings ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Paging:
    page_param: str = "page"
    size_param: str | None = "page_size"  # None: no page size parameter is sent
    first_page: int = 1
    page_size: int = 100
    end: str = "short"  # "short": a page shorter than page_size is the last; "empty": an empty one

    @classmethod
    def from_env(cls, prefix: str = "IPAAS_SEARCH", defaults: Paging | None = None, **overrides: Any) -> Paging:
        """`<prefix>_PAGE_PARAM`, `_SIZE_PARAM`, `_FIRST_PAGE`, `_PAGE_SIZE`, `_END` over `defaults`."""
        env, d = os.environ, defaults or cls()
        size_param = env.get(f"{prefix}_SIZE_PARAM") or d.size_param
        base = cls(
            page_param=env.get(f"{prefix}_PAGE_PARAM") or d.page_param,
            size_param=None if str(size_param).lower() == "none" else size_param,
            first_page=int(env.get(f"{prefix}_FIRST_PAGE") or d.first_page),
            page_size=int(env.get(f"{prefix}_PAGE_SIZE") or d.page_size),
            end=(env.get(f"{prefix}_END") or d.end).lower(),
        )
        paging = replace(base, **{k: v for k, v in overrides.items() if v is not None})
        if paging.page_size < 1:
            raise ValueError("the page size must be at least 1")
        if paging.end not in ("short", "empty"):
            raise ValueError(f"{prefix}_END must be 'short' or 'empty', not '{paging.end}'")
        return paging

    def params(self, number: int) -> dict[str, str | int]:  # query parameters (IpaasClient.search_page)
        return {self.page_param: number, **({self.size_param: self.page_size} if self.size_param else {})}

    def page(self, number: int, records: list[dict[str, Any]]) -> Page:
        """Where the list ends. A reply with more records than asked means the endpoint ignored the paging
        parameters: the first page is taken as the only one."""
        if self.end == "empty":
            return Page(number, records, last=not records)
        if len(records) > self.page_size:
            return Page(number, records if number == self.first_page else [], last=True)
        return Page(number, records, last=len(records) < self.page_size)


# -- enumerators: a source of records, page by page ------------------------------------------------------
@dataclass
class Page:
    number: int
    records: list[dict[str, Any]]
    last: bool


class Enumerator(Protocol):
    """Pages of one source's records, in a stable order, from a page number. `describe()` names the source."""

    first_page: int
    page_size: int | None  # records on every page but the last; None: the source decides (no size parameter sent)

    def page(self, number: int) -> Page: ...

    def describe(self) -> str: ...


class IpaasSearch:
    """iPaaS.com's search endpoint of one entity (FROM iPaaS.com: iPaaS.com records to a destination)."""

    def __init__(self, client: IpaasClient, entity: str, paging: Paging):
        self.client, self.entity, self.paging = client, entity, paging
        self.first_page = paging.first_page
        self.page_size = paging.page_size if paging.size_param else None

    def describe(self) -> str:
        return f"iPaaS.com {self.entity} search"

    def page(self, number: int) -> Page:
        body = self.client.search_page(self.entity, self.paging.params(number), what=f"{self.entity} search page {number}")
        return self.paging.page(number, records_of(body, f"iPaaS.com {self.entity} search page {number}"))


class NinetyNineMindsCustomers:
    """99minds' customer list (TO iPaaS.com: 99minds customers into iPaaS.com), through the 99minds adapter."""

    def __init__(self, client: NinetyNineMindsClient, paging: Paging):
        self.client, self.paging = client, paging
        self.first_page = paging.first_page
        self.page_size = paging.page_size if paging.size_param else None
        self._seen: dict[int, tuple[str, ...]] = {}  # page number -> its ids (to detect an ignored page_no)

    def describe(self) -> str:
        return "99minds customer list"

    def page(self, number: int) -> Page:
        body = self.client.list_customers(self.paging.params(number), what=f"customer list page {number}")
        data = body.get("data", body) if isinstance(body, dict) else body
        if isinstance(data, dict) and isinstance(data.get("customers"), list):
            data = data["customers"]
        records = records_of(data, f"99minds customer list page {number}")
        ids = tuple(str(r.get("id")) for r in records)
        before = self._seen.get(number - 1) or (self._seen.get(self.first_page) if number > self.first_page else None)
        if ids and ids == before:
            # the same page again: 99minds ignored page_no; without this the "empty" end would never come
            logger.warning(
                f"initialize: 99minds answered page {number} with the records of an earlier page; taking "
                "the list as ended (check NINETYNINE_MINDS_LIST_PAGE_PARAM)"
            )
            return Page(number, [], last=True)
        self._seen[number] = ids
        return self.paging.page(number, records)


def records_of(body: Any, what: str) -> list[dict[str, Any]]:
    if body is None:
        return []
    if isinstance(body, dict):
        lists = [body[k] for k in LIST_KEYS if isinstance(body.get(k), list)]
        if not lists:
            raise ValueError(f"{what}: the reply is an object without a list under {', '.join(LIST_KEYS)}")
        body = lists[0]
    if not isinstance(body, list):
        raise ValueError(f"{what}: the reply is a {type(body).__name__}, not a list of records")
    return [r for r in body if isinstance(r, dict)]


def ipaas_search(sub: SubscriptionSettings, entity: str, paging: Paging) -> IpaasSearch:
    from ...ipaas.client import IpaasClient

    return IpaasSearch(IpaasClient(sub), entity, paging)


def ninetynine_minds_customers(sub: SubscriptionSettings, entity: str, paging: Paging) -> NinetyNineMindsCustomers:
    from ...destinations.ninetynine_minds.client import NinetyNineMindsClient

    if not isinstance(sub, NinetyNineMindsSettings):
        raise ValueError(
            f"subscription '{sub.system_id}' is a {sub.platform} subscription, not a 99minds one: "
            "--source 99minds reads the 99minds customer list"
        )
    return NinetyNineMindsCustomers(NinetyNineMindsClient(sub), paging)
