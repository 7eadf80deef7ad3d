"""Manual sync: named records onto a destination's queue, as iPaaS.com's Manual Sync page sends them.

    ipaas-sync sync --entity customer|transaction|giftcard --destination <iPaaS System Id>
        --id 158056 [--id ...] [--ids-file F] [--stack NAME]

Up to MAX_IDS (3,000, as the Manual Sync page allows) ids at once, repeated ids once. Each becomes the
notification a hook would send (scope `<entity>/updated`) on the queue the hooks use; the handler reads the
record from iPaaS.com. A transaction is named by its iPaaS.com transaction id, not its number (as iPaaS.com's
manual sync does). An ids file holds ids separated by new lines, commas or spaces; `#` starts a comment.

    ipaas-sync sync --source 99minds --id customer_35b4d7776af9ac875a [--id ...] [--ids-file F]
        [--destination <the 99minds subscription's iPaaS System Id>] [--entity customer|transaction]

The other direction (99minds records into iPaaS.com): by 99minds id, the kind from the id's prefix (tools/sync_99minds.py).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from ..core.models.notification import ENTITIES
from .enqueue import Target, notification, resolve_target

MAX_IDS = 3000
_SEPARATORS = re.compile(r"[\s,;]+")


def read_ids(ids: list[str] | None, ids_file: str | None) -> list[str]:
    """The ids, in order, each once; ValueError names a bad file or too many ids."""
    raw = list(ids or [])
    if ids_file:
        try:
            text = Path(ids_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"cannot read the ids file {ids_file}: {exc.strerror or type(exc).__name__}") from None
        for line in text.splitlines():
            raw += _SEPARATORS.split(line.split("#", 1)[0])
    out = list(dict.fromkeys(i.strip() for i in raw if i and i.strip()))
    if not out:
        raise ValueError("name at least one record with --id or --ids-file")
    if len(out) > MAX_IDS:
        raise ValueError(f"{len(out)} ids: at most {MAX_IDS} at once (as iPaaS.com's Manual Sync page allows)")
    return out


def sync(target: Target, ids: list[str]) -> int:
    return target.send([notification(target.entity, "updated", i, target.destination) for i in ids])


def run_cli(args: argparse.Namespace) -> int:
    ids = read_ids(args.id, args.ids_file)
    if args.source == "99minds":
        from .sync_99minds import run_sync

        return run_sync(args, ids)
    if args.queue_url:
        raise ValueError("--queue-url names the 99minds -> iPaaS.com queue: use it with --source 99minds")
    if not args.entity or not args.destination:
        raise ValueError("name the records' --entity and the --destination (its iPaaS System Id)")
    not_ids = [i for i in ids if not i.isdigit()]
    if not_ids:  # said now, not as a 404 in a DLQ later
        shown = ", ".join(f"'{i[:40]}'" for i in not_ids[:5]) + (f" and {len(not_ids) - 5} more" if len(not_ids) > 5 else "")
        number = " (a transaction is named by its id, not its transaction number)" if args.entity == "transaction" else ""
        raise ValueError(
            f"{shown}: not an iPaaS.com {args.entity} id; --id takes the record's iPaaS.com id, a number such as "
            f"159865{number}; nothing was enqueued"
        )
    target = resolve_target(args.entity, args.destination, stack=args.stack)
    sent = sync(target, ids)
    shown = ", ".join(ids[:20]) + (f", ... ({len(ids) - 20} more)" if len(ids) > 20 else "")
    print(
        f"enqueued {sent} {args.entity}/updated notification(s) for destination {target.destination} "
        f"('{target.subscription.name}') onto {target.queue}: {shown}"
    )
    return 0


def register_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("sync", help=f"manual sync: enqueue named records for a destination (up to {MAX_IDS:,} ids)")
    p.add_argument(
        "--source",
        choices=("ipaas", "99minds"),
        default="ipaas",
        help="ipaas (default): iPaaS.com records to the destination; 99minds: 99minds records (by 99minds id) into iPaaS.com",
    )
    p.add_argument(
        "--entity",
        choices=ENTITIES,
        help="required for --source ipaas; with --source 99minds it "
        "overrides the id's prefix (customer, transaction = a loyalty card transaction)",
    )
    p.add_argument(
        "--destination",
        metavar="SYSTEM_ID",
        help="the subscription's iPaaS System Id (required for "
        "--source ipaas; with --source 99minds the default is the only 99minds subscription)",
    )
    p.add_argument(
        "--id",
        action="append",
        help="an iPaaS.com record id (a transaction's id, not its number), or "
        "with --source 99minds a 99minds id (customer_..., transaction_...); repeatable",
    )
    p.add_argument("--ids-file", help="a file of ids (one per line, or separated by commas or spaces)")
    p.add_argument("--stack", help="the deployed stack's name (queue names; default STACK_NAME)")
    p.add_argument("--queue-url", help="--source 99minds: the FromNinetyNineMindsQueueUrl output (instead of --stack)")
    p.set_defaults(run=run_cli)
