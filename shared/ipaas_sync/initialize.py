"""Initialization (backfill): every existing record of an entity onto a destination's queue.

    ipaas-sync initialize --entity customer|transaction|giftcard --destination <iPaaS System Id>
        [--since DATE] [--until DATE] [--dry-run] [--limit N] [--pace-ahead SECONDS] [--yes] [--resume | --restart]

iPaaS.com does not initialize 99minds or Stamped.io itself. This pages through the iPaaS.com search endpoint of
the entity (an Enumerator) and puts one `<entity>/initialize` notification per record on the queue the hooks
use (SendMessageBatch); the handlers treat it like created/updated, so a record already linked and unchanged
ends as `duplicate` and a second run is harmless. Transactions the subscription's mapping filter rejects are
counted and not enqueued.

Paging (not published by iPaaS.com; settings with documented defaults, env or flags):
    IPAAS_SEARCH_PAGE_PARAM  "page"       the page number parameter
    IPAAS_SEARCH_SIZE_PARAM  "page_size"  the page size parameter
    IPAAS_SEARCH_FIRST_PAGE  1            the first page's number
    IPAAS_SEARCH_PAGE_SIZE   100          records asked per page
A page shorter than the page size (an empty one included) is the last. A reply with more records than asked
means the endpoint ignored the paging parameters: it is taken as the only page. The reply is a JSON list, or
an object holding the list under data/items/records/results/value (not published either).
--since/--until: iPaaS.com publishes no date filter on its searches, so they are applied to each record's
updated_datetime (else created_datetime) as it is read; every page is still read, undated records are kept.

Resumable: after every page the cursor (page, offset, and the page size they count in) and the counts are
checkpointed in the ledger table (pk "initialize#<entity>", sk the destination) together with a lock (owner +
expiry, renewed at every checkpoint): at most one run per (entity, destination); a second one is refused naming
the holder. Ctrl-C or a crash leaves the checkpoint; `--resume` continues it (once the lock is released or
expired) at the exact next record whatever page size it uses: the cursor is the position in the source's stable
order, (page - first page) x page size + offset, re-expressed in the resumed run's page size (realign()). Where
that cannot be done (a checkpoint without its page size, or a source that decides its own page size) a resume
with another size is refused, naming the size to use. A record is enqueued again only if the run stopped
between a page's send and its checkpoint (at most one page; the handlers make that second delivery a
duplicate).

Reads from iPaaS.com take the subscription's "To iPaaS" limiter (IpaasClient); SendMessageBatch is never the
bottleneck. InitializeFunction runs the same Initializer (functions/initialize/app.py).

Pacing (QueuePace, --pace-ahead, default 600 s): before each page the run waits while the queue holds what the
destination's limit drains in that many seconds, so that no record is deferred past SQS's 15-minute delay.

Sources (SOURCES, `--source`): "ipaas" (default) reads iPaaS.com for a destination's queue; "99minds" (the
TO-iPaaS direction) pages 99minds customers (GET /api/v1/ipaas/customers?page_no=, through the 99minds adapter,
so under the shared 99minds limiter) and puts on the 99minds -> iPaaS.com queue the message a 99minds customer
webhook produces (sync_99minds.message_body, event "initialize"). Its paging settings:
    NINETYNINE_MINDS_LIST_PAGE_PARAM  "page_no"    published
    NINETYNINE_MINDS_LIST_SIZE_PARAM  "page_size"  not published ("none": no page size parameter is sent)
    NINETYNINE_MINDS_LIST_FIRST_PAGE  1
    NINETYNINE_MINDS_LIST_PAGE_SIZE   50
    NINETYNINE_MINDS_LIST_END         "empty"      the list ends at the first empty page ("short": at a page
                                                   shorter than the page size, one read less)
Its run's checkpoint is its own item (pk "initialize#99minds:<entity>"), beside the FROM direction's run for the
same subscription. See docs/initialize-and-ledger.md.
"""

from __future__ import annotations

import argparse
import getpass
import math
import os
import socket
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from pydantic import ValidationError

from . import sync_99minds
from .clients.queues import queue_depth
from .enqueue import Target, notification, resolve_target
from .errors import TransferError
from .mapping.transaction_filter import rejection
from .models.ipaas import IpaasTransaction
from .models.notification import ENTITIES
from .observability import logger
from .settings import NinetyNineMindsSettings, SubscriptionRegistry, SubscriptionSettings, load_registry

if TYPE_CHECKING:  # the boto3 service stubs are development packages (types only), never in the layer
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_dynamodb import DynamoDBServiceResource
    from mypy_boto3_sqs import SQSClient

    from .clients.ipaas import IpaasClient
    from .clients.ninetynine_minds import NinetyNineMindsClient

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
    from .clients.ipaas import IpaasClient

    return IpaasSearch(IpaasClient(sub), entity, paging)


def ninetynine_minds_customers(sub: SubscriptionSettings, entity: str, paging: Paging) -> NinetyNineMindsCustomers:
    from .clients.ninetynine_minds import NinetyNineMindsClient

    if not isinstance(sub, NinetyNineMindsSettings):
        raise ValueError(
            f"subscription '{sub.system_id}' is a {sub.platform} subscription, not a 99minds one: "
            "--source 99minds reads the 99minds customer list"
        )
    return NinetyNineMindsCustomers(NinetyNineMindsClient(sub), paging)


def transfer_time(records: int, sub: SubscriptionSettings) -> str:
    """How long the destination's rate limit makes `records` transfers take (one call each, at least)."""
    seconds = math.ceil(records * sub.api_throttle_seconds / sub.api_throttle_limit)
    return (
        f"at {sub.api_throttle_limit} calls per {sub.api_throttle_seconds}s (the subscription's API Throttle "
        f"Limit) the transfer takes at least {_duration(seconds)} (one destination call per record)"
    )


def to_ipaas_transfer_time(records: int, sub: SubscriptionSettings) -> str:
    """A 99minds customer into iPaaS.com reads the customer and its loyalty card from 99minds (2 calls under the
    99minds limit) and makes at least 2 iPaaS.com calls (the link lookup and the record) under "To iPaaS"."""
    at_99minds = math.ceil(records * 2 * sub.api_throttle_seconds / sub.api_throttle_limit)
    at_ipaas = math.ceil(records * 2 * sub.ipaas_throttle_seconds / sub.ipaas_throttle_limit)
    return (
        f"at {sub.api_throttle_limit} calls per {sub.api_throttle_seconds}s to 99minds (2 per customer) and "
        f"{sub.ipaas_throttle_limit} per {sub.ipaas_throttle_seconds}s to iPaaS.com (at least 2 per customer) "
        f"the transfer takes at least {_duration(max(at_99minds, at_ipaas))}"
    )


def _ipaas_message(entity: str, record_id: str, destination: str) -> str:
    return notification(entity, "initialize", record_id, destination)


def _ninetynine_minds_message(entity: str, record_id: str, destination: str) -> str:
    return sync_99minds.message_body(sync_99minds.ENTITY_KINDS[entity], record_id, destination, sync_99minds.INITIALIZE_EVENT)


def _ninetynine_minds_target(
    entity: str,
    destination: str,
    *,
    stack: str | None = None,
    queue_url: str | None = None,
    sqs: SQSClient | None = None,
    registry: Callable[[], SubscriptionRegistry[SubscriptionSettings]] = load_registry,
) -> Target:
    return sync_99minds.target(entity, destination, stack=stack, url=queue_url, sqs=sqs, registry=registry)


def _ipaas_target(
    entity: str,
    destination: str,
    *,
    stack: str | None = None,
    queue_url: str | None = None,
    sqs: SQSClient | None = None,
    registry: Callable[[], SubscriptionRegistry[SubscriptionSettings]] = load_registry,
) -> Target:
    if queue_url:
        raise ValueError("--queue-url names the 99minds -> iPaaS.com queue: use it with --source 99minds")
    return resolve_target(entity, destination, stack=stack, sqs=sqs, registry=registry)


def _transaction_filter(entity: str, record: dict[str, Any], sub: SubscriptionSettings) -> bool:
    return entity == "transaction" and filtered_out(record, sub)


# -- pacing ----------------------------------------------------------------------------------------------
# Why: SQS delays a message at most 15 minutes, so a record that the destination's limit cannot reach sooner is
# deferred again every time it comes back (docs/throttling.md: about $4 per million transfers more for 100,000
# customers at 99minds' 150 per 60 s), and a live hook's record waits behind the whole backlog. A run therefore keeps
# the queue no fuller than the limit drains in --pace-ahead seconds: before each page it waits for room (for free at a
# terminal; InitializeFunction until its margin, then it hands the run on as at its timeout).
DEFAULT_PACE_AHEAD_SECONDS = 600.0
PACE_POLL_SECONDS = 15.0
# destination requests one record makes, about (a customer's create; an order's customer check and workflow; a gift
# card's balance read, change and read back), to turn the limit into records
CALLS_PER_RECORD = {"customer": 1, "transaction": 2, "giftcard": 3}


@dataclass
class QueuePace:
    """Waits while the target queue holds more records than the destination's limit drains in `ahead` seconds."""

    target: Target
    ahead: float
    page_size: int
    calls_per_record: int = 1
    sleep: Callable[[float], None] = time.sleep
    poll_seconds: float = PACE_POLL_SECONDS
    on_wait: Callable[[int, int], None] | None = None  # (depth, room) when a wait starts
    waited: float = 0.0

    @property
    def room(self) -> int:
        sub = self.target.subscription
        drained = self.ahead * sub.api_throttle_limit / sub.api_throttle_seconds / self.calls_per_record
        return max(self.page_size, int(drained + 1e-9))

    def wait(self, give_up: Callable[[], bool]) -> bool:
        """Until a page fits (or the queue is empty); False when `give_up` says stop first (the run pauses)."""
        told = False
        while True:
            depth = queue_depth(self.target.sqs, self.target.queue_url)
            if depth == 0 or depth + self.page_size <= self.room:
                return True
            if give_up():
                return False
            if not told and self.on_wait is not None:
                self.on_wait(depth, self.room)
                told = True
            self.sleep(self.poll_seconds)
            self.waited += self.poll_seconds


@dataclass(frozen=True)
class Source:
    """Where initialize reads records, and the queue (the direction) and message that carry them."""

    name: str
    entities: tuple[str, ...]
    paging: Callable[[int | None], Paging]  # from the settings, with --page-size
    enumerator: Callable[[SubscriptionSettings, str, Paging], Enumerator]
    target: Callable[..., Target]  # (entity, destination, stack=, queue_url=, ...)
    message: Callable[[str, str, str], str]  # (entity, record id, destination) -> message body
    transfer_time: Callable[[int, SubscriptionSettings], str]
    date_fields: tuple[str, ...] = ("updated_datetime", "created_datetime")
    skip: Callable[[str, dict[str, Any], SubscriptionSettings], bool] | None = None  # counted as `filtered`, not enqueued
    run_prefix: str = ""  # checkpoint item: pk initialize#<prefix><entity>
    direction: str = "{entity} -> destination {destination}"
    unsupported: str = ""  # why an entity is not offered
    calls_per_record: Mapping[str, int] = field(default_factory=lambda: CALLS_PER_RECORD)  # QueuePace's estimate


NINETYNINE_MINDS_PAGING = Paging(page_param="page_no", size_param="page_size", first_page=1, page_size=50, end="empty")

SOURCES: dict[str, Source] = {
    "ipaas": Source(
        "ipaas",
        ENTITIES,
        lambda size: Paging.from_env(page_size=size),
        ipaas_search,
        _ipaas_target,
        _ipaas_message,
        transfer_time,
        skip=_transaction_filter,
    ),
    "99minds": Source(
        "99minds",
        ("customer",),
        lambda size: Paging.from_env("NINETYNINE_MINDS_LIST", NINETYNINE_MINDS_PAGING, page_size=size),
        ninetynine_minds_customers,
        _ninetynine_minds_target,
        _ninetynine_minds_message,
        to_ipaas_transfer_time,
        # assumed names (99minds publishes no customer JSON): this sandbox's, then iPaaS.com's
        date_fields=("updated_at", "created_at", "updated_datetime", "created_datetime"),
        run_prefix="99minds:",
        calls_per_record={"customer": 2},  # the customer and its loyalty card, read from 99minds
        direction="99minds {entity}s -> iPaaS.com, subscription {destination}",
        unsupported="loyalty card transactions have no published list to page (only per customer or card, "
        "unpaged, with no date filter); the customer initialization brings each card's current balance",
    ),
}


@dataclass(frozen=True)
class Estimate:
    records: int
    pages: int
    exact: bool  # False: an upper bound before the date window and the filter

    def describe(self, window: bool) -> str:
        qualifier = "at most " if window else ""
        return f"{qualifier}{self.records:,} record(s) in {self.pages} page(s)"


def estimate(enumerator: Enumerator, max_probes: int = 40) -> Estimate:
    """The record count by probing pages (no count is published): double the page number until a short page,
    then bisect to the last non-empty page; about 2 x log2(pages) page reads."""
    first = enumerator.first_page
    page = enumerator.page(first)
    if page.last:
        return Estimate(len(page.records), 1, True)
    size = len(page.records)
    low, high, probes = first, None, 0  # low: a page known not the last; high: the first known last
    seen = {first: page}
    step = 1
    while high is None and probes < max_probes:
        probe = seen[first + step] = enumerator.page(first + step)
        probes += 1
        if probe.last:
            high = first + step
        else:
            low = first + step
            step *= 2
    if high is None:
        return Estimate((low - first + 1) * size, low - first + 1, False)
    while high - low > 1 and probes < max_probes:
        mid = (low + high) // 2
        probe = seen[mid] = enumerator.page(mid)
        probes += 1
        if probe.last:
            high = mid
        else:
            low = mid
    last = seen[high]
    if last.records:
        return Estimate((high - first) * size + len(last.records), high - first + 1, True)
    # an empty last page: the page before it may be short (a list that ends at an empty page)
    return Estimate((low - first) * size + len(seen[low].records), low - first + 1, True)


# -- checkpoint and lock -----------------------------------------------------------------------------------
class LockHeld(ValueError):
    """Another run of the same (entity, destination) holds the lock."""


class LockLost(ValueError):
    """This run's lock was taken over (it had expired): stop without writing."""


@dataclass
class RunState:
    entity: str
    destination: str
    run_id: str
    owner: str
    status: str = "running"
    page: int = 1
    offset: int = 0
    page_size: int = 0  # the page size `page` and `offset` count in (0: not recorded, or the source decides)
    enqueued: int = 0
    filtered: int = 0
    outside_window: int = 0
    without_id: int = 0
    pages: int = 0
    sequence: int = 0
    since: str | None = None
    until: str | None = None
    limit: int | None = None
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    lock_expires_at: int = 0
    updated_at: str | None = None

    FIELDS = (
        "run_id",
        "owner",
        "status",
        "page",
        "offset",
        "page_size",
        "enqueued",
        "filtered",
        "outside_window",
        "without_id",
        "pages",
        "sequence",
        "since",
        "until",
        "limit",
        "started_at",
        "lock_expires_at",
        "updated_at",
    )
    TEXT_FIELDS = ("status", "since", "until", "started_at", "updated_at")  # besides run_id and owner
    NUMBER_FIELDS = (
        "page",
        "offset",
        "page_size",
        "enqueued",
        "filtered",
        "outside_window",
        "without_id",
        "pages",
        "sequence",
        "limit",
        "lock_expires_at",
    )

    @classmethod
    def from_item(cls, entity: str, destination: str, item: Mapping[str, object]) -> RunState:
        """The run a ledger item keeps (Runs._put writes it; the resource Table reads its numbers as Decimal).
        A field absent from the item keeps its default; one of the wrong type is a ValueError naming it."""

        def wrong(name: str) -> ValueError:
            return ValueError(
                f"initialize run item {entity} -> {destination}: '{name}' is a "
                f"{type(item.get(name)).__name__}, not a {'number' if name in cls.NUMBER_FIELDS else 'text'}"
            )

        run_id, owner = item.get("run_id"), item.get("owner")
        if not isinstance(run_id, str):
            raise wrong("run_id")
        if not isinstance(owner, str):
            raise wrong("owner")
        state = cls(entity=entity, destination=destination, run_id=run_id, owner=owner)
        for name in cls.TEXT_FIELDS:
            if name in item:
                if not isinstance(item[name], str):
                    raise wrong(name)
                setattr(state, name, item[name])
        for name in cls.NUMBER_FIELDS:
            if name in item:
                value = item[name]
                if isinstance(value, bool) or not isinstance(value, Decimal | int):
                    raise wrong(name)
                setattr(state, name, int(value))
        return state


class Runs:
    """Initialize runs in the ledger table (boto3 resource Table: plain Python values)."""

    def __init__(self, table: str, *, lock_seconds: int | None = None, resource: DynamoDBServiceResource | None = None):
        import boto3

        self.table = (resource or boto3.resource("dynamodb")).Table(table)
        self.lock_seconds = lock_seconds or int(os.environ.get("INITIALIZE_LOCK_SECONDS") or DEFAULT_LOCK_SECONDS)

    @staticmethod
    def key(entity: str, destination: str) -> dict[str, str]:
        return {"pk": f"{RUN_PK}{entity}", "sk": str(destination)}

    def get(self, entity: str, destination: str) -> RunState | None:
        item = self.table.get_item(Key=self.key(entity, destination), ConsistentRead=True).get("Item")
        if not item:
            return None
        return RunState.from_item(entity, destination, item)

    def acquire(self, state: RunState, *, expect_run: str | None = None) -> None:
        """Take the lock for `state` (a new run, or `expect_run` continued); LockHeld names the holder."""
        free = "(NOT #s IN (:running, :handoff) OR lock_expires_at < :now)"
        values: dict[str, str | int] = {":running": "running", ":handoff": "handoff"}
        if expect_run is None:
            condition = f"attribute_not_exists(pk) OR {free}"
        else:
            condition, values[":run"] = f"run_id = :run AND {free}", expect_run
        try:
            self._put(state, condition, values)
        except _Conflict:
            held = self.get(state.entity, state.destination)
            if held and held.status in ("running", "handoff") and held.lock_expires_at >= time.time():
                raise LockHeld(holder(held)) from None
            raise LockHeld(
                f"initialize {state.entity} -> {state.destination}: the run changed meanwhile "
                "(another run started or resumed it); try again"
            ) from None

    def handoff_take(self, state: RunState, sequence: int) -> None:
        """A continuation invocation takes over from the invocation that handed the run off to it."""
        try:
            self._put(
                state,
                "run_id = :run AND #seq = :seq AND #s = :handoff",
                {":run": state.run_id, ":seq": sequence, ":handoff": "handoff"},
            )
        except _Conflict:
            raise LockLost(
                f"run {state.run_id} continuation {sequence} is not the current one (a repeated "
                "delivery, or the run was resumed elsewhere)"
            ) from None

    def handoff(self, state: RunState, owner: str) -> int:
        """Hand the run (still locked) to the next invocation; returns the sequence number it must present."""
        state.status, state.sequence = "handoff", state.sequence + 1
        self.save(state, owner)
        return state.sequence

    def save(self, state: RunState, owner: str) -> None:
        """Checkpoint (renews the lock), or change the status; only by the run's current owner."""
        try:
            self._put(state, "run_id = :run AND #o = :owner", {":run": state.run_id, ":owner": owner})
        except _Conflict:
            raise LockLost(
                f"run {state.run_id} of initialize {state.entity} -> {state.destination} is no longer "
                f"held by {owner} (its lock expired and another run took it)"
            ) from None

    def _put(self, state: RunState, condition: str, values: dict[str, str | int]) -> None:
        # attribute names that are DynamoDB reserved words go through placeholders
        from botocore.exceptions import ClientError

        now = int(time.time())
        state.lock_expires_at = now + self.lock_seconds if state.status in ("running", "handoff") else 0
        state.updated_at = datetime.now(UTC).isoformat(timespec="seconds")
        item = {
            **self.key(state.entity, state.destination),
            "kind": "initialize",
            "entity": state.entity,
            "destination": state.destination,
            "expires_at": now + RUN_TTL_DAYS * 86400,
            **{k: getattr(state, k) for k in RunState.FIELDS if getattr(state, k) is not None},
        }
        names = {n: a for n, a in (("#s", "status"), ("#o", "owner"), ("#seq", "sequence")) if n in condition}
        try:
            self.table.put_item(
                Item=item,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={":now": now, **values} if ":now" in condition else values,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise _Conflict() from None
            raise


class _Conflict(Exception):
    pass


def holder(state: RunState) -> str:
    until = datetime.fromtimestamp(state.lock_expires_at, UTC).isoformat(timespec="seconds")
    return (
        f"initialize {state.entity} -> {state.destination} is already running: run {state.run_id}, held by "
        f"{state.owner} since {state.started_at}, at page {state.page} ({state.enqueued} enqueued); its lock "
        f"expires at {until} unless renewed"
    )


# -- the run -----------------------------------------------------------------------------------------------
def parse_date(text: str | None, what: str) -> datetime | None:
    """--since/--until: an age before now (24h, 7d) or a date, as `ipaas-sync report --since` takes them; a run
    stores the time it means (a resume does not move it)."""
    from .replay import parse_moment

    return parse_moment(text, what)


def record_time(record: dict[str, Any], names: tuple[str, ...] = ("updated_datetime", "created_datetime")) -> datetime | None:
    for name in names:
        value = record.get(name)
        if value:
            try:
                parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            except ValueError:
                continue
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


@dataclass
class Report:
    run_id: str
    status: str  # finished | paused (a function continues it) | interrupted | limit | dry-run
    enqueued: int  # by the whole run, across its resumes and continuations
    added: int  # by this invocation (a resumed run: what it added to the run's total)
    filtered: int
    outside_window: int
    without_id: int
    pages: int
    seconds: float
    page: int
    offset: int
    paced: float = 0.0  # seconds waited for the queue to have room (QueuePace)

    def lines(self, target: Target | None = None) -> list[str]:
        verb = "would be enqueued" if self.status == "dry-run" else "enqueued"
        total = "" if self.added == self.enqueued else f" by this run ({self.enqueued:,} in all by run {self.run_id})"
        out = [
            f"{self.added:,} record(s) {verb}" + (f" onto {target.queue}" if target else "") + total,
            f"{self.pages:,} page(s) read in {_duration(self.seconds)}"
            + (f", {_duration(self.paced)} of it waiting for the queue to drain (--pace-ahead)" if self.paced else ""),
        ]
        if self.outside_window:
            out.insert(2, f"{self.outside_window:,} outside --since/--until (not enqueued)")
        if self.without_id:
            out.insert(2, f"{self.without_id:,} without an id (logged, not enqueued)")
        if self.filtered or (target is not None and target.entity == "transaction"):  # only transactions are filtered
            out.insert(1, f"{self.filtered:,} skipped by the transaction mapping filter (not enqueued)")
        if self.status in ("interrupted", "limit", "paused"):
            out.append(f"stopped at page {self.page} (offset {self.offset}), run {self.run_id}: `--resume` continues it")
        return out


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


class Initializer:
    """One (entity, destination) initialization: enumerate, filter, enqueue, checkpoint."""

    def __init__(
        self,
        target: Target,
        enumerator: Enumerator,
        runs: Runs | None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        owner: str | None = None,
        progress: Callable[[RunState, float], None] | None = None,
        should_pause: Callable[[], bool] = lambda: False,
        source: Source | None = None,
        pace: QueuePace | None = None,
    ):
        self.target, self.enumerator, self.runs = target, enumerator, runs
        self.pace = pace
        self.source = source or SOURCES["ipaas"]
        self.run_entity = f"{self.source.run_prefix}{target.entity}"  # the checkpoint item's entity
        self.since, self.until, self.limit = since, until, limit
        self.owner = owner or f"{getpass.getuser()}@{socket.gethostname()} pid {os.getpid()}"
        self.progress = progress
        self.should_pause = should_pause

    @property
    def checkpoints(self) -> Runs:
        """The runs in the ledger table: every run but a dry run has them (build() refuses one without the table)."""
        if self.runs is None:
            raise ValueError("name the ledger table (it keeps the checkpoint and the lock) with --table or LEDGER_TABLE")
        return self.runs

    # -- starting ------------------------------------------------------------------------------------------
    def new_state(self) -> RunState:
        return RunState(
            entity=self.run_entity,
            destination=self.target.destination,
            run_id=uuid.uuid4().hex[:12],
            owner=self.owner,
            page=self.enumerator.first_page,
            page_size=self.enumerator.page_size or 0,
            since=self.since.isoformat() if self.since else None,
            until=self.until.isoformat() if self.until else None,
            limit=self.limit,
        )

    def preflight(self, *, resume: bool = False, restart: bool = False) -> RunState | None:
        """The checks before a run (before any page is read): the run to resume, if any. LockHeld / ValueError."""
        previous = self.checkpoints.get(self.run_entity, self.target.destination)
        if previous and previous.status in ("running", "handoff") and previous.lock_expires_at >= time.time():
            raise LockHeld(holder(previous))
        unfinished = previous is not None and previous.status != "finished"
        if resume and not unfinished:
            raise ValueError(
                f"nothing to resume for initialize {self.run_entity} -> {self.target.destination}"
                + (f" (run {previous.run_id} finished)" if previous else "")
            )
        if not resume and not restart and previous is not None and previous.status != "finished":
            raise ValueError(
                f"run {previous.run_id} of initialize {self.run_entity} -> {self.target.destination} "
                f"stopped at page {previous.page} ({previous.status}, {previous.enqueued} enqueued): "
                "--resume continues it, --restart starts over"
            )
        return self.realign(previous) if resume and previous is not None else None

    def start(self, *, resume: bool = False, restart: bool = False) -> RunState:
        """Take the lock for a new run, or for the stopped run (`resume`)."""
        previous = self.preflight(resume=resume, restart=restart)
        if previous is not None:
            state = replace(self.realign(previous), owner=self.owner, status="running")
            self.since, self.until = parse_date(state.since, "since"), parse_date(state.until, "until")
            state.limit = self.limit  # the new --limit (a total for the run), or none: to the end
            self.checkpoints.acquire(state, expect_run=previous.run_id)
            return state
        state = self.new_state()
        self.checkpoints.acquire(state)
        return state

    def realign(self, state: RunState) -> RunState:
        """The stopped run's cursor in this run's page size: the same next record (the source's order is stable),
        or a ValueError naming the page size to resume with when the position cannot be re-expressed."""
        size, first = self.enumerator.page_size or 0, self.enumerator.first_page
        if state.page_size == size or (state.page == first and state.offset == 0):
            return replace(state, page_size=size)
        stopped = (
            f"run {state.run_id} of initialize {self.run_entity} -> {self.target.destination} stopped at page "
            f"{state.page} (offset {state.offset})"
        )
        if not state.page_size:  # a checkpoint written before the page size was recorded: it cannot be checked
            logger.warning(f"initialize: {stopped}; its checkpoint does not say in which page size: resumed as recorded")
            return replace(state, page_size=size)
        if not size:
            raise ValueError(
                f"{stopped} reading {state.page_size} records per page, and the source now decides its page size: "
                f"resume it with its page size parameter set and --page-size {state.page_size}"
            )
        page, offset = divmod((state.page - first) * state.page_size + state.offset, size)
        return replace(state, page=first + page, offset=offset, page_size=size)

    # -- running -------------------------------------------------------------------------------------------
    def run(self, state: RunState | None = None) -> Report:
        """Enumerate from the state's cursor; `state` None is a dry run (no lock, no checkpoint, no send)."""
        dry = state is None
        state = state or self.new_state()
        started, before = time.monotonic(), state.enqueued
        done_status = "dry-run" if dry else "finished"
        try:
            while True:
                if self.limit is not None and state.enqueued >= self.limit:
                    done_status = "dry-run" if dry else "limit"
                    break
                if not dry and self.pace is not None and not self.pace.wait(self.should_pause):
                    done_status = "paused"
                    break
                page = self.enumerator.page(state.page)
                bodies, taken = self._select(page.records[state.offset :], state)
                if not dry:
                    self.target.send(bodies)
                state.enqueued += len(bodies)
                consumed = state.offset + taken
                if consumed < len(page.records):  # stopped inside the page at the limit
                    state.offset = consumed
                else:
                    state.page, state.offset = page.number + 1, 0
                    state.pages += 1
                finished = page.last and state.offset == 0
                if finished:
                    state.status = "finished" if not dry else state.status
                if not dry:
                    self.checkpoints.save(state, self.owner)
                if self.progress:
                    self.progress(state, time.monotonic() - started)
                if finished:
                    break
                if not dry and self.should_pause():
                    done_status = "paused"
                    break
        except KeyboardInterrupt:
            done_status = "interrupted"
        except BaseException:
            if not dry:
                self._stop(state, "failed")
            raise
        if not dry and done_status in ("interrupted", "limit"):
            self._stop(state, done_status)
        return Report(
            run_id=state.run_id,
            status=done_status,
            enqueued=state.enqueued,
            added=state.enqueued - before,
            filtered=state.filtered,
            outside_window=state.outside_window,
            without_id=state.without_id,
            pages=state.pages,
            seconds=time.monotonic() - started,
            page=state.page,
            offset=state.offset,
            paced=self.pace.waited if self.pace is not None else 0.0,
        )

    def _stop(self, state: RunState, status: str) -> None:
        state.status = status
        try:
            self.checkpoints.save(state, self.owner)
        except LockLost:
            pass
        except Exception as exc:  # noqa: BLE001 - the lock then expires by itself; say so
            logger.warning(
                f"initialize: could not release the lock ({type(exc).__name__}); it expires in {self.checkpoints.lock_seconds}s"
            )

    def _select(self, records: list[dict[str, Any]], state: RunState) -> tuple[list[str], int]:
        """The bodies to send from these records (up to the limit), and how many records were consumed."""
        bodies: list[str] = []
        sub = self.target.subscription
        for n, record in enumerate(records):
            if self.limit is not None and state.enqueued + len(bodies) >= self.limit:
                return bodies, n
            record_id = record.get("id")
            if record_id in (None, ""):
                logger.warning(
                    f"initialize: a {self.target.entity} record without an id on page {state.page}; not enqueued",
                    extra={"fields": sorted(record)[:20]},
                )
                state.without_id += 1
                continue
            when = record_time(record, self.source.date_fields)
            if when is not None and ((self.since and when < self.since) or (self.until and when >= self.until)):
                state.outside_window += 1
                continue
            if self.source.skip and self.source.skip(self.target.entity, record, sub):
                state.filtered += 1
                continue
            bodies.append(self.source.message(self.target.entity, str(record_id), self.target.destination))
        return bodies, len(records)


def filtered_out(record: dict[str, Any], sub: SubscriptionSettings) -> bool:
    """The handlers' transaction mapping filter, applied before enqueuing. A record the model rejects is
    enqueued: its handler dead-letters it with the reason (never dropped here)."""
    try:
        txn = IpaasTransaction.model_validate(record)
    except ValidationError:
        return False
    return rejection(txn, sub.transaction_filter) is not None


# -- building one from arguments (the command and the function share this) ---------------------------------
def build(
    options: dict[str, Any],
    *,
    sqs: SQSClient | None = None,
    registry: Callable[[], SubscriptionRegistry[SubscriptionSettings]] = load_registry,
    progress: Callable[[RunState, float], None] | None = None,
    should_pause: Callable[[], bool] = lambda: False,
    owner: str | None = None,
    on_wait: Callable[[int, int], None] | None = None,
) -> Initializer:
    entity, destination = options.get("entity"), options.get("destination")
    source_name = options.get("source") or "ipaas"
    if source_name not in SOURCES:
        raise ValueError(f"unknown source '{source_name}' (one of {', '.join(SOURCES)})")
    source = SOURCES[source_name]
    if entity not in source.entities:
        raise ValueError(
            f"entity must be one of {', '.join(source.entities)} for source {source_name}"
            + (f": {source.unsupported}" if source.unsupported and entity in ENTITIES else "")
        )
    if not destination:
        raise ValueError("name the destination (its iPaaS System Id)")
    since, until = parse_date(options.get("since"), "since"), parse_date(options.get("until"), "until")
    if since and until and since >= until:
        raise ValueError("--since must be before --until")
    limit = options.get("limit")
    if limit is not None and int(limit) < 1:
        raise ValueError("--limit must be at least 1")
    target = source.target(
        entity, str(destination), stack=options.get("stack"), queue_url=options.get("queue_url"), sqs=sqs, registry=registry
    )
    paging = source.paging(options.get("page_size"))
    enumerator = source.enumerator(target.subscription, entity, paging)
    ahead = options.get("pace_ahead")
    ahead = (
        float(os.environ.get("INITIALIZE_PACE_AHEAD_SECONDS") or DEFAULT_PACE_AHEAD_SECONDS) if ahead is None else float(ahead)
    )
    if ahead < 0:
        raise ValueError("--pace-ahead must be 0 (no pacing) or more seconds")
    pace = (
        QueuePace(target, ahead, paging.page_size, source.calls_per_record.get(entity, 1), on_wait=on_wait) if ahead > 0 else None
    )
    table = options.get("table") or os.environ.get("LEDGER_TABLE")
    runs = Runs(table) if table else None
    if runs is None and not options.get("dry_run"):
        raise ValueError("name the ledger table (it keeps the checkpoint and the lock) with --table or LEDGER_TABLE")
    return Initializer(
        target,
        enumerator,
        runs,
        since=since,
        until=until,
        limit=int(limit) if limit is not None else None,
        owner=owner,
        progress=progress,
        should_pause=should_pause,
        source=source,
        pace=pace,
    )


# -- the function (InitializeFunction) ---------------------------------------------------------------------
# Why an asynchronous self-invoke and not a Step Functions state machine: the run's whole state (cursor,
# counts, lock) already lives in DynamoDB for the command's --resume, so a continuation needs nothing but
# "invoke me again with the run id"; a state machine would add a second resource, role and execution history
# to keep in step with that table, and could not run in the local stack. Each handoff is guarded: the next
# invocation takes the run only with the run id and the sequence number the last one wrote (a repeated async
# delivery, or a second chain, finds them changed and stops). The function sets RecursiveLoop: Allow, since
# Lambda would otherwise stop an intentional self-invoking chain after 16 invocations.
DEFAULT_MARGIN_SECONDS = 60.0
PASS_ON = ("entity", "destination", "stack", "table", "page_size", "source", "queue_url", "pace_ahead")


def invoke_async(function_arn: str, payload: dict[str, Any]) -> None:
    import json

    import boto3

    boto3.client("lambda").invoke(FunctionName=function_arn, InvocationType="Event", Payload=json.dumps(payload).encode())


def run_function(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """One invocation: start (or resume, or continue) a run, enumerate until INITIALIZE_MARGIN_SECONDS before
    the timeout, checkpoint, and hand the run to a new asynchronous invocation of this function."""
    from . import deadline

    margin = float(os.environ.get("INITIALIZE_MARGIN_SECONDS") or DEFAULT_MARGIN_SECONDS)
    with deadline.invocation(context):

        def should_pause() -> bool:
            return context.get_remaining_time_in_millis() / 1000.0 < margin

        try:
            init = build(
                event,
                owner=f"InitializeFunction request {context.aws_request_id}",
                should_pause=should_pause,
                on_wait=lambda depth, room: logger.info(
                    f"initialize: the queue holds {depth:,} record(s); with the next page it would hold more than the "
                    f"{room:,} the destination's limit drains in the pacing window (--pace-ahead): waiting for room"
                ),
            )
            if init.pace is not None:  # a wait between two checks never runs into the margin
                init.pace.poll_seconds = min(init.pace.poll_seconds, margin / 2)
            if event.get("dry_run"):
                return {**vars(init.run(None))}
            state = (
                _take_over(init, event["continue"])
                if event.get("continue")
                else init.start(resume=bool(event.get("resume")), restart=bool(event.get("restart")))
            )
        except LockLost as exc:
            logger.info(f"initialize: {exc}")
            return {"status": "superseded", "reason": str(exc)}
        except ValueError as exc:
            logger.warning(f"initialize refused: {exc}")
            return {"status": "refused", "error": str(exc)}
        try:
            report = init.run(state)
        except LockLost as exc:
            logger.info(f"initialize: {exc}")
            return {"status": "superseded", "reason": str(exc)}
        except TransferError as exc:
            logger.error(f"initialize failed at page {state.page}: {exc.message}; invoke with resume=true to continue")
            return {"status": "failed", "error": exc.message, "page": state.page, "run_id": state.run_id}
        result: dict[str, Any] = {**vars(report)}
        if report.status == "paused":
            sequence = init.checkpoints.handoff(state, init.owner)
            payload = {
                **{k: event[k] for k in PASS_ON if event.get(k) is not None},
                "continue": {"run_id": state.run_id, "sequence": sequence},
            }
            try:
                invoke_async(context.invoked_function_arn, payload)
                result["continued"] = sequence
            except Exception as exc:  # noqa: BLE001 - the checkpoint stands; the lock expires, --resume continues
                logger.error(
                    f"initialize: could not invoke the continuation ({type(exc).__name__}); the run "
                    f"stays at page {state.page}: invoke with resume=true once its lock expires"
                )
                result["error"] = f"continuation not invoked: {type(exc).__name__}"
        logger.info(f"initialize {report.status}", extra={"initialize": result})
        return result


def _take_over(init: Initializer, cont: dict[str, Any]) -> RunState:
    target = init.target
    previous = init.checkpoints.get(init.run_entity, target.destination)
    if previous is None or previous.run_id != cont.get("run_id"):
        raise LockLost(f"run {cont.get('run_id')} is not the current run of initialize {init.run_entity} -> {target.destination}")
    state = replace(init.realign(previous), owner=init.owner, status="running")
    init.checkpoints.handoff_take(state, int(cont.get("sequence", -1)))
    init.since, init.until = parse_date(state.since, "since"), parse_date(state.until, "until")
    init.limit = state.limit
    return state


# -- the command -------------------------------------------------------------------------------------------
class ProgressBar:
    """records, rate and ETA on one terminal line (stderr). With pacing (`pace`), the ETA is at least the time the
    destination's limit takes to drain what cannot fit in the queue: the run waits for it, however fast it reads."""

    def __init__(self, total: int | None, out: TextIO = sys.stderr, width: int = 30):
        self.total, self.out, self.width = total, out, width
        self.verb = "enqueued"  # a dry run: "to enqueue"
        self.pace: QueuePace | None = None

    def __call__(self, state: RunState, elapsed: float) -> None:
        done = state.enqueued + state.filtered + state.outside_window + state.without_id
        rate = done / elapsed if elapsed > 0 else 0.0
        if self.total:
            filled = min(self.width, int(self.width * done / self.total))
            left = max(0, self.total - done)
            seconds = left / rate if rate else 0.0
            if self.pace is not None and self.pace.room:  # the records beyond the queue's room wait for the drain
                seconds = max(seconds, max(0, left - self.pace.room) * self.pace.ahead / self.pace.room)
            eta = _duration(seconds) if left else "0s"
            bar = f"[{'#' * filled}{'.' * (self.width - filled)}] {done:,}/{self.total:,}"
        else:
            bar, eta = f"{done:,} records", "?"
        self.out.write(f"\r{bar}  page {state.pages}  {state.enqueued:,} {self.verb}  {rate:,.1f}/s  ETA {eta}   ")
        self.out.flush()

    def close(self) -> None:
        self.out.write("\n")
        self.out.flush()


def run_cli(args: argparse.Namespace) -> int:
    try:
        return _run_cli(args)
    except KeyboardInterrupt:  # before the run started (estimate, prompt): nothing was enqueued
        print("\ninterrupted before enqueuing anything", file=sys.stderr)
        return 130
    except TransferError as exc:  # iPaaS.com still failing after the retries, before the run started
        print(f"\nipaas-sync: {exc.message}; nothing was enqueued", file=sys.stderr)
        return 1


def _run_cli(args: argparse.Namespace) -> int:
    options = vars(args)
    bar = ProgressBar(None)

    def waiting(depth: int, room: int) -> None:
        print(
            f"\nthe queue holds {depth:,} record(s); with the next page it would hold more than the {room:,} the "
            f"destination's limit drains in {_duration(init.pace.ahead if init.pace else 0)} (--pace-ahead): waiting "
            "for room (Ctrl-C stops; --resume continues)",
            file=sys.stderr,
        )

    init = build(options, progress=bar, on_wait=waiting)
    bar.pace = init.pace
    if args.dry_run:
        bar.verb = "to enqueue"
    target = init.target
    window = bool(init.since or init.until)
    direction = init.source.direction.format(entity=target.entity, destination=target.destination)
    print(
        f"initialize {direction} ('{target.subscription.name}', {target.subscription.platform}), from the "
        f"{init.enumerator.describe()}"
    )
    previous = None if args.dry_run else init.preflight(resume=args.resume, restart=args.restart)
    if previous is not None:
        print(f"resuming run {previous.run_id} at page {previous.page} ({previous.enqueued:,} enqueued so far)")
        # no second estimate (page reads) for a resume: the prompt names what the run did so far
        ask = f"run {previous.run_id} enqueued {previous.enqueued:,} record(s) so far: enqueue the rest onto {target.queue}?"
    else:
        found = estimate(init.enumerator)
        bar.total = found.records
        upto = "up to " if window or target.entity == "transaction" else ""  # before the window and the filter
        ask = f"enqueue {upto}{found.records:,} record(s) onto {target.queue}?"
        print(
            f"found {found.describe(window)}"
            + ("" if found.exact else " (probe limit reached: at least this many)")
            + (" before --since/--until" if window else "")
            + (" and the transaction mapping filter" if target.entity == "transaction" else "")
        )
        print(init.source.transfer_time(found.records, target.subscription))
    if args.dry_run:
        report = init.run(None)
    else:
        if not args.yes:
            if not sys.stdin.isatty():
                raise ValueError("not a terminal: confirm with --yes")
            if input(f"{ask} [y/N] ").strip().lower() not in ("y", "yes"):
                print("nothing enqueued")
                return 1
        state = init.start(resume=args.resume, restart=args.restart)
        print(f"run {state.run_id} (lock held by {init.owner})")
        try:
            report = init.run(state)
        except TransferError as exc:  # iPaaS.com or SQS still failing after the retries
            bar.close()
            print(
                f"ipaas-sync: {exc.message}\nrun {state.run_id} stopped at page {state.page} ({state.enqueued:,} "
                "enqueued, status failed): the same command with --resume continues it",
                file=sys.stderr,
            )
            return 1
    bar.close()
    for line in report.lines(target):
        print(line)
    if report.added and report.status != "dry-run":
        print(init.source.transfer_time(report.added, target.subscription))
    return 130 if report.status == "interrupted" else 0


def register_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "initialize", help="enqueue every existing record of an entity for a destination (backfill; resumable)"
    )
    p.add_argument(
        "--source",
        choices=tuple(SOURCES),
        default="ipaas",
        help="ipaas (default): iPaaS.com records onto the destination's queue; 99minds: 99minds "
        "customers onto the 99minds -> iPaaS.com queue (the destination is the 99minds subscription)",
    )
    p.add_argument("--entity", required=True, choices=ENTITIES)
    p.add_argument("--destination", required=True, metavar="SYSTEM_ID", help="the subscription's iPaaS System Id")
    p.add_argument(
        "--since", help="only records updated at or after this: an age (24h, 7d) or a date (YYYY-MM-DD or ISO date-time)"
    )
    p.add_argument("--until", help="only records updated before this: an age (2h) or a date")
    p.add_argument("--dry-run", action="store_true", help="read and count; enqueue nothing, take no lock")
    p.add_argument("--limit", type=int, help="stop after enqueuing N records")
    p.add_argument(
        "--pace-ahead",
        type=float,
        metavar="SECONDS",
        help="keep the queue no fuller than the destination's limit drains in this many seconds, waiting before a "
        f"page when it is (default {DEFAULT_PACE_AHEAD_SECONDS:g}, or INITIALIZE_PACE_AHEAD_SECONDS; SQS delays a "
        "deferred record at most 900 s); 0 enqueues everything at once",
    )
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    again = p.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="continue the stopped run from its checkpoint")
    again.add_argument("--restart", action="store_true", help="start over although a stopped run exists")
    p.add_argument(
        "--page-size",
        type=int,
        help=f"records per page (default IPAAS_SEARCH_PAGE_SIZE or "
        f"{Paging.page_size}; --source 99minds: NINETYNINE_MINDS_LIST_PAGE_SIZE or "
        f"{NINETYNINE_MINDS_PAGING.page_size})",
    )
    p.add_argument("--stack", help="the deployed stack's name (queue names; default STACK_NAME)")
    p.add_argument("--table", help="the ledger table (checkpoint and lock; default LEDGER_TABLE)")
    p.add_argument("--queue-url", help="--source 99minds: the FromNinetyNineMindsQueueUrl output (instead of the stack's name)")
    p.set_defaults(run=run_cli)


__all__ = [
    "SOURCES",
    "Enumerator",
    "Initializer",
    "IpaasSearch",
    "LockHeld",
    "LockLost",
    "NinetyNineMindsCustomers",
    "Paging",
    "Runs",
    "Source",
    "build",
    "estimate",
]
