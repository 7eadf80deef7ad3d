"""`ipaas-sync dlq list | show | replay` and DlqReplayFunction: the same verbs, filters and results."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any

from .replay import COMMANDS, Filter, QueueNotFound, Replayer, parse_age, text_progress

if TYPE_CHECKING:  # the boto3 service stubs are development packages (types only), never in the layer
    pass


# -- the command line (`ipaas-sync dlq ...`) and DlqReplayFunction: the same verbs, filters and results -----
def filter_from(options: dict[str, Any]) -> Filter:
    return Filter(
        destination=options.get("destination"),
        entity=options.get("entity"),
        reason=options.get("reason"),
        older_than=parse_age(options.get("older_than")),
        newer_than=parse_age(options.get("newer_than")),
    )


def configured_dead_letter_queues() -> list[str]:
    """The stack's DLQs as the template gives them to DlqReplayFunction (DEAD_LETTER_QUEUES, comma-separated)."""
    return [u for u in os.environ.get("DEAD_LETTER_QUEUES", "").split(",") if u]


def resolve_queues(replayer: Replayer, options: dict[str, Any], configured: list[str] | None = None) -> list[str]:
    """The DLQs a command acts on: the one named, else every DLQ of the stack (`stack`: a name prefix; or the
    configured list), else (listing only) every *-dlq the caller can see."""
    if options.get("queue"):
        return [replayer.url(options["queue"])]
    if configured:
        return configured
    stack = options.get("stack")
    if stack is None and options.get("command") == "replay":
        raise ValueError("name the DLQ to replay, or --stack <stack name> for every DLQ of the stack")
    found = replayer.dead_letter_queues(stack or "")
    if not found:
        where = f"whose name starts with '{stack}' " if stack else ""
        raise QueueNotFound(f"no dead-letter queue (*-dlq) {where}in {replayer.sqs.meta.region_name}")
    return found


def run_command(replayer: Replayer, options: dict[str, Any], configured: list[str] | None = None) -> dict[str, Any]:
    """One `list`, `show` or `replay` over the resolved DLQs; raises ValueError / LookupError with one line."""
    command = options.get("command")
    if command not in COMMANDS:
        raise ValueError(f"unknown command '{command}' (one of: {', '.join(COMMANDS)})")
    flt = filter_from(options)  # validates the ages before anything is read
    queues = resolve_queues(replayer, options, configured)
    if command == "list":
        return {"queues": [replayer.summary(q, messages=bool(options.get("messages"))) for q in queues]}
    if command == "show":
        wanted = str(options.get("id") or "").strip()
        if not wanted:
            raise ValueError("name the message: its DLQ message id, original message id, record id or tracking guid")
        found = replayer.show(queues, wanted)
        if not found:
            names = ", ".join(q.rstrip("/").rsplit("/", 1)[-1] for q in queues)
            raise LookupError(f"no message with id '{wanted}' in {names}")
        return {"messages": found}
    reports = [
        replayer.replay(q, flt, dry_run=bool(options.get("dry_run")), prefer_native=not options.get("no_native")) for q in queues
    ]
    return {"reports": [r.as_dict() for r in reports]}


def register_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dlq = subparsers.add_parser(
        "dlq",
        help="inspect and replay the dead-letter queues",
        description="Inspect and replay the dead-letter queues (DLQs) of a stack.",
    )
    sub = dlq.add_subparsers(dest="command", required=True)
    where = "DLQ name, URL or ARN"
    ls = sub.add_parser("list", help="messages per DLQ, counted by error and reason (ids taken out)")
    ls.add_argument("queue", nargs="?", help=f"{where} (default: every *-dlq of --stack)")
    ls.add_argument("--stack", help="the stack name (DLQ names start with it); default: every *-dlq you can see")
    ls.add_argument("--messages", action="store_true", help="one line per message: ids, age, reason")
    show = sub.add_parser("show", help="one message: body, reason and history, found by any of its ids")
    show.add_argument(
        "ids",
        nargs="+",
        metavar="[QUEUE] ID",
        help="DLQ message id, original message id, record id or tracking guid; the DLQ is optional",
    )
    show.add_argument("--stack", help="search every DLQ of this stack (when no DLQ is named)")
    rp = sub.add_parser("replay", help="move messages back to their source queue")
    rp.add_argument("queue", nargs="?", help=f"{where} (default: every DLQ of --stack)")
    rp.add_argument("--stack", help="replay every DLQ of this stack")
    rp.add_argument("--destination", help="only this iPaaS System Id")
    rp.add_argument("--entity", help="only this entity: customer, transaction, giftcard")
    rp.add_argument("--reason", help="only reasons containing this text (case-insensitive)")
    rp.add_argument("--older-than", help="only messages dead-lettered longer ago than this, e.g. 30m, 2h, 1d")
    rp.add_argument("--newer-than", help="only messages dead-lettered more recently than this, e.g. 30m, 2h, 1d")
    rp.add_argument("--dry-run", action="store_true", help="report what would move and how, move nothing")
    rp.add_argument("--no-native", action="store_true", help="never use SQS StartMessageMoveTask")
    rp.add_argument("--json", action="store_true", help="print the reports as JSON (for scripts)")
    dlq.set_defaults(run=run_cli)


def _age(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def run_cli(args: argparse.Namespace) -> int:
    options = vars(args).copy()
    if args.command == "show":
        if len(args.ids) > 2:
            raise ValueError("show takes an id, or a DLQ and an id")
        options["queue"], options["id"] = args.ids if len(args.ids) == 2 else (None, args.ids[0])
    replayer = Replayer(progress=text_progress if sys.stderr.isatty() else None)
    result = run_command(replayer, options)
    if args.command == "list":
        for s in result["queues"]:
            print(f"{s['dlq']}: {s['count']} message(s)")
            for reason, n in s["by_reason"].items():
                print(f"  {n:>5}  {reason}")
            if args.messages and s["messages"]:
                print(
                    f"  {'DLQ message id':<36}  {'original message id':<36}  {'record':<12}  "
                    f"{'tracking guid':<36}  {'age':>5}  reason"
                )
                for m in s["messages"]:
                    print(
                        f"  {m['message_id']:<36}  {m['original_message_id'] or '-':<36}  {m['record_id'] or '-':<12}  "
                        f"{m['tracking_guid'] or '-':<36}  {_age(m['age_seconds']):>5}  {m['reason'][:100]}"
                    )
        return 0
    if args.command == "show":
        found = result["messages"]
        print(json.dumps(found[0] if len(found) == 1 else found, indent=2))
        return 0
    reports = result["reports"]
    if args.json:
        print(json.dumps(reports[0] if len(reports) == 1 else reports, indent=2))
    else:
        for line in replay_lines(reports):
            print(line)
    return 1 if any(r["errors"] for r in reports) else 0


def replay_lines(reports: list[dict[str, Any]]) -> list[str]:
    """`dlq replay` as text, in the style of `dlq list`: per DLQ what moved (or would), to which queue, and why
    it was parked."""
    lines = []
    for r in reports:
        if r["task_handle"]:
            lines.append(
                f"{r['dlq']}: {r['moved']} message(s) moving back to their source queues (SQS StartMessageMoveTask, "
                f"task {r['task_handle']})"
            )
            continue
        verb = "would move" if r["dry_run"] else "moved"
        count = r["matched"] if r["dry_run"] else r["moved"]
        how = "SQS StartMessageMoveTask" if r["method"] == "StartMessageMoveTask" else "receive, send, delete"
        lines.append(
            f"{r['dlq']}: {count} of {r['examined']} message(s) {verb} ({how})"
            + (" (dry run: nothing moved)" if r["dry_run"] else "")
        )
        lines += [f"  {n:>5}  -> {target}" for target, n in sorted(r["by_target"].items())]
        if r["by_reason"]:
            lines.append("  parked because:")
            lines += [f"  {n:>5}  {reason}" for reason, n in sorted(r["by_reason"].items(), key=lambda kv: -kv[1])]
        lines += [f"  not moved: {error}" for error in r["errors"]]
    if any(r["matched"] or r["moved"] for r in reports):
        lines.append(f"note: {reports[0]['note']}")
    return lines
