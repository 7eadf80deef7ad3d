"""Batch pacing of writes: after every `batch_size` writes, a pause of `delay_seconds` before the next one.

The Makini seed recommends writing large volumes "in smaller batches (typically 50-100 records per batch)
with delays between batches". Records reach us as SQS batches and are written one by one (each record's
failure reported on its own); this pacer groups those writes into batches of the configured size and keeps
the configured gap between the last write of one batch and the first write of the next. A gap that has
already passed (e.g. between two invocations) is not waited again. The state lives with the adapter, so
it spans the invocations of one warm container; the shared rate limiter (platform/throttle.py) still caps the rate
across containers. No wait runs past the invocation's remaining time: the record is reported failed and
redelivered instead. Neither Powertools nor urllib3 paces writes in batches; hence this small class.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ..core.errors import TransientError
from . import deadline


class WritePacer:
    def __init__(
        self,
        batch_size: int,
        delay_seconds: float,
        *,
        label: str = "partner",
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if batch_size < 1 or delay_seconds < 0:
            raise ValueError("batch_size must be >= 1 and delay_seconds >= 0")
        self.batch_size = batch_size
        self.delay_seconds = delay_seconds
        self.label = label
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._writing = 0  # writes under way: the records of an SQS batch run on threads (runtime/processing.py)
        self._in_batch = 0
        self._last_write: float | None = None
        self.batches_started = 0
        self.waited_seconds = 0.0

    def before_write(self, what: str) -> None:
        """Call before each write: takes the write's place in the current batch, first waiting for the gap
        between batches when the batch is full."""
        with self._idle:
            if self._in_batch >= self.batch_size:
                # the full batch's last writes may still be under way on other threads: the gap starts when they end
                if not self._idle.wait_for(lambda: self._writing == 0, timeout=max(0.0, deadline.remaining())):
                    raise TransientError(
                        f"{self.label} batch of {self.batch_size} still being written when the invocation ends: "
                        f"{what} is redelivered later"
                    )
                wait = 0.0
                if self._last_write is not None:
                    wait = max(0.0, self.delay_seconds - (self._clock() - self._last_write))
                if wait > 0 and wait + 0.5 > deadline.remaining():
                    raise TransientError(
                        f"{self.label} batch of {self.batch_size} written; the {self.delay_seconds:g}s pause "
                        f"before the next batch does not fit in this invocation: {what} is redelivered later",
                        retry_after=wait,
                    )
                if wait > 0:
                    self.waited_seconds += wait
                    self._sleep(wait)
                self._in_batch = 0
            if self._in_batch == 0:
                self.batches_started += 1
            self._in_batch += 1
            self._writing += 1

    def after_write(self) -> None:
        """Call after each write attempt (failed ones too: the partner saw them)."""
        with self._idle:
            self._writing = max(0, self._writing - 1)
            self._last_write = self._clock()
            self._idle.notify_all()
