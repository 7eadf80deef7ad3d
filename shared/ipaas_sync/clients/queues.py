"""SQS adapter: which DLQ belongs to a source queue (read from its RedrivePolicy, never configured twice),
and sending a failed message there with its reason and history as message attributes.

Attribute names (all String): ipaas.error (kind:Class), ipaas.reason, ipaas.entity, ipaas.destination,
ipaas.tracking_guid, ipaas.attempts, ipaas.source_queue, ipaas.failed_at, ipaas.first_reason,
ipaas.first_failed_at. SQS allows 10 attributes per message; these are the 10.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

import boto3

ATTR = "ipaas."
MAX_REASON = 900


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
                       source_arn: str) -> dict[str, dict]:
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
        f"{ATTR}failed_at": now,
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
