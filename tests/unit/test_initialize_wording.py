"""What `ipaas-sync initialize` says while it runs: the progress line of a dry run, and an ETA that counts the
time the destination's limit needs to drain what does not fit in the queue (the run waits for it)."""

from __future__ import annotations

import io
from types import SimpleNamespace

from ipaas_sync.tools.initialize.checkpoint import RunState
from ipaas_sync.tools.initialize.cli import ProgressBar
from ipaas_sync.tools.initialize.sources import QueuePace


def _line(bar: ProgressBar, enqueued: int, elapsed: float) -> str:
    bar(RunState("customer", "1001", "run", "me", enqueued=enqueued, pages=1), elapsed)
    return bar.out.getvalue().rsplit("\r", 1)[-1]


def _pace(limit: int, seconds: int, ahead: float) -> QueuePace:
    sub = SimpleNamespace(api_throttle_limit=limit, api_throttle_seconds=seconds)
    return QueuePace(target=SimpleNamespace(subscription=sub), ahead=ahead, page_size=10)  # type: ignore[arg-type]


def test_the_eta_counts_the_drain_the_run_waits_for():
    bar = ProgressBar(1000, out=io.StringIO())
    assert "ETA 0s" in _line(bar, 990, 1.0)  # read at 990/s, no pacing: 10 left take no time
    bar = ProgressBar(10_000, out=io.StringIO())
    bar.pace = _pace(150, 60, 600)  # 99minds: 150 per 60 s; the queue holds what drains in 600 s: 1,500
    # 1,000 read in 1 s, 9,000 left: 7,500 of them wait for the drain at 2.5/s = 3,000 s
    assert "ETA 50m00s" in _line(bar, 1000, 1.0)


def test_a_dry_runs_progress_does_not_say_enqueued():
    bar = ProgressBar(100, out=io.StringIO())
    bar.verb = "to enqueue"
    line = _line(bar, 40, 1.0)
    assert "40 to enqueue" in line and "enqueued" not in line
