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

import getpass
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ...core.models.notification import ENTITIES
from ...core.observability import logger
from ...core.settings import SubscriptionRegistry, SubscriptionSettings, load_registry
from ..enqueue import Target
from .checkpoint import LockHeld, LockLost, Runs, RunState, holder
from .paging import Enumerator
from .sources import DEFAULT_PACE_AHEAD_SECONDS, SOURCES, QueuePace, Source, _duration

if TYPE_CHECKING:  # the boto3 service stubs are development packages (types only), never in the layer
    from mypy_boto3_sqs import SQSClient


# -- the run -----------------------------------------------------------------------------------------------
def parse_date(text: str | None, what: str) -> datetime | None:
    """--since/--until: an age before now (24h, 7d) or a date, as `ipaas-sync report --since` takes them; a run
    stores the time it means (a resume does not move it)."""
    from ..replay import parse_moment

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
