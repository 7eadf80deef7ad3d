"""Dead-letter queue operations: summarise, show, and replay failed messages to their source queue.

One interface (Replayer) over two movers:
  * SQS StartMessageMoveTask, where the endpoint supports it and the whole DLQ goes back unfiltered
    (the native redrive: server-side, keeps bodies and attributes);
  * receive-send-delete, for a filtered subset or where the endpoint lacks the API (moto). A message is
    deleted from the DLQ only after it is on its source queue, with its body and every attribute
    (the ipaas.* history: attempts, first failure reason) unchanged.
Replaying a message that had in fact succeeded is harmless: transfers are idempotent on business identity,
so the handler reports it as a duplicate and sends nothing.

Used by the `ipaas-sync dlq ...` command and by the DlqReplayFunction Lambda (same code).
"""
from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from .clients.queues import ATTR

RECEIVE_WAIT = 1
VISIBILITY_WHILE_MOVING = 60


@dataclass
class Filter:
    destination: str | None = None
    entity: str | None = None
    reason: str | None = None        # substring of ipaas.reason / ipaas.error, case-insensitive
    older_than: timedelta | None = None
    newer_than: timedelta | None = None

    @property
    def empty(self) -> bool:
        return not any((self.destination, self.entity, self.reason, self.older_than, self.newer_than))

    def matches(self, msg: DeadLetter, now: datetime) -> bool:
        if self.destination and msg.attributes.get(f"{ATTR}destination") != self.destination:
            return False
        if self.entity and msg.attributes.get(f"{ATTR}entity") != self.entity:
            return False
        if self.reason:
            text = f"{msg.attributes.get(f'{ATTR}error', '')} {msg.reason}".lower()
            if self.reason.lower() not in text:
                return False
        age = now - msg.failed_at
        if self.older_than and age < self.older_than:
            return False
        if self.newer_than and age > self.newer_than:
            return False
        return True


@dataclass
class DeadLetter:
    message_id: str
    receipt_handle: str
    body: str
    attributes: dict[str, str]
    raw_attributes: dict
    sent_at: datetime

    @property
    def reason(self) -> str:
        return self.attributes.get(f"{ATTR}reason", "(no reason: moved by SQS redrive)")

    @property
    def failed_at(self) -> datetime:
        text = self.attributes.get(f"{ATTR}failed_at")
        try:
            return datetime.fromisoformat(text) if text else self.sent_at
        except ValueError:
            return self.sent_at

    def summary(self) -> dict:
        return {"message_id": self.message_id, "error": self.attributes.get(f"{ATTR}error", "redrive"),
                "reason": self.reason, "entity": self.attributes.get(f"{ATTR}entity"),
                "destination": self.attributes.get(f"{ATTR}destination"),
                "tracking_guid": self.attributes.get(f"{ATTR}tracking_guid"),
                "attempts": self.attributes.get(f"{ATTR}attempts"),
                "first_reason": self.attributes.get(f"{ATTR}first_reason"),
                "failed_at": self.failed_at.isoformat(), "body": self.body}


@dataclass
class Report:
    dlq: str
    dry_run: bool
    method: str = "receive-send-delete"
    examined: int = 0
    matched: int = 0
    moved: int = 0
    by_reason: Counter = field(default_factory=Counter)
    by_target: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    task_handle: str | None = None

    def as_dict(self) -> dict:
        return {"dlq": self.dlq, "dry_run": self.dry_run, "method": self.method, "examined": self.examined,
                "matched": self.matched, "moved": self.moved, "by_reason": dict(self.by_reason),
                "by_target": dict(self.by_target), "errors": self.errors, "task_handle": self.task_handle,
                "note": ("replayed transfers are idempotent on business identity: a message that had in fact "
                         "succeeded is reported as a duplicate by its handler and nothing is sent twice")}


def _reason_key(msg: DeadLetter) -> str:
    return f"[{msg.attributes.get(f'{ATTR}error', 'redrive')}] {msg.reason[:120]}"


class Replayer:
    def __init__(self, client=None, *, progress: Callable[[int, int], None] | None = None):
        self.sqs = client or boto3.client("sqs")
        self.progress = progress

    # -- reading -------------------------------------------------------------------------------------------
    def url(self, queue: str) -> str:
        if queue.startswith("http"):
            return queue
        if queue.startswith("arn:"):
            parts = queue.split(":")
            return self.sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
        return self.sqs.get_queue_url(QueueName=queue)["QueueUrl"]

    def arn(self, url: str) -> str:
        return self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    def depth(self, url: str) -> int:
        attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        return int(attrs["Attributes"]["ApproximateNumberOfMessages"])

    def _receive(self, url: str, limit: int, visibility: int) -> Iterable[DeadLetter]:
        """Every message once (each stays invisible for `visibility` seconds unless released)."""
        seen: set[str] = set()
        empty_rounds = 0
        while len(seen) < limit and empty_rounds < 2:
            resp = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=RECEIVE_WAIT,
                                            VisibilityTimeout=visibility, AttributeNames=["All"],
                                            MessageAttributeNames=["All"])
            batch = [m for m in resp.get("Messages", []) if m["MessageId"] not in seen]
            empty_rounds = 0 if batch else empty_rounds + 1
            for m in batch:
                seen.add(m["MessageId"])
                raw = m.get("MessageAttributes", {})
                sent = int(m.get("Attributes", {}).get("SentTimestamp", "0")) / 1000
                yield DeadLetter(
                    message_id=m["MessageId"], receipt_handle=m["ReceiptHandle"], body=m["Body"],
                    attributes={k: v.get("StringValue", "") for k, v in raw.items() if v.get("DataType") == "String"},
                    raw_attributes=raw, sent_at=datetime.fromtimestamp(sent, UTC))

    def _release(self, url: str, messages: list[DeadLetter]) -> None:
        for i in range(0, len(messages), 10):
            self.sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
                {"Id": str(n), "ReceiptHandle": m.receipt_handle, "VisibilityTimeout": 0}
                for n, m in enumerate(messages[i:i + 10])])

    def peek(self, dlq: str, limit: int = 1000) -> list[DeadLetter]:
        url = self.url(dlq)
        messages = list(self._receive(url, limit, visibility=30))
        self._release(url, messages)
        return messages

    def summary(self, dlq: str, limit: int = 1000) -> dict:
        messages = self.peek(dlq, limit)
        return {"dlq": dlq, "count": len(messages),
                "by_reason": dict(Counter(_reason_key(m) for m in messages).most_common()),
                "by_destination": dict(Counter(m.attributes.get(f"{ATTR}destination", "?") for m in messages)),
                "by_entity": dict(Counter(m.attributes.get(f"{ATTR}entity", "?") for m in messages))}

    def show(self, dlq: str, message_id: str) -> dict | None:
        for m in self.peek(dlq):
            if m.message_id == message_id:
                return m.summary()
        return None

    # -- moving --------------------------------------------------------------------------------------------
    def replay(self, dlq: str, flt: Filter | None = None, *, dry_run: bool = False, limit: int = 10000,
               prefer_native: bool = True) -> Report:
        flt = flt or Filter()
        url = self.url(dlq)
        report = Report(dlq=dlq, dry_run=dry_run)
        if prefer_native and flt.empty and not dry_run and self._native_move(url, report):
            return report
        now = datetime.now(UTC)
        total = self.depth(url)
        untouched: list[DeadLetter] = []
        for msg in self._receive(url, limit, visibility=VISIBILITY_WHILE_MOVING):
            report.examined += 1
            if not flt.matches(msg, now):
                untouched.append(msg)
                continue
            report.matched += 1
            report.by_reason[_reason_key(msg)] += 1
            if dry_run:
                untouched.append(msg)
                continue
            try:
                target = self._target(url, msg)
                kwargs = {"MessageAttributes": msg.raw_attributes} if msg.raw_attributes else {}
                self.sqs.send_message(QueueUrl=target, MessageBody=msg.body, **kwargs)
                # deleted only once it is safely on its source queue
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=msg.receipt_handle)
                report.moved += 1
                report.by_target[target.rsplit("/", 1)[-1]] += 1
            except (ClientError, LookupError) as exc:
                report.errors.append(f"{msg.message_id}: {exc}")
                untouched.append(msg)
            if self.progress:
                self.progress(report.examined, max(total, report.examined))
        self._release(url, untouched)
        return report

    def _native_move(self, url: str, report: Report) -> bool:
        """StartMessageMoveTask back to each message's original source; False where not supported."""
        arn = self.arn(url)
        if not self._supports_move_tasks(arn):
            return False
        resp = self.sqs.start_message_move_task(SourceArn=arn)
        report.method = "StartMessageMoveTask"
        report.task_handle = resp.get("TaskHandle")
        report.matched = report.moved = self.depth(url)
        return True

    def _supports_move_tasks(self, arn: str) -> bool:
        """Probe with the read-only ListMessageMoveTasks; endpoints without the API (moto) fail it."""
        probe = boto3.client("sqs", region_name=self.sqs.meta.region_name,
                             endpoint_url=self.sqs.meta.endpoint_url,
                             config=Config(retries={"max_attempts": 1, "mode": "standard"}))
        try:
            probe.list_message_move_tasks(SourceArn=arn, MaxResults=1)
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("AccessDenied", "AccessDeniedException"):
                raise
            return False

    def _target(self, dlq_url: str, msg: DeadLetter) -> str:
        source = msg.attributes.get(f"{ATTR}source_queue")
        if source:
            return self.url(source)
        # moved by SQS redrive (no ipaas.* attributes): the single queue that uses this DLQ
        sources = self.sqs.list_dead_letter_source_queues(QueueUrl=dlq_url).get("queueUrls", [])
        if len(sources) != 1:
            raise LookupError(f"cannot tell the source queue of {msg.message_id} ({len(sources)} candidates)")
        return sources[0]


def text_progress(done: int, total: int, out=sys.stderr) -> None:
    width = 30
    filled = int(width * done / total) if total else width
    out.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    if done >= total:
        out.write("\n")
    out.flush()


def parse_age(text: str | None) -> timedelta | None:
    """'90s', '15m', '2h', '3d' -> timedelta."""
    if not text:
        return None
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        return timedelta(seconds=float(text[:-1]) * units[text[-1]])
    except (KeyError, ValueError):
        raise ValueError(f"age '{text}' must be a number followed by s, m, h or d") from None


# -- the command line (`ipaas-sync dlq ...`) and the Lambda share these -----------------------------------
def filter_from(options: dict) -> Filter:
    return Filter(destination=options.get("destination"), entity=options.get("entity"),
                  reason=options.get("reason"), older_than=parse_age(options.get("older_than")),
                  newer_than=parse_age(options.get("newer_than")))


def dead_letter_queues(client, prefix: str = "") -> list[str]:
    urls = client.list_queues(QueueNamePrefix=prefix).get("QueueUrls", []) if prefix else \
        client.list_queues().get("QueueUrls", [])
    return sorted(u for u in urls if u.endswith("-dlq"))


def register_cli(subparsers) -> None:
    dlq = subparsers.add_parser("dlq", help="inspect and replay dead-letter queues")
    sub = dlq.add_subparsers(dest="dlq_command", required=True)
    ls = sub.add_parser("list", help="messages per reason, for one DLQ or every DLQ of a stack")
    ls.add_argument("queue", nargs="?", help="DLQ name, URL or ARN (default: every *-dlq with --stack prefix)")
    ls.add_argument("--stack", default="", help="queue name prefix, e.g. the stack name")
    show = sub.add_parser("show", help="one message: body, reason and history")
    show.add_argument("queue")
    show.add_argument("message_id")
    rp = sub.add_parser("replay", help="move messages back to their source queue")
    rp.add_argument("queue")
    for name in ("destination", "entity", "reason"):
        rp.add_argument(f"--{name}")
    rp.add_argument("--older-than", help="e.g. 30m, 2h, 1d")
    rp.add_argument("--newer-than", help="e.g. 30m, 2h, 1d")
    rp.add_argument("--dry-run", action="store_true", help="report what would move, move nothing")
    rp.add_argument("--no-native", action="store_true", help="never use StartMessageMoveTask")
    dlq.set_defaults(run=run_cli)


def run_cli(args) -> int:
    import json
    replayer = Replayer(progress=text_progress)
    if args.dlq_command == "list":
        queues = [args.queue] if args.queue else dead_letter_queues(replayer.sqs, args.stack)
        for q in queues:
            s = replayer.summary(q)
            print(f"{q}: {s['count']} message(s)")
            for reason, n in s["by_reason"].items():
                print(f"  {n:>5}  {reason}")
        return 0
    if args.dlq_command == "show":
        found = replayer.show(args.queue, args.message_id)
        print(json.dumps(found, indent=2) if found else f"no message {args.message_id} in {args.queue}")
        return 0 if found else 1
    report = replayer.replay(args.queue, filter_from(vars(args)), dry_run=args.dry_run,
                             prefer_native=not args.no_native)
    print(json.dumps(report.as_dict(), indent=2))
    return 1 if report.errors else 0
