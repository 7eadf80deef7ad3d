"""`ipaas-sync initialize`: the command, its progress bar and prompts."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, TextIO

from ...core.errors import TransferError
from ...core.models.notification import ENTITIES
from .checkpoint import RunState
from .paging import Paging
from .run import build
from .sources import DEFAULT_PACE_AHEAD_SECONDS, NINETYNINE_MINDS_PAGING, SOURCES, QueuePace, _duration, estimate

if TYPE_CHECKING:  # the boto3 service stubs are development packages (types only), never in the layer
    pass


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
