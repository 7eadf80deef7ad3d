"""Markers for side effects that must happen once at the destination (gift card money).

Why (reference, AWS facts; powertools issue 8049): idempotency alone does not cover an uncertain outcome.
When a request left but its answer was lost (read timeout, broken reply, a Lambda timeout after the
partner applied it), the idempotency record is released and the retry runs the action again. So before a
non-idempotent write we record what the destination looked like ("pending", with the card balance seen
just before), and after it answered we record "applied". A retry that finds a pending marker checks the
destination for proof before writing again (destinations/ninetynine_minds/transfer/giftcard.py,
destinations/ninetynine_minds/mapping/giftcard.py judge_history).

Markers live in the idempotency table under their own key prefix (`pending#...`, same TTL attribute
`expiration`), so they need no new table and no new IAM actions (GetItem, PutItem, UpdateItem,
DeleteItem).
This is the one storage interface for them. A marker is cleared only when the destination answered with
a refusal (4xx: nothing was applied); otherwise it stays until its TTL.

A request whose answer we gave up on may still be in flight: 99minds can apply it after our read timeout.
A balance read during that time says "not applied", and a retry would then apply it a second time. So a
pending marker younger than IN_FLIGHT_SECONDS (the apply window) is not judged at all (the delivery is deferred back
to its queue until the window has passed); only an older one is judged from the card.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import boto3

from ..platform.throttle import mark_written
from .idempotency import payload_hash

if TYPE_CHECKING:  # the boto3 service stubs are development packages (types only), never in the layer
    from mypy_boto3_dynamodb import DynamoDBClient

PREFIX = "pending#"
PENDING, APPLIED = "pending", "applied"

# The apply window: how long after a request left 99minds may still apply it, or its card history may still not list
# it. NOT published: a setting (GIFTCARD_APPLY_WINDOW_SECONDS, the template's GiftCardApplyWindowSeconds), 120 s by
# default, well past our read timeout (http.READ_TIMEOUT, 10 s) and the function timeout (30 s). A delivery that finds
# a pending marker younger than this does not judge the card at all: it is deferred back to its queue until the window
# has passed (destinations/ninetynine_minds/transfer/giftcard.py), never slept out in a Lambda.
DEFAULT_APPLY_WINDOW_SECONDS = 120.0
IN_FLIGHT_SECONDS = float(os.environ.get("GIFTCARD_APPLY_WINDOW_SECONDS") or DEFAULT_APPLY_WINDOW_SECONDS)
SQS_MAX_RETENTION_SECONDS = 14 * 24 * 3600  # AWS: the longest a queue (here: a DLQ) keeps a message


@dataclass(frozen=True)
class Marker:
    state: str
    operation: str
    before: Decimal | None = None
    after: Decimal | None = None
    card_id: str | None = None
    started_at: float | None = None

    def age(self, now: float | None = None) -> float | None:
        return None if self.started_at is None else (time.time() if now is None else now) - self.started_at

    def window_ends(self) -> float | None:
        """When the apply window of its request ends (epoch seconds)."""
        return None if self.started_at is None else self.started_at + IN_FLIGHT_SECONDS

    def in_flight(self, now: float | None = None) -> bool:
        """Pending, and its request left less than IN_FLIGHT_SECONDS ago: 99minds may still apply it."""
        age = self.age(now)
        return self.state == PENDING and age is not None and age < IN_FLIGHT_SECONDS


class PendingJournal:
    def __init__(self, table_name: str, *, client: DynamoDBClient | None = None, ttl_seconds: int | None = None):
        self.table_name = table_name
        self._ddb = client or boto3.client("dynamodb")
        # outlive the idempotency record it guards (IDEMPOTENCY_TTL_SECONDS, 7 days by default) and every message that
        # may still bring the write back: SQS keeps a message at most 14 days, and each delivery that finds the marker
        # refreshes it (touch), so a message replayed from a DLQ never finds its marker expired and applies again
        idempotency_ttl = int(os.environ.get("IDEMPOTENCY_TTL_SECONDS", str(7 * 24 * 3600)))
        self.ttl_seconds = ttl_seconds or max(idempotency_ttl, SQS_MAX_RETENTION_SECONDS) + 86400

    @staticmethod
    def key(identity: dict[str, Any]) -> str:
        return PREFIX + payload_hash(identity)

    def get(self, key: str) -> Marker | None:
        item = self._ddb.get_item(TableName=self.table_name, Key={"id": {"S": key}}, ConsistentRead=True).get("Item")
        if not item:
            return None
        text = {k: v["S"] for k, v in item.items() if "S" in v}
        return Marker(
            state=text.get("state", PENDING),
            operation=text.get("operation", "?"),
            before=Decimal(text["before"]) if text.get("before") else None,
            after=Decimal(text["after"]) if text.get("after") else None,
            card_id=text.get("card_id"),
            started_at=float(item["started_at"]["N"]) if "started_at" in item else None,
        )

    def begin(self, key: str, *, operation: str, card: str, before: Decimal | None) -> None:
        """Written right before the request leaves: from here on its outcome is uncertain until `applied`."""
        mark_written()  # the record's transfer must not be deferred from here on
        now = time.time()
        item = {
            "id": {"S": key},
            "state": {"S": PENDING},
            "operation": {"S": operation},
            "card": {"S": card},
            "started_at": {"N": f"{now:.3f}"},
            "expiration": {"N": str(int(now) + self.ttl_seconds)},
        }
        if before is not None:
            item["before"] = {"S": str(before)}
        self._ddb.put_item(TableName=self.table_name, Item=item)

    def applied(self, key: str, *, after: Decimal | None, card_id: str | None) -> None:
        """Written once the destination answered: a retry needs no check at the destination."""
        names, values, sets = {"#s": "state"}, {":s": {"S": APPLIED}}, ["#s = :s"]
        if after is not None:
            names["#a"], values[":a"] = "after", {"S": str(after)}
            sets.append("#a = :a")
        if card_id:
            names["#c"], values[":c"] = "card_id", {"S": card_id}
            sets.append("#c = :c")
        self._ddb.update_item(
            TableName=self.table_name,
            Key={"id": {"S": key}},
            UpdateExpression="SET " + ", ".join(sets),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def touch(self, key: str) -> None:
        """Push the marker's expiry out again: a delivery found it, so more may come (retries, DLQ replays)."""
        try:
            self._ddb.update_item(
                TableName=self.table_name,
                Key={"id": {"S": key}},
                UpdateExpression="SET #e = :e",
                ConditionExpression="attribute_exists(id)",
                ExpressionAttributeNames={"#e": "expiration"},
                ExpressionAttributeValues={":e": {"N": str(int(time.time()) + self.ttl_seconds)}},
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            pass  # cleared meanwhile (a refusal): nothing to keep, and never re-created without its state

    def clear(self, key: str) -> None:
        """The destination refused the request (it answered 4xx): nothing was applied, nothing is pending."""
        self._ddb.delete_item(TableName=self.table_name, Key={"id": {"S": key}})


_journal: PendingJournal | None = None


def default_journal() -> PendingJournal:
    """The journal on IDEMPOTENCY_TABLE, built once per container."""
    global _journal
    table = os.environ["IDEMPOTENCY_TABLE"]
    if _journal is None or _journal.table_name != table:
        _journal = PendingJournal(table)
    return _journal
