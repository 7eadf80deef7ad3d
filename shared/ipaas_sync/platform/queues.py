"""SQS adapter: which DLQ belongs to a source queue (read from its RedrivePolicy, never configured twice),
sending a failed message there with its reason and history as message attributes, and putting messages on
a queue with SendMessageBatch (send_all) for the hook ingress.

Attribute names (all String): ipaas.error (kind:Class), ipaas.reason, ipaas.entity, ipaas.destination,
ipaas.tracking_guid, ipaas.attempts, ipaas.source_queue, ipaas.message_id (its id on the source queue),
ipaas.first_reason, ipaas.first_failed_at. SQS allows 10 attributes per message; these are the 10. When it
failed is the DLQ message's own SentTimestamp.

Every attribute value is redacted (a body may carry a secret value), cut to the characters SQS accepts (moto
accepts any, AWS refuses the whole send), and bounded; body plus attributes stay within SQS_MAX_MESSAGE_BYTES
(the reasons are shortened first, then the least useful attributes left off; the error class and a short reason are
always kept: the product queues no body larger than MAX_BODY_BYTES). The body is never altered.
"""

from __future__ import annotations

import base64
import json
import math
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from ..core.errors import TransientError
from ..core.observability import redact

if TYPE_CHECKING:  # the boto3 service stubs are development packages (types only), never in the layer
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef

ATTR = "ipaas."
MAX_REASON = 2000  # an UncertainOutcome reason carries its evidence and the steps to settle it
MAX_ATTRIBUTE = 256  # every other attribute value (a tracking guid, a destination id) at most this long
# The one message size limit: every queue and DLQ of the template is created with this MaximumMessageSize (256 KiB;
# SQS allows up to 1 MiB since 2025, but a Lambda SQS batch of ten such messages would pass the 6 MB invocation
# payload), tested against template.yaml. Body and message attributes count against it.
SQS_MAX_MESSAGE_BYTES = 256 * 1024
# Room kept in every message the product itself queues for the attributes it may carry to a DLQ (its failure reason,
# history): the largest body the product queues (hook ingress, manual sync, initialize) is the rest.
FAILURE_ATTRIBUTES_RESERVE = 16 * 1024
MAX_BODY_BYTES = SQS_MAX_MESSAGE_BYTES - FAILURE_ATTRIBUTES_RESERVE
BATCH_ENTRIES = 10  # SendMessageBatch: at most 10 entries ...
BATCH_BYTES = SQS_MAX_MESSAGE_BYTES  # ... and at most 256 KiB of bodies per call
# SQS accepts in attribute values only #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF
_NOT_SQS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# left off first when body plus attributes would exceed the message size (the error and the reason never: the
# reason is cut instead)
_DROP_ORDER = (
    "first_failed_at",
    "first_reason",
    "message_id",
    "source_queue",
    "attempts",
    "tracking_guid",
    "destination",
    "entity",
)
SEND_ATTEMPTS = 3  # calls per chunk before the failed entries are given up on (raised)


@dataclass(frozen=True)
class QueueInfo:
    url: str
    arn: str
    dlq_url: str | None
    dlq_arn: str | None
    max_receive_count: int | None


class QueueDirectory:
    def __init__(self, client: SQSClient | None = None):
        self._sqs: SQSClient = client or boto3.client("sqs")
        self._cache: dict[str, QueueInfo] = {}
        self._lock = threading.Lock()

    @property
    def client(self) -> SQSClient:
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


def _s(value: str) -> MessageAttributeValueTypeDef:
    return {"DataType": "String", "StringValue": value}


def attribute_value(value: str, limit: int = MAX_ATTRIBUTE) -> str:
    """A value SQS accepts as a String attribute: redacted, other characters as '?', at most `limit` characters."""
    text = _NOT_SQS.sub("?", redact(str(value)))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def message_bytes(body: str, attributes: dict[str, MessageAttributeValueTypeDef]) -> int:
    """What SQS counts against its message size: the body, and each attribute's name, type and value."""
    return len(body.encode("utf-8")) + sum(
        len(name.encode()) + len(a["DataType"].encode()) + len(a["StringValue"].encode("utf-8")) for name, a in attributes.items()
    )


def failure_attributes(
    *,
    previous: dict[str, str],
    kind: str,
    error_class: str,
    reason: str,
    entity: str,
    destination: str | None,
    tracking_guid: str | None,
    receive_count: int,
    source_arn: str,
    message_id: str,
    body: str = "",
) -> dict[str, MessageAttributeValueTypeDef]:
    """History survives replays: attempts add up, the first failure is kept. Within SQS_MAX_MESSAGE_BYTES with
    `body` (the message they go with)."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    try:
        attempts = int(previous.get(f"{ATTR}attempts") or 0) + receive_count
    except ValueError:
        attempts = receive_count
    reason = attribute_value(reason, MAX_REASON)
    values = {
        "error": attribute_value(f"{kind}:{error_class}"),
        "reason": reason,
        "entity": attribute_value(entity),
        "destination": attribute_value(destination or "unknown"),
        "tracking_guid": attribute_value(tracking_guid or "none"),
        "attempts": str(attempts),
        "source_queue": attribute_value(source_arn),
        "message_id": attribute_value(message_id),
        "first_reason": attribute_value(previous.get(f"{ATTR}first_reason") or reason, MAX_REASON),
        "first_failed_at": attribute_value(previous.get(f"{ATTR}first_failed_at") or now),
    }
    attrs = {f"{ATTR}{k}": _s(v) for k, v in values.items()}
    for name in ("first_reason",):  # shorten the long one first ...
        excess = message_bytes(body, attrs) - SQS_MAX_MESSAGE_BYTES
        if excess > 0:
            text = attrs[f"{ATTR}{name}"]["StringValue"]
            attrs[f"{ATTR}{name}"] = _s(
                text.encode("utf-8")[: max(0, len(text.encode()) - excess - 3)].decode("utf-8", "ignore") + "…"
            )
    for name in _DROP_ORDER:  # ... then leave the least useful ones off (never the error class or the reason)
        if message_bytes(body, attrs) <= SQS_MAX_MESSAGE_BYTES:
            break
        attrs.pop(f"{ATTR}{name}", None)
    excess = message_bytes(body, attrs) - SQS_MAX_MESSAGE_BYTES
    if excess > 0:  # the reason cut to the room the body leaves (a body the product queued leaves plenty)
        encoded = attrs[f"{ATTR}reason"]["StringValue"].encode("utf-8")
        keep = len(encoded) - excess - len("…".encode())
        if keep > 0:
            attrs[f"{ATTR}reason"] = _s(encoded[:keep].decode("utf-8", "ignore") + "…")
        else:
            attrs.pop(f"{ATTR}reason")
    if message_bytes(body, attrs) > SQS_MAX_MESSAGE_BYTES:
        attrs = {}  # the body alone fills the message (put on a queue by hand): the outcome's log line has the reason
    return attrs


def history_of(message_attributes: dict[str, Any] | None) -> dict[str, str]:
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


def _deferral(
    body: str,
    message_attributes: dict[str, Any] | None,
    until: float,
    now: float,
    retry: dict[str, Any] | None = None,
    ahead: bool = False,
) -> tuple[str, int, dict[str, MessageAttributeValueTypeDef]]:
    """The body, DelaySeconds and attributes of a message sent back to its queue until `until`. With `retry` (its
    retry history, runtime/retry.py) the body carries it, and no inline record snapshot any more: a retry reads the
    record from iPaaS.com again, so an older retry never writes an older state over a newer transfer. `ahead`: back
    within the second before `until`, not around it (see below)."""
    data = json.loads(body)
    if retry is not None:
        data["retry"] = retry
        data.pop("record", None)
    data["deferred_until"] = round(until, 3)
    # deferrals count the rate limit's (and the apply window's): a retry's send-back or hop is not one of them
    data["deferrals"] = int(data.get("deferrals") or 0) + (0 if retry is not None else 1)
    # SQS delays are whole seconds: the nearest one, so that it is back within half a second of its time; a record
    # deferred to a rate-limit slot (`ahead`) is back in the second before its slot instead, and waits there for it
    # (throttle.latest_first_slot): back up to half a second after it, the lane ran dry meanwhile (a record that
    # comes back late finds the lane idle: the drain after an outage lost a tenth of the limit that way)
    wait = until - now
    delay = max(0, min(MAX_DELAY_SECONDS, math.floor(wait) if ahead else round(wait)))
    attributes: dict[str, MessageAttributeValueTypeDef] = {}
    for name, value in (message_attributes or {}).items():
        kind = value.get("dataType", value.get("DataType", "String"))
        text = value.get("stringValue", value.get("StringValue"))
        binary = value.get("binaryValue", value.get("BinaryValue"))
        if isinstance(binary, str):  # a Lambda event carries it base64-encoded
            binary = base64.b64decode(binary)
        attributes[name] = (
            {"DataType": kind, "StringValue": text} if text is not None else {"DataType": kind, "BinaryValue": binary}
        )
    return json.dumps(data), delay, attributes


def defer_message(
    client: SQSClient,
    queue_url: str,
    body: str,
    message_attributes: dict[str, Any] | None,
    *,
    until: float,
    now: float | None = None,
    retry: dict[str, Any] | None = None,
    max_delay: int = MAX_DELAY_SECONDS,
) -> int:
    """Send a message back to its own queue, visible again at `until` (epoch seconds; at most `max_delay`, SQS's 15
    minutes, from now: a longer wait is deferred again when it comes back). The body gains `deferred_until` and a
    `deferrals` count (or, with `retry`, its retry history instead, see _deferral); every message attribute (its DLQ
    history) is kept. Returns the DelaySeconds used."""
    text, delay, attributes = _deferral(body, message_attributes, until, time.time() if now is None else now, retry)
    delay = min(delay, max_delay)
    if attributes:
        client.send_message(QueueUrl=queue_url, MessageBody=text, DelaySeconds=delay, MessageAttributes=attributes)
    else:
        client.send_message(QueueUrl=queue_url, MessageBody=text, DelaySeconds=delay)
    return delay


def defer_messages(
    client: SQSClient,
    queue_url: str,
    messages: Sequence[tuple[str, dict[str, Any] | None, float]],
    *,
    now: float | None = None,
    retries: Sequence[dict[str, Any] | None] | None = None,
    ahead: Sequence[bool] | None = None,
    max_delay: int = MAX_DELAY_SECONDS,
) -> list[int | None]:
    """defer_message for many (body, attributes, until) at once, with SendMessageBatch (10 entries and 256 KiB per
    call); `retries`: each one's retry history, or None; `ahead`: each one deferred to a rate-limit slot (back in the
    second before it, _deferral; `max_delay`, the retry schedule's hop, does not cap it: only SQS's own maximum does).
    Returns each message's DelaySeconds, or None for one that SQS did not take (the caller keeps it)."""
    now = time.time() if now is None else now
    delays: list[int | None] = [None] * len(messages)
    chunk: list[tuple[int, dict[str, Any], int]] = []
    size = 0

    def flush() -> None:
        if not chunk:
            return
        ok: set[str] = set()
        try:
            reply = client.send_message_batch(QueueUrl=queue_url, Entries=[entry for _, entry, _ in chunk])  # type: ignore[misc]
            ok = {entry["Id"] for entry in reply.get("Successful", [])}
        except Exception:  # noqa: BLE001,S110 - none of this chunk is known to be on the queue: the caller keeps them
            pass
        for index, entry, delay in chunk:
            if entry["Id"] in ok:
                delays[index] = delay
        chunk.clear()

    for index, (body, message_attributes, until) in enumerate(messages):
        text, delay, attributes = _deferral(
            body, message_attributes, until, now, retries[index] if retries else None, bool(ahead and ahead[index])
        )
        delay = min(delay, MAX_DELAY_SECONDS if ahead and ahead[index] else max_delay)
        entry: dict[str, Any] = {"Id": str(index), "MessageBody": text, "DelaySeconds": delay}
        if attributes:
            entry["MessageAttributes"] = attributes
        n = len(text.encode("utf-8")) + sum(len(k) + len(str(v)) for k, v in attributes.items())
        if chunk and (len(chunk) == BATCH_ENTRIES or size + n > BATCH_BYTES):
            flush()
            size = 0
        chunk.append((index, entry, delay))
        size += n
    flush()
    return delays


class QueueSendError(TransientError):
    """Messages that are not on their queue after the bounded retries: the caller must not acknowledge them."""


def _chunks(bodies: Sequence[str]) -> list[list[tuple[str, str]]]:
    """(entry id, body) chunks within SendMessageBatch's limits, in order."""
    chunks: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    size = 0
    for index, body in enumerate(bodies):
        n = len(body.encode("utf-8"))
        if n > MAX_BODY_BYTES:
            raise QueueSendError(
                f"message {index} is {n} bytes; at most {MAX_BODY_BYTES} are queued (FAILURE_ATTRIBUTES_RESERVE)"
            )
        if current and (len(current) == BATCH_ENTRIES or size + n > BATCH_BYTES):
            chunks.append(current)
            current, size = [], 0
        current.append((str(index), body))
        size += n
    if current:
        chunks.append(current)
    return chunks


def send_all(
    client: SQSClient,
    queue_url: str,
    bodies: Sequence[str],
    *,
    attempts: int = SEND_ATTEMPTS,
    backoff: float = 0.1,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
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
                QueueUrl=queue_url, Entries=[{"Id": i, "MessageBody": b} for i, b in pending.items()]
            )
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
                    f"attempt(s): {', '.join(codes)}"
                )
            sleep(backoff * 2 ** (attempt - 1))
    return sent


def queue_depth(client: SQSClient, queue_url: str) -> int:
    """Every message the queue holds: visible, in flight and delayed (deferred records waiting for their slot).
    TransientError when SQS does not answer (botocore has retried it already)."""
    try:
        attributes = client.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
    except (ClientError, BotoCoreError) as exc:
        raise TransientError(f"could not read the depth of queue {queue_url.rsplit('/', 1)[-1]}: {exc}") from exc
    return sum(int(value) for value in attributes.values())
