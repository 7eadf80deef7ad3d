"""The transfer ledger's reports: `ipaas-sync status` (what happened to record X) and `report`."""

from __future__ import annotations

import argparse
import os
import shlex
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..runtime.ledger import Ledger
from .failure_groups import failure_group

if TYPE_CHECKING:  # the boto3 service stubs are development packages (types only), never in the layer
    pass


# -- the commands ------------------------------------------------------------------------------------------
def _ledger_from(args: argparse.Namespace) -> Ledger:
    table = getattr(args, "table", None) or os.environ.get("LEDGER_TABLE")
    if not table:
        raise ValueError("name the ledger table with --table or LEDGER_TABLE (the stack output LedgerTableName)")
    import boto3

    return Ledger(table, boto3.client("dynamodb"))  # an operator's reads: the default timeouts and retries


def _dlq_name(url: str | None) -> str | None:
    return url.rstrip("/").rsplit("/", 1)[-1] if url else None


def entity_label(item: dict[str, Any]) -> str:
    """What an item is about: the entity of an iPaaS.com record sent to a destination, or, for the 99minds ->
    iPaaS.com direction, the kind of 99minds record (from its id's prefix, as `sync --source 99minds` tells it)."""
    from ..core.models.inbound import ENTITY as FROM_99MINDS
    from .sync_99minds import PREFIXES

    entity = str(item.get("entity"))
    if entity != FROM_99MINDS:
        return entity
    record_id = str(item.get("record_id") or "")
    kind = next((k for prefix, k in PREFIXES.items() if record_id.startswith(prefix)), "record")
    return f"99minds {kind.replace('_', ' ')}"


def status_lines(items: list[dict[str, Any]], entity: str, record_id: str) -> list[str]:
    if not items:
        return [f"no ledger entry for {entity} {record_id} (never transferred, or older than its TTL)"]
    lines = []
    for item in sorted(items, key=lambda i: i.get("at", ""), reverse=True):
        if item.get("ipaas_ref"):  # the 99minds -> iPaaS.com direction: the iPaaS.com record it wrote
            ext = f", into iPaaS.com {str(item['ipaas_ref']).replace('#', ' ', 1)}"
        elif item.get("external_id") and item.get("platform"):
            ext = f", {item['platform']} id {item['external_id']}"
        else:
            ext = f", external id {item['external_id']}" if item.get("external_id") else ""
        lines.append(
            f"{entity_label(item)} {item.get('record_id', record_id)} -> destination {item['destination']}: "
            f"{item['status']} at {item['at']}{ext} ({item.get('outcomes', 0)} outcome(s) recorded)"
        )
        for entry in reversed(item.get("history", [])):
            parts = [f"  {entry['t']}  {entry['s']:<14}"]
            if entry.get("a"):
                parts.append(f"attempt {entry['a']}")
            if entry.get("x"):
                parts.append(f"-> {entry['x']}")
            if entry.get("k") or entry.get("e"):
                parts.append(f"[{entry.get('k', '?')}:{entry.get('e', '?')}]")
            if entry.get("r"):
                parts.append(entry["r"])
            if entry.get("g"):
                parts.append(f"(tracking {entry['g']})")
            lines.append(" ".join(parts))
        if item.get("status") == "dead-lettered" and item.get("dlq_message_id"):
            dlq = _dlq_name(item.get("dlq")) or "<its DLQ>"
            lines.append(f"  parked in {dlq} as message {item['dlq_message_id']}")
            lines.append(f"    inspect: ipaas-sync dlq show {dlq} {item['dlq_message_id']}")
            reason = shlex.quote((item.get("reason") or f"{entity} {record_id}")[:60])
            lines.append(
                f"    replay:  ipaas-sync dlq replay {dlq} --entity {item.get('entity', entity)} --destination "
                f"{item['destination']} --reason {reason} --dry-run   (then without --dry-run)"
            )
    return lines


def reason_group(item: dict[str, Any]) -> str:
    """`[kind:Class] reason` with the ids taken out (failure_groups: the same lines as `ipaas-sync dlq list`)."""
    return failure_group(
        item.get("failure_kind"), item.get("error"), item.get("reason"), (item.get("record_id"), item.get("tracking_guid"))
    )


def report(items: Iterable[dict[str, Any]], top: int = 10) -> dict[str, Any]:
    counts: Counter[tuple[Any, ...]] = Counter()  # (destination, entity, status) as stored
    reasons: Counter[str] = Counter()
    for item in items:
        counts[(item.get("destination"), entity_label(item), item.get("status"))] += 1
        if item.get("status") in ("failed", "dead-lettered", "mismatch"):
            reasons[reason_group(item)] += 1
    return {"counts": counts, "top_reasons": reasons.most_common(top)}


def report_lines(result: dict[str, Any], window: str) -> list[str]:
    """`window`: "last 24h" or "since 2025-01-01"."""
    counts: Counter[tuple[Any, ...]] = result["counts"]
    lines = [f"latest outcome per record, {window}: {sum(counts.values())} record(s)"]
    if counts:
        lines.append(f"  {'destination':<12} {'entity':<27} {'status':<14} {'records':>8}")
        for (dest, entity, status), n in sorted(counts.items(), key=lambda kv: (str(kv[0]), -kv[1])):
            lines.append(f"  {dest!s:<12} {entity!s:<27} {status!s:<14} {n:>8}")
    if result["top_reasons"]:
        lines.append("top failure reasons (ids removed):")
        lines += [f"  {n:>6}  {reason}" for reason, n in result["top_reasons"]]
    return lines


def _status_cli(args: argparse.Namespace) -> int:
    from ..core.models.inbound import ENTITY as FROM_99MINDS

    table = _ledger_from(args)
    if args.source == "99minds":  # by the 99minds id (the kind is in its prefix)
        entity, items = "99minds record", table.items(FROM_99MINDS, args.id, args.destination)
    else:  # by the iPaaS.com id: sent to destinations, and written into it from 99minds
        if not args.entity:
            raise ValueError("name the record's --entity (customer, transaction, giftcard), or --source 99minds for a 99minds id")
        entity = args.entity
        items = table.items(entity, args.id, args.destination)
        if entity in ("customer", "transaction"):
            items += table.items_by_ipaas_record(entity, args.id, args.destination)
    for line in status_lines(items, entity, args.id):
        print(line)
    return 0 if items else 1


def _report_cli(args: argparse.Namespace) -> int:
    from .replay import parse_moment

    since = parse_moment(args.since, "--since")
    if since is None:
        raise ValueError("--since must be an age such as 30m, 24h or 7d, or a date such as 2025-01-01")
    since_epoch = int(since.timestamp())
    result = report(_ledger_from(args).scan(since_epoch, args.destination), top=args.top)
    window = f"last {args.since}" if args.since.strip()[-1:] in "smhd" else f"since {args.since}"  # an age, or a date
    for line in report_lines(result, window):
        print(line)
    return 0


def register_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from ..core.models.notification import ENTITIES

    st = subparsers.add_parser("status", help="what happened to one record: its ledger history, newest first")
    st.add_argument(
        "--source",
        choices=("ipaas", "99minds"),
        default="ipaas",
        help="ipaas (default): --id is an iPaaS.com record id (both directions: sent to destinations, and written "
        "into it from 99minds); 99minds: --id is a 99minds id (transaction_..., customer_...)",
    )
    st.add_argument("--entity", choices=ENTITIES, help="the iPaaS.com record's entity (required for --source ipaas)")
    st.add_argument("--id", required=True, help="the iPaaS.com record id, or with --source 99minds the 99minds id")
    st.add_argument("--destination", metavar="SYSTEM_ID", help="only this subscription (iPaaS System Id)")
    st.add_argument("--table", help="ledger table (default: LEDGER_TABLE)")
    st.set_defaults(run=_status_cli)
    rp = subparsers.add_parser("report", help="records by destination x entity x latest status, and the top failure reasons")
    rp.add_argument("--since", default="24h", help="an age (30m, 24h, 7d; default 24h) or a date (YYYY-MM-DD or ISO date-time)")
    rp.add_argument("--destination", metavar="SYSTEM_ID")
    rp.add_argument("--top", type=int, default=10, help="failure reasons shown (default 10)")
    rp.add_argument("--table", help="ledger table (default: LEDGER_TABLE)")
    rp.set_defaults(run=_report_cli)
