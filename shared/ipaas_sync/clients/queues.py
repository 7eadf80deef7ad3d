"""SQS adapter: which DLQ belongs to a source queue (read from its RedrivePolicy, never configured twice),
sending a failed message there with its reason and history as message attributes, and putting messages on
a queue with SendMessageBatch (send_all) for the hook ingress.

Attribute names (all String): ipaas.error (kind:Class), ipaas.reason, ipaas.entity, ipaas.destination,
ipaas.tracking_guid, ipaas.attempts, ipaas.source_queue, ipaas.message_id (its id on the source queue),
ipaas.first_reason, ipaas.first_failed_at. SQS allows 10 attributes per message; these are the 10. When it
failed is the DLQ message's own SentTimestamp.
"""
from __future__ import annotations

import base64
import json
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import boto3

from ..errors import TransientError

ATTR = "ipaas."
MAX_REASON = 900
BATCH_ENTRIES = 10               # SendMessageBatch: at most 10 entries ...
BATCH_BYTES = 256 * 1024         # ... and at most 256 KiB of bodies per call
SEND_ATTEMPTS = 3                # calls per chunk before the failed entries are given up on (raised)


@dataclass(frozen=True)
class QueueInfo:
    url: str
    arn: str
    dlq_url: str | None
    dlq_arn: str | None
    max_receive_count: int | None


class QueueDirectory:
    def __init__(self, client=None):
        self._sqs = client or boto3.client("sqs")
        self._cache: dict[str, QueueInfo] = {}
        self._lock = threading.Lock()

    @property
    def client(self):
        return self._sqs

    def url_of(self, arn: str) -> str:
        parts = arn.split(":")
        return self._sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]

    def info(self, arn: str) -> QueueInfo:
        with self._lock:
            if arn in self._cache:
                return self._cache[arn]
        url = self.url_of(arn)
        attrs = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"]
        dlq_url = dlq_arn = max_receive = None
        if attrs.get("RedrivePolicy"):
            policy = json.loads(attrs["RedrivePolicy"])
            dlq_arn = policy["deadLetterTargetArn"]
            max_receive = int(policy["maxReceiveCount"])
            dlq_url = self.url_of(dlq_arn)
        info = QueueInfo(url=url, arn=arn, dlq_url=dlq_url, dlq_arn=dlq_arn, max_receive_count=max_receive)
        with self._lock:
            self._cache[arn] = info
        return info


def _s(value: str) -> dict:
    return {"DataType": "String", "StringValue": value}


def failure_attributes(*, previous: dict[str, str], kind: str, error_class: str, reason: str, entity: str,
                       destination: str | None, tracking_guid: str | None, receive_count: int,
                       source_arn: str, message_id: str) -> dict[str, dict]:
    """History survives replays: attempts add up, the first failure is kept."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    attempts = int(previous.get(f"{ATTR}attempts") or 0) + receive_count
    reason = reason[:MAX_REASON]
    attrs = {
        f"{ATTR}error": f"{kind}:{error_class}",
        f"{ATTR}reason": reason,
        f"{ATTR}entity": entity,
        f"{ATTR}destination": destination or "unknown",
        f"{ATTR}tracking_guid": tracking_guid or "none",
        f"{ATTR}attempts": str(attempts),
        f"{ATTR}source_queue": source_arn,
        f"{ATTR}message_id": message_id,
        f"{ATTR}first_reason": previous.get(f"{ATTR}first_reason") or reason,
        f"{ATTR}first_failed_at": previous.get(f"{ATTR}first_failed_at") or now,
    }
    return {k: _s(v) for k, v in attrs.items()}


def history_of(message_attributes) -> dict[str, str]:
    """ipaas.* attributes of a received message, from a Lambda SQS record or an SQS ReceiveMessage reply."""
    out: dict[str, str] = {}
    for name, value in (message_attributes or {}).items():
        if not name.startswith(ATTR):
            continue
        if isinstance(value, dict):
            text = value.get("stringValue", value.get("StringValue"))
        else:
            text = getattr(value, "string_value", None)
        if text is not None:
            out[name] = text
    return out


MAX_DELAY_SECONDS = 900  # SQS DelaySeconds maximum; a longer deferral is deferred again when it comes back


def defer_message(client, queue_url: str, body: str, message_attributes, *, until: float,
                  now: float | None = None) -> int:
    """Send a message back to its own queue, visible again at `until` (epoch seconds; at most 15 minutes from now).
    The body gains `deferred_until` and a `deferrals` count; every message attribute (its DLQ history) is kept.
    Returns the DelaySeconds used."""
    now = time.time() if now is None else now
    data = json.loads(body)
    data["deferred_until"] = round(until, 3)
    data["deferrals"] = int(data.get("deferrals") or 0) + 1
    delay = max(0, min(MAX_DELAY_SECONDS, math.floor(until - now)))   # there by its slot (up to a second early)
    attributes = {}
    for name, value in (message_attributes or {}).items():
        kind = value.get("dataType", value.get("DataType", "String"))
        text = value.get("stringValue", value.get("StringValue"))
        binary = value.get("binaryValue", value.get("BinaryValue"))
        if isinstance(binary, str):  # a Lambda event carries it base64-encoded
            binary = base64.b64decode(binary)
        attributes[name] = {"DataType": kind, **({"StringValue": text} if text is not None else {"BinaryValue": binary})}
    client.send_message(QueueUrl=queue_url, MessageBody=json.dumps(data), DelaySeconds=delay,
                        **({"MessageAttributes": attributes} if attributes else {}))
    return delay


class QueueSendError(TransientError):
    """Messages that are not on their queue after the bounded retries: the caller must not acknowledge them."""


def _chunks(bodies: Sequence[str]) -> list[list[tuple[str, str]]]:
    """(entry id, body) chunks within SendMessageBatch's limits, in order."""
    chunks: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    size = 0
    for index, body in enumerate(bodies):
        n = len(body.encode("utf-8"))
        if n > BATCH_BYTES:
            raise QueueSendError(f"message {index} is {n} bytes; SQS takes at most {BATCH_BYTES}")
        if current and (len(current) == BATCH_ENTRIES or size + n > BATCH_BYTES):
            chunks.append(current)
            current, size = [], 0
        current.append((str(index), body))
        size += n
    if current:
        chunks.append(current)
    return chunks


def send_all(client, queue_url: str, bodies: Sequence[str], *, attempts: int = SEND_ATTEMPTS,
             backoff: float = 0.1, sleep: Callable[[float], None] = time.sleep) -> int:
    """Put every body on the queue with SendMessageBatch; returns how many were sent.

    Each chunk (10 entries / 256 KiB) is sent; entries SQS reports as failed are sent again, alone, up to
    `attempts` calls per chunk (with a short growing pause). An entry that is still failing, or that SQS
    blames on the sender (retrying cannot help), raises QueueSendError naming the queue, the count and the
    SQS error codes (never a body): the caller then answers so that the whole request is retried. Entries
    that did go through before the error stay on the queue; the transfers' business-identity idempotency
    makes their second delivery harmless. A failing call itself (throttled, network) is retried by botocore
    and raises its own error.
    """
    queue = queue_url.rstrip("/").rsplit("/", 1)[-1]
    sent = 0
    for chunk in _chunks(bodies):
        pending = dict(chunk)
        for attempt in range(1, attempts + 1):
            reply = client.send_message_batch(
                QueueUrl=queue_url, Entries=[{"Id": i, "MessageBody": b} for i, b in pending.items()])
            for entry in reply.get("Successful", []):
                if pending.pop(entry["Id"], None) is not None:
                    sent += 1
            if not pending:
                break
            failed = {f["Id"]: f for f in reply.get("Failed", []) if f.get("Id") in pending}
            codes = sorted({f.get("Code", "?") for f in failed.values()})
            if len(failed) < len(pending):
                codes.append("Unreported")  # neither Successful nor Failed: not known to be on the queue
            if any(f.get("SenderFault") for f in failed.values()) or attempt == attempts:
                raise QueueSendError(
                    f"{len(pending)} of {len(chunk)} messages not sent to queue {queue} after {attempt} "
                    f"attempt(s): {', '.join(codes)}")
            sleep(backoff * 2 ** (attempt - 1))
    return sent
