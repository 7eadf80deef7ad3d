"""A rate limiter per destination, shared by every function and every concurrent invocation: slot reservations.

99minds counts 150 requests per minute per IP for all our calls together, so the schedule must live outside any
one process: one DynamoDB item per destination key, moved by one conditional UpdateItem per reservation.
Powertools has no rate limiter (and no distributed one exists in the libraries we use); this is the small piece
written by hand.

Algorithm: a generic cell rate algorithm (GCRA). The item keeps `tat`, the theoretical arrival time: the time of
the next free slot. Slots are spaced `interval = seconds * (1 + headroom) / limit` apart, so the partner never sees
more than `limit` requests in any window of `seconds` (the headroom absorbs network jitter and the late use of a slot
allowed below: SAFETY, 2% of the window, but at most MAX_HEADROOM_SECONDS of it). A reservation of n slots is one
conditional write:
    lane idle  (tat <= now):   SET tat = now + n * interval      -> the slots start now
    lane busy  (tat >  now):   SET tat = tat + n * interval      -> the slots start at the old tat
and the caller sleeps (locally, never polling DynamoDB) until its slot. Which branch to try first is guessed from
the item as last seen; a wrong guess costs one more call (the failed write returns the item: ALL_OLD).

A record that would wait more than MAX_WAIT for its first slot is not slept for: the limiter raises Deferred with
the time at which the record should come back. Those times come from a second schedule in the same item,
`dtat` (the deferred records' horizon), which advances by the record's expected number of requests times the
interval (slightly faster than the lane, HORIZON_PACE, so the lane never runs dry), so that deferred records come
back spread out at the rate the partner allows, not all at once. A record that was not deferred before does not
jump ahead of the deferred ones while the lane is busy. Only a record's first rate-limited call, before any write
of its transfer (scope.py: record_scope / mark_written), can be deferred; later calls of the same record wait for their
slot (the lane is never more than about MAX_WAIT ahead, because deferred records do not hold lane slots).

Several slots at once: a record's first call reserves as many contiguous slots as the records of this container
needed on average (one for a customer, three for a gift card), so its later calls need no DynamoDB call and no
wait beyond the spacing. A slot is never used early, and late by at most half the headroom (headroom x seconds / 2;
an unused slot then expires: never a burst). A generous limit is given more headroom (iPaaS.com's: we use
at most 80% of it), so its slots stay usable for seconds and a container reserves up to MAX_ALLOWANCE of them in
one call: most records then make no DynamoDB call for it at all.

A 429 (penalize): the first 429 of a burst moves `tat` to now + Retry-After (every container waits it out; the
other 429s of the same burst find the block and change nothing). A 429 that comes within RECOVERY of the previous
burst raises the slowdown level: the interval grows by SLOWDOWN_STEP per level and shrinks back linearly to the
limit over RECOVERY once the 429s stop.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError

from ..core.errors import ConfigurationError, Deferred, TransientError
from . import deadline
from .circuit import CircuitConfig, SharedCircuit, Update
from .scope import MAX_WAIT, Admission, Ask, Scope, current, latest_first_slot, mark_written, record_scope

if TYPE_CHECKING:  # the boto3 service stubs are development packages (types only), never in the layer
    from mypy_boto3_dynamodb import DynamoDBClient

SAFETY = 0.02  # headroom: share of the window kept free; slots are (1 + headroom) * seconds / limit apart ...
# ... but never more than this many seconds of it: network jitter does not grow with the window, so a minute's window
# (99minds') keeps as many seconds free as a short one does, and loses 1% of its slots instead of 2%
MAX_HEADROOM_SECONDS = 0.6
HORIZON_PACE = 0.95  # deferred records come back 5% faster than the lane serves them
MAX_ALLOWANCE = 20  # slots a container reserves in one call at most
BURST_GRACE = 1.0  # a 429 this soon after a block ended belongs to the same burst (no slowdown for it)
SLOWDOWN_STEP = 0.5  # each repeated 429 burst adds half an interval ...
MAX_LEVEL = 5  # ... up to 3x the interval
ATTEMPTS = 4  # conditional writes per reservation before contention is reported as transient
ADMIT_ATTEMPTS = 8  # compare-and-set rounds for a batch's booking (then its records reserve call by call)
ITEM_TTL = 86400  # the item expires a day after its last use


def _num(item: dict[str, Any], name: str) -> float | None:
    value = item.get(name, {}).get("N")
    return float(value) if value is not None else None


class DynamoRateLimiter:
    def __init__(
        self,
        table_name: str,
        key: str,
        limit: int,
        seconds: float,
        *,
        client: DynamoDBClient | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        on_wait: Callable[[float], None] | None = None,
        headroom: float | None = None,
        circuit: CircuitConfig | None = None,
        on_open: Callable[[str], None] | None = None,
    ):
        if limit <= 0 or seconds <= 0:
            raise ValueError("limit and seconds must be positive")
        headroom = default_headroom(seconds) if headroom is None else headroom
        self.table_name, self.key, self.limit, self.seconds = table_name, key, limit, seconds
        self.interval = seconds * (1 + headroom) / limit
        # a slot may be used late by half the headroom (never early); the other half absorbs network and clock jitter
        self.tolerance = headroom * seconds / 2
        self.block = max(1, min(MAX_ALLOWANCE, int(self.tolerance / self.interval)))
        self.recovery = 2.0 * seconds
        self._ddb = client or boto3.client("dynamodb")
        self._clock, self._sleep, self._on_wait = clock, sleep, on_wait
        self._lock = threading.Lock()
        self._allowance: list[float] = []  # slot times this container reserved and has not used yet
        self._item: dict[str, Any] = {}  # the limiter item as last seen
        self._lane_busy = False  # whether this container's last reservation found the lane busy
        self._seen_at = float("-inf")  # when the item was last seen
        self._calls_per_record: dict[str, float] = {}  # kind -> requests per record (moving average)
        self._lead: dict[str, float] = {}  # kind -> seconds from admission to a record's first call (moving average)
        # counters (the benchmark and tests read them)
        self.waited_seconds = 0.0
        # of it, asleep before a record's first call through this limiter (what MAX_WAIT bounds); the rest is the
        # spacing between a record's own calls (a gift card's three requests are an interval apart whatever the load)
        self.first_slot_wait_seconds = 0.0
        self.longest_first_slot_wait = 0.0
        self.ddb_calls = 0
        self.deferrals = 0
        self.late_wakeups = 0  # slots given up because the thread woke up too late to use them
        self.expired_slots = 0  # slots booked or reserved here whose time passed unused (each one a gap in the lane)
        # the destination's circuit rides on this item (runtime/circuit.py): its state comes back with every booking
        self.circuit = SharedCircuit(
            key,
            write=self._write_circuit,
            item=lambda: self._item,
            read=self._read_item,
            config=circuit or CircuitConfig(),
            clock=clock,
            on_open=on_open,
        )

    # -- public -----------------------------------------------------------------------------------------
    def acquire(self) -> float:
        """Take one slot and wait (locally) until it; returns the slot's time. Raises Deferred for a record's first
        call when the slot is more than MAX_WAIT away, TransientError when it comes after this invocation's end."""
        scope = current()
        # only a record's first call through this limiter, before any write: a later one (e.g. an order's workflow
        # POST after its customer check) waits, so that no slot a record already used is used again. Nor a record
        # admit() booked slots for: if they expired before its first call (it took longer than expected to get
        # there), it has done its reads and waits for the lane's next slot, never more than about MAX_WAIT away
        # (admissions book the lane no further), rather than going back to its queue to read everything again.
        first_call = scope is None or not scope.calls.get(self)
        deferrable = first_call and scope is not None and not scope.wrote and self not in scope.slots
        first = True
        slept = 0.0
        while True:
            slot = self._take(scope, deferrable, first)
            deferrable = first = False  # a slot given up below: the record has waited, it takes the next one
            # never before its slot, nor before a 429's Retry-After is over
            due = max(slot, _num(self._item, "blocked_until") or 0.0)
            wait = due - self._clock()
            if wait <= 0:
                break
            if wait + 0.5 > deadline.remaining():
                raise TransientError(
                    f"rate limit {self.limit}/{self.seconds:g}s for {self.key}: the next slot is "
                    f"{wait:.0f} s away, after this invocation ends; redelivered later",
                    retry_after=wait,
                )
            self.waited_seconds += wait
            slept += wait
            if self._on_wait is not None:
                self._on_wait(wait)
            self._sleep(wait)
            if self._clock() <= due + self.tolerance:
                break
            # woke up later than the slot may be used (a busy machine: the thread waited for the CPU): the slot has
            # expired, as an unused one does; using it now could put one request too many in the partner's window
            self.late_wakeups += 1
        if first_call and slept:
            self.first_slot_wait_seconds += slept
            self.longest_first_slot_wait = max(self.longest_first_slot_wait, slept)
        if scope is not None:
            scope.calls[self] = scope.calls.get(self, 0) + 1
        return slot

    def _take(self, scope: Scope | None, deferrable: bool, first: bool) -> float:
        """The slot for this call: the next one admit() booked for the record, else one of this container's
        allowance, else a new reservation."""
        with self._lock:
            now = self._clock()
            own = scope.slots.get(self) if scope is not None else None
            blocked = _num(self._item, "blocked_until") or 0.0
            if own and own[0] < blocked:  # booked before a 429's block: the block took those within it
                own[:] = [t for t in own if t >= blocked]
            while own and own[0] < now - self.tolerance:
                own.pop(0)  # expired: never used late beyond the tolerance
                self.expired_slots += 1
            if own and first and scope is not None and not scope.calls.get(self):  # its first call: how long it took
                lead = now - scope.admitted_at
                self._lead[scope.kind] = 0.8 * self._lead.get(scope.kind, lead) + 0.2 * lead
            if own:
                if scope is not None and self in scope.earliest:
                    # booked on an idle lane for when the record was expected to call: it called sooner, so its
                    # slots move back with it (never before `earliest`, the lane's last booking before them)
                    shift = own[0] - max(now, scope.earliest.pop(self))
                    if shift > 0:
                        own[:] = [t - shift for t in own]
                return own.pop(0)  # booked for this record by admit()
            allowance = [s for s in self._allowance if s >= blocked]  # the block took those within it
            self._allowance = [s for s in allowance if s >= now - self.tolerance]
            self.expired_slots += len(allowance) - len(self._allowance)
            if not self._allowance:
                self._allowance = self._reserve(now, deferrable, scope)
            return self._allowance.pop(0)

    def penalize(self, retry_after: float | None) -> None:
        """The partner answered 429: every container holds off until Retry-After, once per burst."""
        now = self._clock()
        block_until = now + (retry_after if retry_after and retry_after > 0 else self.seconds / 4)
        with self._lock:
            self._allowance = []  # slots reserved before the 429 are not used during the block
            last, level = _num(self._item, "last_429"), int(_num(self._item, "lvl") or 0)
            previous_block = _num(self._item, "blocked_until") or 0.0
            if previous_block and now - previous_block < BURST_GRACE:
                level = max(level, 1)  # the first calls after the block met the same burst again: block again only
            else:
                level = min(level + 1, MAX_LEVEL) if last is not None and now - last < self.recovery else 1
            values = {":b": block_until, ":now": now, ":lvl": level}
            # a 429 while a block holds belongs to the burst that set it: nothing to do
            not_blocked = "(attribute_not_exists(blocked_until) OR blocked_until <= :now)"
            item = self._update(
                "SET blocked_until = :b, last_429 = :now, lvl = :lvl, tat = :b",
                f"{not_blocked} AND (attribute_not_exists(tat) OR tat < :b)",
                values,
            )
            if item is not None or (_num(self._item, "blocked_until") or 0) > now:
                return
            # the lane is already booked past the block: record the burst, leave the booked slots alone
            self._update("SET blocked_until = :b, last_429 = :now, lvl = :lvl", not_blocked, values)

    def observe(self, calls: int, kind: str = "") -> None:
        """Requests one record of `kind` made through this limiter: how many slots the next ones will need.

        One record counts at most one call more than the kind's current estimate: a rare record that makes extra
        calls once (a gift card settling an uncertain reload by its card's history: five or six requests where three
        is the rule) would otherwise raise the estimate to four, and every record deferred meanwhile would be booked
        four slots apart on the deferred horizon while using three: after an outage they came back a third of a slot
        sparser than the lane served them, and it ran dry between them. A kind whose cost really grows still
        reaches it, about one call per five records."""
        if calls > 0:
            known = self._calls_per_record.get(kind)
            self._calls_per_record[kind] = calls if known is None else 0.8 * known + 0.2 * min(calls, round(known) + 1)

    def give_back(self, slots: list[float]) -> None:
        """Slots booked for a record that did not need them: this container's next records may use them."""
        if slots:
            with self._lock:
                self._allowance = sorted([*self._allowance, *slots])

    def admit(self, asks: Sequence[Ask]) -> list[Admission]:
        """The rate-limit verdict for every record of a batch, before any of them does any work: one conditional
        write for the whole batch (a compare-and-set of the item as last seen; a lost race returns the item and is
        planned again).

        A record is admitted when its first slot is at most MAX_WAIT away; it gets its expected number of slots,
        contiguous, on the lane. Every other record is deferred: booked on the deferred horizon (`dtat`) and told
        when to come back. Records coming back from a deferral go first; a new record takes a busy lane only while
        no deferred record is waiting. A returning record whose time is still more than MAX_WAIT away (its delay
        was capped at 15 minutes) is deferred again to the same time, without a booking."""
        with self._lock:
            for _ in range(ADMIT_ATTEMPTS):
                now = self._clock()
                plan, tat, dtat = self._plan(now, asks)
                if tat is None and dtat is None:
                    return plan
                if self._compare_and_set(now, tat, dtat):
                    self.deferrals += sum(1 for a in plan if a.until is not None)
                    return plan
        raise TransientError(f"rate limiter {self.key}: {ADMIT_ATTEMPTS} conditional writes lost to concurrent callers")

    def _plan(self, now: float, asks: Sequence[Ask]) -> tuple[list[Admission], float | None, float | None]:
        step = self.interval * self._slowdown(now)
        tat0, dtat0 = _num(self._item, "tat") or 0.0, _num(self._item, "dtat") or 0.0
        # an idle lane's first slot is booked for when the record will make its call (after its iPaaS.com reads), so
        # that it is not already expired by then
        lead = min(MAX_WAIT, max((self._lead.get(a.kind, 0.0) for a in asks), default=0.0))
        free_from = max(now, tat0, _num(self._item, "blocked_until") or 0.0)  # nothing booked after this
        start = lane = max(now + lead, free_from)
        horizon = dtat0
        plan: list[Admission | None] = [None] * len(asks)
        admitted: list[tuple[int, int]] = []
        # returning records first (oldest slot first), then the new ones in batch order
        for i in sorted(range(len(asks)), key=lambda i: (asks[i].until is None, asks[i].until or 0.0)):
            ask = asks[i]
            if ask.until is not None and ask.until - now > MAX_WAIT:
                plan[i] = Admission(until=ask.until, reason=self._why(now, ask.until))
                continue
            need = self._expected_calls(ask.kind)
            returning = ask.until is not None
            # the wait is counted from the record's first call (now + lead), not from now
            latest = latest_first_slot(now + lead, ask.until, need, step)
            if lane <= latest and (returning or horizon <= now or lane <= now + lead):
                admitted.append((i, need))
                lane += need * step
            else:
                until = max(now, lane, horizon)
                # at the limit's own pace, never the slowed one: a slowdown is over long before a backlog is
                horizon = until + need * self.interval * HORIZON_PACE
                plan[i] = Admission(until=until, reason=self._why(now, until))
        for n, (i, need) in enumerate(sorted(admitted)):  # the slots in batch order
            # the lane's first record may call before its booked slot, back to when the lane was free
            earliest = free_from if n == 0 and free_from < start else None
            plan[i] = Admission(slots=[start + k * step for k in range(need)], limiter=self, earliest=earliest)
            start += need * step
        verdicts = [p for p in plan if p is not None]
        return verdicts, (start if admitted else None), (horizon if horizon != dtat0 else None)

    def _why(self, now: float, until: float) -> str:
        return (
            f"no slot of the shared rate limit {self.limit}/{self.seconds:g}s for {self.key} within {MAX_WAIT:g} s: "
            f"deferred to its slot in {max(0.0, until - now):.0f} s"
        )

    def _compare_and_set(self, now: float, tat: float | None, dtat: float | None) -> bool:
        """Write the planned tat/dtat if the item is still as last seen (its numbers compared as stored)."""
        sets, conditions = [], []
        values: dict[str, Any] = {}
        for name, new in (("tat", tat), ("dtat", dtat), ("blocked_until", None)):
            if new is not None:
                sets.append(f"{name} = :new_{name}")
                values[f":new_{name}"] = new
            old = self._item.get(name, {}).get("N")
            if old is None:
                conditions.append(f"attribute_not_exists({name})")
            else:
                conditions.append(f"{name} = :old_{name}")
                values[f":old_{name}"] = {"N": old}
        return self._update("SET " + ", ".join(sets), " AND ".join(conditions), values) is not None

    def _expected_calls(self, kind: str) -> int:
        return max(1, round(self._calls_per_record.get(kind, 1.0)))

    # -- internals ----------------------------------------------------------------------------------------
    def _slowdown(self, now: float) -> float:
        level, last = int(_num(self._item, "lvl") or 0), _num(self._item, "last_429")
        if level <= 1 or last is None:
            return 1.0
        return 1.0 + SLOWDOWN_STEP * (level - 1) * max(0.0, 1.0 - (now - last) / self.recovery)

    def _reserve(self, now: float, deferrable: bool, scope: Scope | None) -> list[float]:
        """Slot times for this container: `block` of them, or the record's expected number for a call that may be
        deferred."""
        kind, returning = (scope.kind, scope.returning) if scope else ("", False)
        n = max(self.block, self._expected_calls(kind)) if deferrable else self.block
        step = self.interval * self._slowdown(now)
        if (
            deferrable
            and not returning
            and (_num(self._item, "dtat") or 0) > now + MAX_WAIT
            and (now - self._seen_at < self.seconds)
        ):
            self._defer(now, kind)  # deferred records are waiting (as recently seen): behind them, one call
        busy_condition = "tat > :now"
        values = {":now": now, ":step": n * step}
        if deferrable:
            busy_condition += " AND tat <= :latest"
            until = scope.until if scope is not None and returning else None
            values[":latest"] = latest_first_slot(now, until, self._expected_calls(kind), step)
            if not returning:  # while deferred records wait, a new one does not take a busy lane before them
                busy_condition += " AND (attribute_not_exists(dtat) OR dtat <= :now)"
        # the first guess: the lane as this container last found it (it knows the item only from its own writes;
        # a lane it found busy is most likely still busy during a backlog, one it found idle still idle)
        tat = _num(self._item, "tat")
        busy = tat is not None and (tat > now or self._lane_busy)
        for _ in range(ATTEMPTS):
            if not busy:
                item = self._update(
                    "SET tat = :new", "attribute_not_exists(tat) OR tat <= :now", {":now": now, ":new": now + n * step}
                )
                if item is not None:
                    self._lane_busy = False
                    return [now + i * step for i in range(n)]
            else:
                item = self._update("SET tat = tat + :step", busy_condition, values)
                if item is not None:
                    self._lane_busy = True
                    start = float(item["tat"]["N"]) - n * step  # written by this very update
                    return [start + i * step for i in range(n)]
            tat = _num(self._item, "tat")  # the item as the failed write found it
            busy = tat is not None and tat > now
            if (
                deferrable
                and tat is not None
                and tat > now
                and (tat > values[":latest"] or (not returning and (_num(self._item, "dtat") or 0) > now))
            ):
                self._defer(now, kind)
        raise TransientError(f"rate limiter {self.key}: {ATTEMPTS} conditional writes lost to concurrent callers")

    def _defer(self, now: float, kind: str) -> None:
        """Book this record's place on the deferred horizon and raise Deferred with its time."""
        step = self._expected_calls(kind) * self.interval * self._slowdown(now) * HORIZON_PACE
        for _ in range(ATTEMPTS):
            base = max(now, _num(self._item, "tat") or 0, _num(self._item, "dtat") or 0)
            if (_num(self._item, "dtat") or 0) < base:
                item = self._update(
                    "SET dtat = :new", "attribute_not_exists(dtat) OR dtat < :base", {":base": base, ":new": base + step}
                )
                until = base
            else:
                item = self._update("SET dtat = dtat + :step", "dtat >= :base", {":base": base, ":step": step})
                until = (float(item["dtat"]["N"]) - step) if item is not None else 0.0  # written by this update
            if item is not None:
                self.deferrals += 1
                raise Deferred(
                    f"no slot of the shared rate limit {self.limit}/{self.seconds:g}s for {self.key} "
                    f"within {MAX_WAIT:g} s: deferred to its slot in {until - now:.0f} s",
                    until=until,
                )
        raise TransientError(f"rate limiter {self.key}: {ATTEMPTS} conditional writes lost to concurrent callers")

    def _update(self, update: str, condition: str, values: dict[str, Any]) -> dict[str, Any] | None:
        """One conditional UpdateItem; the item after it, or None when the condition did not hold (then the item
        as it was is kept in self._item). A value given as {"N": text} is passed as stored."""
        now = self._clock()
        attrs = {
            k: v if isinstance(v, dict) else {"N": f"{v:.6f}" if isinstance(v, float) else str(v)} for k, v in values.items()
        }
        attrs[":exp"] = {"N": str(int(now) + ITEM_TTL)}
        self.ddb_calls += 1
        self._seen_at = now
        try:
            resp = self._ddb.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": self.key}},
                UpdateExpression=f"{update}, expires_at = :exp",
                ConditionExpression=condition,
                ExpressionAttributeValues=attrs,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            found = exc.response.get("Item")
            self._item = dict(found) if isinstance(found, dict) else {}
            return None
        self._item = dict(resp.get("Attributes") or {})
        return self._item

    def _write_circuit(self, update: Update) -> tuple[bool, dict[str, Any]]:
        """One of the circuit's conditional writes, through this item's writer (the item kept as seen)."""
        with self._lock:
            item = self._update(update.expression, update.condition or "attribute_exists(pk)", dict(update.values))
            return item is not None, dict(self._item)

    def _read_item(self) -> dict[str, Any]:
        """The item as stored (for a container that books nothing: the circuit reads it once per probe interval)."""
        self.ddb_calls += 1
        item = self._ddb.get_item(TableName=self.table_name, Key={"pk": {"S": self.key}}, ConsistentRead=True).get("Item")
        with self._lock:
            self._item = dict(item or {})
            return dict(self._item)


def default_headroom(seconds: float) -> float:
    """The share of a window of `seconds` a destination's limiter keeps free: SAFETY, at most MAX_HEADROOM_SECONDS."""
    return min(SAFETY, MAX_HEADROOM_SECONDS / seconds)


_limiters: dict[tuple[str, int, float, float | None, CircuitConfig], DynamoRateLimiter] = {}
_limiters_lock = threading.Lock()  # a cold batch's record threads ask at once: one limiter per key and container


def limiter_for(key: str, limit: int, seconds: float, *, headroom: float | None = None) -> DynamoRateLimiter | None:
    """The shared limiter for a destination key, or None where no THROTTLE_TABLE is configured."""
    table = os.environ.get("THROTTLE_TABLE")
    if not table:
        return None
    try:
        circuit = CircuitConfig.from_env()
    except ValueError as exc:
        raise ConfigurationError(f"the circuit's settings: {exc}") from None
    cache_key = (key, limit, seconds, headroom, circuit)
    with _limiters_lock:
        if cache_key not in _limiters:
            _limiters[cache_key] = DynamoRateLimiter(
                table, key, limit, seconds, on_wait=_wait_metric, headroom=headroom, circuit=circuit, on_open=_opened_metric
            )
        return _limiters[cache_key]


def _wait_metric(seconds: float) -> None:
    from ..core.observability import MetricUnit, metrics

    metrics.add_metric(name="RateLimitWaitSeconds", unit=MetricUnit.Seconds, value=round(seconds, 3))


def _opened_metric(key: str) -> None:
    from ..core.observability import MetricUnit, logger, metrics

    logger.warning(f"the circuit of {key} opened: its records wait without calling it, one probe at a time")
    metrics.add_metric(name="CircuitOpened", unit=MetricUnit.Count, value=1)


__all__ = ["MAX_WAIT", "Admission", "Ask", "DynamoRateLimiter", "limiter_for", "mark_written", "record_scope"]
