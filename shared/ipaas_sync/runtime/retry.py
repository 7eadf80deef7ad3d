"""The retry schedule for transient failures: pure functions, no I/O (processing sends the record back; docs/reliability.md).

A transient failure (timeout, connection error, 5xx after the in-call retries of http.py) does not wait for SQS's
visibility timeout and its fifth receive any more: the record goes back to its own queue with its history in the body
(`retry`), due again after a growing delay, and reaches the DLQ only when its retry window is spent (or the failure is
permanent / a configuration error: those still park at once, processing.py).

The delay after the n-th failure is iPaaS.com's own retry schedule, 10 x n x (n + 1) minutes (20 min, 1 h, 2 h,
3 h 20, 5 h, 7 h ...) with its step as a parameter, capped per wait (`max_delay`), and never past the window's end:
the last try is made at the end of the window, not before it. SQS delays a message at most 15 minutes, so a longer
wait is a chain of hops of at most `max_hop` seconds to the due time (each hop back is sent on again without any call;
the deferral path of throttle.py / processing.py). Every parameter can be scaled down (tests, the outage benchmark):
the same code runs.

A record that waits because its destination's circuit is open (circuit.py) was not tried: it counts a `wait`, not an
attempt, and is due again within one probe interval (admission.py spreads the waiting records over it; never on the
schedule): so when the destination recovers, the backlog is back in its queue within a probe interval and the rate
limiter drains it at the full rate. A record on the schedule (its own try failed) is released by the circuit's closing
at its next hop. The schedule counts failed tries only (a long outage's waits do not push a record's next try hours
out); the window counts from its first failure or wait.

No library schedules retries across SQS messages (urllib3's Retry and tenacity retry within one call); this is the
small piece written by hand.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from ..core.models.retry import RetryHistory

MAX_HOP_SECONDS = 900  # SQS DelaySeconds maximum: one hop of a longer wait
MIN_WAIT_SECONDS = 1.0  # a wait for an open circuit lasts at least one whole SQS delay second
# A record whose transfer is in progress in another invocation (Powertools' IdempotencyAlreadyInProgressError: a
# duplicate delivery, or an invocation that timed out holding the lock) is looked at again after this long. Not a
# failure: the lock ends with the invocation that holds it (its deadline is registered, idempotency.py), at most the
# function's timeout away, so it is neither counted as a try nor bounded by the retry window (before, a duplicate that
# met the lock after the window's end was parked although the other delivery transferred the record).
IN_PROGRESS_RECHECK_SECONDS = 5.0
DUE_TOLERANCE = 0.01  # seconds: a deferred_until equal to a retry's due within this is a hop toward it
MAX_REASON = 500  # each reason kept in the history (the DLQ's last reason is the full one, MAX_REASON there)
MAX_ERROR_CLASSES = 8  # error classes counted by name; any further ones are counted as "other"
OTHER = "other"


@dataclass(frozen=True)
class RetryPolicy:
    """The schedule's parameters (stack parameters RetryStepSeconds, RetryMaxDelaySeconds, RetryWindowSeconds)."""

    step: float = 600.0  # iPaaS.com's 10 minutes: the delay after the n-th failure is step x n x (n + 1)
    max_delay: float = 21600.0  # no single wait longer than 6 h (Zapier's longest autoreplay step)
    window: float = 86400.0  # retried for 24 h from the first failure, then parked in the DLQ
    max_hop: float = MAX_HOP_SECONDS  # SQS's 15 minutes; smaller only to compress time (benchmark, tests)

    def __post_init__(self) -> None:
        for name in ("step", "max_delay", "window", "max_hop"):
            if not getattr(self, name) > 0:
                raise ValueError(f"retry policy: {name} must be positive, got {getattr(self, name)!r}")
        if self.max_hop > MAX_HOP_SECONDS:
            raise ValueError(f"retry policy: max_hop is at most SQS's {MAX_HOP_SECONDS} s, got {self.max_hop!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RetryPolicy:
        """From RETRY_STEP_SECONDS, RETRY_MAX_DELAY_SECONDS, RETRY_WINDOW_SECONDS, RETRY_MAX_HOP_SECONDS (each
        optional). A value that is not a positive number raises ValueError naming the variable."""
        env = os.environ if environ is None else environ
        values: dict[str, float] = {}
        for field, var in (
            ("step", "RETRY_STEP_SECONDS"),
            ("max_delay", "RETRY_MAX_DELAY_SECONDS"),
            ("window", "RETRY_WINDOW_SECONDS"),
            ("max_hop", "RETRY_MAX_HOP_SECONDS"),
        ):
            text = (env.get(var) or "").strip()
            if not text:
                continue
            try:
                value = float(text)
            except ValueError:
                raise ValueError(f"{var} must be a number of seconds, got {text[:40]!r}") from None
            if not value > 0 or (field == "max_hop" and value > MAX_HOP_SECONDS):
                raise ValueError(f"{var} must be positive{' and at most 900' if field == 'max_hop' else ''}, got {text[:40]!r}")
            values[field] = value
        return cls(**values)

    def delay(self, n: int) -> float:
        """The wait after the n-th failure (or wait), n >= 1: step x n x (n + 1), at most max_delay."""
        if n < 1:
            raise ValueError(f"the delay is defined from the first failure on, got n={n}")
        return min(self.max_delay, self.step * n * (n + 1))

    @property
    def in_progress_recheck(self) -> float:
        """How long a record waits for another invocation that holds its transfer's lock (compressed with the hops)."""
        return min(self.max_hop, IN_PROGRESS_RECHECK_SECONDS)

    def hop(self, due: float, now: float) -> int:
        """DelaySeconds of the next hop toward `due`: whole seconds (the nearest), at most max_hop."""
        return int(max(0, min(self.max_hop, round(due - now))))


def _bounded(text: str) -> str:
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


def _count(errors: dict[str, int], error_class: str) -> dict[str, int]:
    out = dict(errors)
    name = error_class if error_class in out or len(out) < MAX_ERROR_CLASSES else OTHER
    out[name] = out.get(name, 0) + 1
    return out


def _next(
    history: RetryHistory | None,
    *,
    now: float,
    reason: str,
    policy: RetryPolicy,
    error_class: str | None,
    retry_after: float | None = None,
    not_before: float = 0.0,
) -> tuple[RetryHistory, bool]:
    """One more failure (`error_class` given) or wait (None) at `now`: the new history and whether it is retried."""
    failed = error_class is not None
    new = RetryHistory(
        attempts=(history.attempts if history else 0) + (1 if failed else 0),
        waits=(history.waits if history else 0) + (0 if failed else 1),
        first_at=history.first_at if history else now,
        last_at=now,
        due=now,
        first_reason=history.first_reason if history and history.first_reason else _bounded(reason),
        last_reason=_bounded(reason) if failed or not (history and history.last_reason) else history.last_reason,
        errors=_count(history.errors if history else {}, error_class) if error_class else dict(history.errors if history else {}),
    )
    deadline = new.first_at + policy.window
    if now >= deadline:
        return new, False
    if failed:  # the schedule, by failed tries; a Retry-After the destination gave is a floor
        due = now + max(policy.delay(new.attempts), retry_after or 0.0)
    else:  # when admission said (within a probe interval); SQS delays are whole seconds: at least one, never a loop
        due = max(not_before, now + MIN_WAIT_SECONDS)
    return new.model_copy(update={"due": min(deadline, due)}), True


def after_failure(
    history: RetryHistory | None,
    *,
    now: float,
    reason: str,
    error_class: str,
    policy: RetryPolicy,
    retry_after: float | None = None,
) -> tuple[RetryHistory, bool]:
    """The history after a transient failure at `now`, and whether the record is retried (True: at history.due) or
    its window is spent (False: park it in the DLQ with this history). A Retry-After the destination gave is a floor
    for the delay."""
    return _next(history, now=now, reason=reason, policy=policy, error_class=error_class, retry_after=retry_after)


def after_wait(
    history: RetryHistory | None, *, now: float, reason: str, policy: RetryPolicy, not_before: float = 0.0
) -> tuple[RetryHistory, bool]:
    """The history after the record was held back by an open circuit at `now` (no call made), and whether it waits
    (True: until history.due = `not_before`, within the circuit's probe interval, at least MIN_WAIT_SECONDS away) or
    its window is spent (False)."""
    return _next(history, now=now, reason=reason, policy=policy, error_class=None, not_before=not_before)


def toward_due(history: RetryHistory | None, until: float | None) -> bool:
    """Whether a record sent back until `until` is on its way to its retry's own due time (a retry's send-back or a hop
    of it), not to a slot of the rate limit or the gift card apply window: a body's deferred_until is rounded to the
    millisecond (platform/queues.py), so equal within DUE_TOLERANCE."""
    return history is not None and until is not None and abs(until - history.due) < DUE_TOLERANCE


def released(history: RetryHistory, released_at: float | None) -> bool:
    """Whether a waiting record may run before its due time: its destination recovered (the circuit closed) or an
    operator said `retry-now` after its latest failure or wait."""
    return released_at is not None and released_at > history.last_at


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def _span(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


def summary(history: RetryHistory, policy: RetryPolicy) -> str:
    """One bounded sentence for the DLQ reason and the ledger: tries, waits, span, the errors by class."""
    errors = ", ".join(f"{n} x {name}" for name, n in sorted(history.errors.items(), key=lambda kv: (-kv[1], kv[0])))
    tries = f"{history.attempts} failed tr{'y' if history.attempts == 1 else 'ies'}"
    waits = f", {history.waits} wait(s) for an open circuit" if history.waits else ""
    return (
        f"{tries}{waits} from {_when(history.first_at)} to {_when(history.last_at)} "
        f"(retry window {_span(policy.window)}){': ' + errors if errors else ''}"
    )


def dlq_previous(history: RetryHistory, previous: Mapping[str, str]) -> dict[str, str]:
    """The `previous` history clients.queues.failure_attributes adds to (ipaas.attempts, ipaas.first_reason,
    ipaas.first_failed_at): the attributes a replayed message brought, plus this record's retries. The last try's
    receives are added by failure_attributes itself (receive_count), so the earlier tries are counted here."""
    prefix = "ipaas."
    try:
        before = int(previous.get(f"{prefix}attempts") or 0)
    except ValueError:
        before = 0
    out = dict(previous)
    out[f"{prefix}attempts"] = str(before + max(0, history.attempts - 1))
    if not previous.get(f"{prefix}first_reason") and history.first_reason:
        out[f"{prefix}first_reason"] = history.first_reason
    if not previous.get(f"{prefix}first_failed_at"):
        out[f"{prefix}first_failed_at"] = _when(history.first_at)
    return out


def next_try_text(history: RetryHistory) -> str:
    """The next try's time as operators read it (UTC, ISO 8601)."""
    return _when(history.due)


__all__ = [
    "MAX_HOP_SECONDS",
    "RetryHistory",
    "RetryPolicy",
    "after_failure",
    "after_wait",
    "dlq_previous",
    "next_try_text",
    "released",
    "summary",
    "toward_due",
]
