"""The time the current invocation has left, shared by every call it makes.

Set once per invocation from the Lambda context; HTTP timeouts, retries and rate-limit waits all stop
short of it so that a record is reported failed (and redelivered) instead of the invocation timing out.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# Leave this much time for reporting the batch and sending failures to the DLQ.
SAFETY_MARGIN_SECONDS = 3.0

_deadline: ContextVar[float | None] = ContextVar("ipaas_sync_deadline", default=None)


@contextmanager
def invocation(context: object) -> Iterator[None]:
    """The deadline of one invocation, cleared when it ends (a warm container's next work starts clean)."""
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    token = _deadline.set(time.monotonic() + remaining_ms() / 1000.0 if remaining_ms else None)
    try:
        yield
    finally:
        _deadline.reset(token)


def set_seconds(seconds: float | None) -> None:
    _deadline.set(None if seconds is None else time.monotonic() + seconds)


def remaining() -> float:
    """Seconds usable for work before the safety margin; a large number outside an invocation."""
    end = _deadline.get()
    if end is None:
        return 900.0
    return end - time.monotonic() - SAFETY_MARGIN_SECONDS
