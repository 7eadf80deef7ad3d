"""`ipaas-sync circuit status | close` and `ipaas-sync retry-now`: the per-destination circuits (platform/circuit.py)
as an operator sees them, and the hand that closes one.

A destination is named as its circuit is kept: by its platform ("99minds", "stamped", "makini"), every host of that
platform, or by its full key ("99minds:api.99minds.io", as `circuit status` prints it). The table is the stack's
ThrottleTable (THROTTLE_TABLE, or --table).
"""

from __future__ import annotations

import argparse
import os
import time

from ..platform.circuit import CircuitTable, describe, platform_of


def _table(args: argparse.Namespace) -> CircuitTable:
    name = args.table or os.environ.get("THROTTLE_TABLE")
    if not name:
        raise ValueError("name the stack's ThrottleTable: --table, or THROTTLE_TABLE (the stack output ThrottleTable)")
    return CircuitTable(name)


def _keys(table: CircuitTable, destination: str) -> list[str]:
    keys = sorted(k for k in table.all() if k == destination or platform_of(k) == destination)
    if not keys:
        raise LookupError(
            f"no circuit for {destination!r}: nothing was rate-limited for it yet (see `ipaas-sync circuit status`)"
        )
    return keys


def status_lines(table: CircuitTable, now: float) -> list[str]:
    circuits = table.all()
    if not circuits:
        return ["no destination has been called yet: no circuit"]
    return [describe(key, view, now) for key, view in sorted(circuits.items())]


def _status(args: argparse.Namespace) -> int:
    for line in status_lines(_table(args), time.time()):
        print(line)
    return 0


def _close(args: argparse.Namespace) -> int:
    table = _table(args)
    now = time.time()
    for key in _keys(table, args.destination):
        before = table.view(key)
        after = table.close(key, now=now)
        if after is None:  # the item went away between the listing and the write (its TTL)
            print(f"{key}: no circuit any more (nothing to close)")
            continue
        verb = "closed" if before.state(now) != "closed" else "was closed"
        print(f"{key}: {verb}; records waiting for {platform_of(key)} run at their next hop (within 15 minutes)")
    return 0


def register_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    circuit = subparsers.add_parser(
        "circuit",
        help="the per-destination circuits: status, or close one by hand",
        description=(
            "Each destination's circuit opens after a run of transient failures (CircuitFailureThreshold) and holds "
            "its records back without calling it, one probe per CircuitProbeSeconds; the first success closes it. "
            "docs/reliability.md"
        ),
    )
    actions = circuit.add_subparsers(dest="action", required=True, metavar="ACTION")
    status = actions.add_parser("status", help="every destination's circuit: closed, or open since when, next probe")
    status.set_defaults(run=_status)
    close = actions.add_parser(
        "close", help="close a destination's circuit by hand: the records waiting for it run at their next hop"
    )
    close.add_argument("destination", help="the platform (99minds, stamped, makini) or a key as `circuit status` prints it")
    close.set_defaults(run=_close)
    retry_now = subparsers.add_parser(
        "retry-now",
        help="every record retrying for a destination runs at its next hop, not at its due time (closes its circuit)",
        description=(
            "After the destination was fixed: every record waiting on the retry schedule for it (its own failures, or "
            "held back by the open circuit) runs at its next hop (within 15 minutes), in the rate limit's order."
        ),
    )
    retry_now.add_argument("destination", help="the platform (99minds, stamped, makini) or a key as `circuit status` prints it")
    retry_now.set_defaults(run=_close)
    for p in (status, close, retry_now):
        p.add_argument("--table", help="the stack's ThrottleTable (default: THROTTLE_TABLE)")


__all__ = ["register_cli", "status_lines"]
