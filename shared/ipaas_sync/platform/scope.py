"""One record's scope in the shared rate limiter (throttle.py): what the limiter knows about the record it is
making calls for, and admit()'s verdicts that open it.

processing.handle_record opens a scope around each record's transfer (record_scope); the limiter reads it (current())
to decide whether a call may still be deferred (only a record's first call, before any write: mark_written) and which
slots admit() booked for it. Kept apart from the limiter's reservations (throttle.py), which it does not depend on:
a scope only hands slots back to the limiters it used (observe, give_back).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core.errors import Deferred

if TYPE_CHECKING:  # the limiter is only named in types here (it imports this module)
    from .throttle import DynamoRateLimiter

MAX_WAIT = 1.0  # seconds a record may sleep for its first slot; beyond that it is deferred
RETURNING_SLACK = 0.25  # a returning record may wait MAX_WAIT + this share of its own slots' span


@dataclass
class Scope:
    """One record's rate-limited calls (processing.handle_record opens it around the record's transfer)."""

    kind: str = ""  # what the record is (its entity): records of one kind make alike calls
    returning: bool = False  # deferred before and due now: goes ahead of records not deferred yet
    until: float = 0.0  # the slot it was deferred to (its message may come back up to a second early)
    wrote: bool = False  # a write of this record's transfer has started: no deferral any more
    calls: dict[DynamoRateLimiter, int] = field(default_factory=dict)  # limiter -> requests made for this record
    slots: dict[DynamoRateLimiter, list[float]] = field(default_factory=dict)  # booked by admit() for this record
    earliest: dict[DynamoRateLimiter, float] = field(default_factory=dict)  # its first slot is usable from (idle lane)
    admitted_at: float = 0.0  # when admit() booked them (its lead time to the first call is learned)


@dataclass(frozen=True)
class Ask:
    """One record of a batch asking admit() for its slots."""

    kind: str  # its entity: records of one kind make alike calls
    until: float | None = None  # the slot it was deferred to, for a record coming back from a deferral


@dataclass
class Admission:
    """admit()'s verdict for one record: slots booked for it now, or the time it should come back."""

    slots: list[float] = field(default_factory=list)
    until: float | None = None  # deferred: back to its queue, visible again by then
    reason: str = ""
    delay: int = 0  # deferred: the DelaySeconds it was sent back with
    limiter: DynamoRateLimiter | None = None  # admitted: the limiter the slots are on
    # admitted on an idle lane: the first slot was booked for when the record is expected to call (its learned lead
    # time), and nothing is booked before it back to this time, so a record that calls sooner need not sleep for it
    earliest: float | None = None
    # processing's notes on this verdict (held back by an open circuit, the probe): what its outcome says
    details: dict[str, Any] = field(default_factory=dict)


_scope: ContextVar[Scope | None] = ContextVar("ipaas_sync_throttle_scope", default=None)


@contextmanager
def record_scope(
    kind: str = "",
    *,
    deferred_until: float | None = None,
    admission: Admission | None = None,
    clock: Callable[[], float] = time.time,
) -> Iterator[Scope]:
    """The scope of one record's transfer. `admission`: what admit() booked for it (its first requests use those
    slots). A record deferred until a time more than MAX_WAIT away (its delay was capped at SQS's 15 minutes) is
    deferred again at once, without asking DynamoDB."""
    now = clock()
    booked_on = admission.limiter if admission is not None and admission.slots else None
    if deferred_until is not None and deferred_until - now > MAX_WAIT and booked_on is None:
        raise Deferred(
            f"deferred by the shared rate limit until {deferred_until:.0f} (in {deferred_until - now:.0f} s)",
            until=deferred_until,
        )
    scope = Scope(
        kind=kind,
        returning=deferred_until is not None,
        until=deferred_until or 0.0,
        admitted_at=now,
    )
    if admission is not None and booked_on is not None:
        scope.slots[booked_on] = list(admission.slots)
        if admission.earliest is not None:
            scope.earliest[booked_on] = admission.earliest
    token = _scope.set(scope)
    completed = False
    try:
        yield scope
        completed = True
    finally:
        _scope.reset(token)
        # what a transfer costs is learned from transfers that completed: a failing one counts its in-call retries
        # (four requests for each failed call) or stops early, and during an outage only the probes call at all, so
        # its counts would make every record after the recovery book slots it never uses (gaps in the lane)
        for limiter, calls in scope.calls.items() if completed else ():
            limiter.observe(calls, scope.kind)
        for limiter, left in scope.slots.items():
            limiter.give_back(left)  # booked but not needed: the container's next record uses them


def mark_written() -> None:
    """A write of the current record's transfer is about to leave (a partner POST/PUT, a pending marker): from now
    on the record waits for its slots, it is never deferred (a deferral must come before any write)."""
    scope = _scope.get()
    if scope is not None:
        scope.wrote = True


def latest_first_slot(first_call: float, until: float | None, need: int, step: float) -> float:
    """The latest first slot a record may wait for, rather than be deferred: MAX_WAIT from its first call, or from its
    slot for a record back from a deferral (SQS delays are whole seconds: it may be early). A returning record may wait
    a share of its own slots' span longer: deferred again, it would go to the end of the horizon and take its slots'
    worth of buffer with it, and the lane, booked ahead by less than a returning record's lateness, runs dry when the
    next one comes back late (docs/throttling.md, "Measured")."""
    if until is None:
        return first_call + MAX_WAIT
    return max(first_call, until) + MAX_WAIT + RETURNING_SLACK * need * step


def current() -> Scope | None:
    """The scope of the record this thread is transferring (None outside one: a call not made for a record)."""
    return _scope.get()


__all__ = ["MAX_WAIT", "Admission", "Ask", "Scope", "current", "latest_first_slot", "mark_written", "record_scope"]
