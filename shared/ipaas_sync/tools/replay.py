"""Dead-letter queue operations: summarise, show, and replay failed messages to their source queue.

One interface (Replayer) over two movers:
  * SQS StartMessageMoveTask, where the endpoint supports it and the whole DLQ goes back unfiltered
    (the native redrive: server-side, keeps bodies and attributes);
  * receive-send-delete, for a filtered subset or where the endpoint lacks the API (moto). A message is
    deleted from the DLQ only after it is on its source queue, with its body and every attribute
    (the ipaas.* history: attempts, first failure reason) unchanged.
Replaying a message that had in fact succeeded is harmless: transfers are idempotent on business identity,
so the handler reports it as a duplicate and sends nothing.

Used by the `ipaas-sync dlq ...` command and by the DlqReplayFunction Lambda (same code, same verbs and
filters: `run_command`).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, TextIO

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from ..platform.queues import ATTR
from .failure_groups import failure_group

if TYPE_CHECKING:  # the boto3 service stubs are development packages (types only), never in the layer
    from mypy_boto3_sqs import SQSClient

RECEIVE_WAIT = 1
VISIBILITY_WHILE_MOVING = 60
VISIBILITY_WHILE_READING = 30
PROGRESS_FROM = 100  # listings of at least this many messages report their progress
MAX_EMPTY_RECEIVES = 2  # a queue whose counted messages are in flight elsewhere: stop reading after this
COMMANDS = ("list", "show", "replay")


class QueueNotFound(LookupError):
    """A queue name, URL or ARN that does not exist (or that this caller may not see)."""


@dataclass
class Filter:
    destination: str | None = None
    entity: str | None = None
    reason: str | None = None  # substring of ipaas.reason / ipaas.error, case-insensitive
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
    raw_attributes: dict[str, Any]  # the message attributes as SQS answered them (sent back as they are)
    sent_at: datetime

    queue: str = ""

    @property
    def reason(self) -> str:
        return self.attributes.get(f"{ATTR}reason", "(no reason: moved by SQS redrive)")

    @property
    def failed_at(self) -> datetime:
        """When it reached the DLQ: the handler sends it there, so the DLQ message's SentTimestamp."""
        return self.sent_at

    @property
    def original_message_id(self) -> str | None:
        """The SQS message id it had on its source queue when it failed."""
        return self.attributes.get(f"{ATTR}message_id")

    @property
    def tracking_guid(self) -> str | None:
        guid = self.attributes.get(f"{ATTR}tracking_guid")
        return guid if guid and guid != "none" else self._body().get("tracking_guid")

    @property
    def record_id(self) -> str | None:
        value = self._body().get("id")
        return str(value) if value is not None else None

    def _body(self) -> dict[str, Any]:
        try:
            body = json.loads(self.body)
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    def ids(self) -> set[str]:
        """Every id an operator may know it by: DLQ message id, original message id, record id, tracking guid."""
        return {i for i in (self.message_id, self.original_message_id, self.record_id, self.tracking_guid) if i}

    def reason_key(self) -> str:
        """`[kind:Class] reason` with the ids taken out (failure_groups: the same lines as `ipaas-sync report`)."""
        error = self.attributes.get(f"{ATTR}error")
        kind, _, error_class = error.partition(":") if error else ("redrive", "", None)
        return failure_group(
            kind, error_class, self.reason, (self.original_message_id, self.message_id, self.tracking_guid, self.record_id)
        )

    def age(self, now: datetime) -> timedelta:
        return now - self.failed_at

    def summary(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "message_id": self.message_id,
            "original_message_id": self.original_message_id,
            "record_id": self.record_id,
            "error": self.attributes.get(f"{ATTR}error", "redrive"),
            "reason": self.reason,
            "entity": self.attributes.get(f"{ATTR}entity"),
            "destination": self.attributes.get(f"{ATTR}destination"),
            "tracking_guid": self.tracking_guid,
            "attempts": self.attributes.get(f"{ATTR}attempts"),
            "first_reason": self.attributes.get(f"{ATTR}first_reason"),
            "first_failed_at": self.attributes.get(f"{ATTR}first_failed_at"),
            "failed_at": self.failed_at.isoformat(),
            "body": self.body,
        }


@dataclass
class Report:
    dlq: str
    dry_run: bool
    method: str = "receive-send-delete"
    examined: int = 0
    matched: int = 0
    moved: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)
    by_target: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    task_handle: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "dlq": self.dlq,
            "dry_run": self.dry_run,
            "method": self.method,
            "examined": self.examined,
            "matched": self.matched,
            "moved": self.moved,
            "by_reason": dict(self.by_reason),
            "by_target": dict(self.by_target),
            "errors": self.errors,
            "task_handle": self.task_handle,
            "note": (
                "replayed transfers are idempotent on business identity: a message that had in fact "
                "succeeded is reported as a duplicate by its handler and nothing is sent twice"
            ),
        }


class Replayer:
    def __init__(self, client: SQSClient | None = None, *, progress: Callable[[str, int, int], None] | None = None):
        self.sqs = client or boto3.client("sqs")
        self.progress = progress

    # -- reading -------------------------------------------------------------------------------------------
    def url(self, queue: str) -> str:
        if queue.startswith("http"):
            return queue
        try:
            if queue.startswith("arn:"):
                parts = queue.split(":")
                return self.sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
            return self.sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if "NonExistentQueue" in code or code == "QueueDoesNotExist":
                raise QueueNotFound(f"no queue named '{queue}' in {self.sqs.meta.region_name}") from None
            raise

    def arn(self, url: str) -> str:
        return self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    def depth(self, url: str) -> int:
        """Messages on the queue (visible + in flight), from the queue's attributes: no receive needed."""
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        return int(attrs.get("ApproximateNumberOfMessages", 0)) + int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0))

    def dead_letter_queues(self, prefix: str = "") -> list[str]:
        """URLs of every queue whose name starts with `prefix` and ends with -dlq (ListQueues, paginated)."""
        paginator = self.sqs.get_paginator("list_queues")
        pages = paginator.paginate(QueueNamePrefix=prefix) if prefix else paginator.paginate()
        return sorted(u for page in pages for u in page.get("QueueUrls", []) if u.endswith("-dlq"))

    def _receive(self, url: str, limit: int, visibility: int) -> Iterable[DeadLetter]:
        """Every message once, up to `limit` (each stays invisible for `visibility` seconds unless released).
        Stops as soon as `limit` are read, or after MAX_EMPTY_RECEIVES empty answers (the rest in flight)."""
        seen: set[str] = set()
        empty_rounds = 0
        name = url.rstrip("/").rsplit("/", 1)[-1]
        while len(seen) < limit and empty_rounds < MAX_EMPTY_RECEIVES:
            resp = self.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(10, limit - len(seen)),
                WaitTimeSeconds=RECEIVE_WAIT,
                VisibilityTimeout=visibility,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            batch = [m for m in resp.get("Messages", []) if m["MessageId"] not in seen]
            empty_rounds = 0 if batch else empty_rounds + 1
            for m in batch:
                seen.add(m["MessageId"])
                raw = m.get("MessageAttributes", {})
                sent = int(m.get("Attributes", {}).get("SentTimestamp", "0")) / 1000
                yield DeadLetter(
                    message_id=m["MessageId"],
                    receipt_handle=m["ReceiptHandle"],
                    body=m["Body"],
                    attributes={k: v.get("StringValue", "") for k, v in raw.items() if v.get("DataType") == "String"},
                    raw_attributes=raw,
                    sent_at=datetime.fromtimestamp(sent, UTC),
                    queue=name,
                )
            if self.progress and limit >= PROGRESS_FROM and batch:
                self.progress(name, len(seen), limit)

    def _release(self, url: str, messages: list[DeadLetter]) -> None:
        for i in range(0, len(messages), 10):
            self.sqs.change_message_visibility_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m.receipt_handle, "VisibilityTimeout": 0}
                    for n, m in enumerate(messages[i : i + 10])
                ],
            )

    def peek(self, dlq: str, limit: int = 1000) -> list[DeadLetter]:
        """Read every message of a DLQ (as many as its attributes count, at most `limit`) and put them back."""
        url = self.url(dlq)
        count = min(self.depth(url), limit)
        if not count:
            return []
        messages = list(self._receive(url, count, visibility=VISIBILITY_WHILE_READING))
        self._release(url, messages)
        return messages

    def summary(self, dlq: str, limit: int = 1000, *, messages: bool = False) -> dict[str, Any]:
        """Counts by `[kind:Class] reason` (ids taken out), destination and entity; with `messages`, one entry
        per message too."""
        url = self.url(dlq)
        found = self.peek(url, limit)
        now = datetime.now(UTC)
        out: dict[str, Any] = {
            "dlq": url.rstrip("/").rsplit("/", 1)[-1],
            "count": self.depth(url) if found else 0,
            "read": len(found),
            "by_reason": dict(Counter(m.reason_key() for m in found).most_common()),
            "by_destination": dict(Counter(m.attributes.get(f"{ATTR}destination", "?") for m in found)),
            "by_entity": dict(Counter(m.attributes.get(f"{ATTR}entity", "?") for m in found)),
        }
        out["count"] = max(out["count"], len(found))
        if messages:
            out["messages"] = [
                {
                    "message_id": m.message_id,
                    "original_message_id": m.original_message_id,
                    "record_id": m.record_id,
                    "tracking_guid": m.tracking_guid,
                    "age_seconds": int(m.age(now).total_seconds()),
                    "reason": m.reason,
                }
                for m in sorted(found, key=lambda m: m.sent_at)
            ]
        return out

    def show(self, queues: list[str], any_id: str) -> list[dict[str, Any]]:
        """Every message of these DLQs that any of its ids names (DLQ message id, original message id,
        record id or tracking guid)."""
        return [m.summary() for q in queues for m in self.peek(q) if any_id in m.ids()]

    # -- moving --------------------------------------------------------------------------------------------
    def replay(
        self, dlq: str, flt: Filter | None = None, *, dry_run: bool = False, limit: int = 10000, prefer_native: bool = True
    ) -> Report:
        flt = flt or Filter()
        url = self.url(dlq)
        report = Report(dlq=url.rstrip("/").rsplit("/", 1)[-1], dry_run=dry_run)
        total = self.depth(url)
        if total and prefer_native and flt.empty and self._supports_move_tasks(self.arn(url)):
            report.method = "StartMessageMoveTask"  # what a real run uses; a dry run still reads what would move
            if not dry_run:
                self._native_move(url, report)
                return report
        now = datetime.now(UTC)
        untouched: list[DeadLetter] = []
        for msg in self._receive(url, min(total, limit), visibility=VISIBILITY_WHILE_MOVING):
            report.examined += 1
            if not flt.matches(msg, now):
                untouched.append(msg)
                continue
            report.matched += 1
            report.by_reason[msg.reason_key()] += 1
            try:
                target = self._target(url, msg)  # a dry run names where each message would go, too
            except (ClientError, LookupError) as exc:
                report.errors.append(f"{msg.message_id}: {exc}")
                untouched.append(msg)
                continue
            if dry_run:
                report.by_target[target.rsplit("/", 1)[-1]] += 1
                untouched.append(msg)
                continue
            try:
                if msg.raw_attributes:
                    self.sqs.send_message(QueueUrl=target, MessageBody=msg.body, MessageAttributes=msg.raw_attributes)
                else:
                    self.sqs.send_message(QueueUrl=target, MessageBody=msg.body)
                # deleted only once it is safely on its source queue
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=msg.receipt_handle)
                report.moved += 1
                report.by_target[target.rsplit("/", 1)[-1]] += 1
            except (ClientError, LookupError) as exc:
                report.errors.append(f"{msg.message_id}: {exc}")
                untouched.append(msg)
        self._release(url, untouched)
        return report

    def _native_move(self, url: str, report: Report) -> None:
        """StartMessageMoveTask back to each message's original source (server-side)."""
        resp = self.sqs.start_message_move_task(SourceArn=self.arn(url))
        report.task_handle = resp.get("TaskHandle")
        report.matched = report.moved = self.depth(url)

    def _supports_move_tasks(self, arn: str) -> bool:
        """Probe with the read-only ListMessageMoveTasks; endpoints without the API (moto) fail it."""
        probe = boto3.client(
            "sqs",
            region_name=self.sqs.meta.region_name,
            endpoint_url=self.sqs.meta.endpoint_url,
            config=Config(retries={"max_attempts": 1, "mode": "standard"}),
        )
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


def text_progress(queue: str, done: int, total: int, out: TextIO = sys.stderr) -> None:
    out.write(f"\rreading {queue}: {done}/{total}")
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


def parse_moment(text: str | None, what: str, now: datetime | None = None) -> datetime | None:
    """A point in time as an operator writes it, for every `--since`/`--until`: an age before now ('30m', '24h',
    '7d') or a date ('2025-01-01', an ISO date-time; without a zone UTC)."""
    if not text:
        return None
    text = text.strip()
    if text[-1:] in "smhd" and text[:-1].replace(".", "", 1).isdigit():
        age = parse_age(text)
        assert age is not None
        return (now or datetime.now(UTC)) - age
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            value = datetime.combine(date.fromisoformat(text), datetime.min.time())
        except ValueError:
            raise ValueError(
                f"{what} '{text[:40]}' is neither an age (30m, 24h, 7d) nor a date (YYYY-MM-DD or an ISO date-time)"
            ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
