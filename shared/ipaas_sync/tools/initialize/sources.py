"""Where an initialization reads and what it enqueues: the sources, the queue's pace, the size estimate."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ...core.models.ipaas import IpaasTransaction
from ...core.models.notification import ENTITIES
from ...core.settings import SubscriptionRegistry, SubscriptionSettings, load_registry
from ...mapping.transaction_filter import rejection
from ...platform.queues import queue_depth
from .. import sync_99minds
from ..enqueue import Target, notification, resolve_target
from .paging import Enumerator, Paging, ipaas_search, ninetynine_minds_customers

if TYPE_CHECKING:  # the boto3 service stubs are development packages (types only), never in the layer
    from mypy_boto3_sqs import SQSClient


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


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


def filtered_out(record: dict[str, Any], sub: SubscriptionSettings) -> bool:
    """The handlers' transaction mapping filter, applied before enqueuing. A record the model rejects is
    enqueued: its handler dead-letters it with the reason (never dropped here)."""
    try:
        txn = IpaasTransaction.model_validate(record)
    except ValidationError:
        return False
    return rejection(txn, sub.transaction_filter) is not None
