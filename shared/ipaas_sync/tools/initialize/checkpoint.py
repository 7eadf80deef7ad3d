"""An initialization's checkpoint and lock in the ledger table: one run at a time, resumable."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from .paging import DEFAULT_LOCK_SECONDS, RUN_PK, RUN_TTL_DAYS

if TYPE_CHECKING:  # the boto3 service stubs are development packages (types only), never in the layer
    from mypy_boto3_dynamodb import DynamoDBServiceResource


# -- checkpoint and lock -----------------------------------------------------------------------------------
class LockHeld(ValueError):
    """Another run of the same (entity, destination) holds the lock."""


class LockLost(ValueError):
    """This run's lock was taken over (it had expired): stop without writing."""


@dataclass
class RunState:
    entity: str
    destination: str
    run_id: str
    owner: str
    status: str = "running"
    page: int = 1
    offset: int = 0
    page_size: int = 0  # the page size `page` and `offset` count in (0: not recorded, or the source decides)
    enqueued: int = 0
    filtered: int = 0
    outside_window: int = 0
    without_id: int = 0
    pages: int = 0
    sequence: int = 0
    since: str | None = None
    until: str | None = None
    limit: int | None = None
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    lock_expires_at: int = 0
    updated_at: str | None = None

    FIELDS = (
        "run_id",
        "owner",
        "status",
        "page",
        "offset",
        "page_size",
        "enqueued",
        "filtered",
        "outside_window",
        "without_id",
        "pages",
        "sequence",
        "since",
        "until",
        "limit",
        "started_at",
        "lock_expires_at",
        "updated_at",
    )
    TEXT_FIELDS = ("status", "since", "until", "started_at", "updated_at")  # besides run_id and owner
    # every other field is a number (a field added to FIELDS is one, unless it is named in TEXT_FIELDS)
    NUMBER_FIELDS: tuple[str, ...] = tuple(sorted(set(FIELDS) - {"run_id", "owner", *TEXT_FIELDS}, key=FIELDS.index))

    @classmethod
    def from_item(cls, entity: str, destination: str, item: Mapping[str, object]) -> RunState:
        """The run a ledger item keeps (Runs._put writes it; the resource Table reads its numbers as Decimal).
        A field absent from the item keeps its default; one of the wrong type is a ValueError naming it."""

        def wrong(name: str) -> ValueError:
            return ValueError(
                f"initialize run item {entity} -> {destination}: '{name}' is a "
                f"{type(item.get(name)).__name__}, not a {'number' if name in cls.NUMBER_FIELDS else 'text'}"
            )

        run_id, owner = item.get("run_id"), item.get("owner")
        if not isinstance(run_id, str):
            raise wrong("run_id")
        if not isinstance(owner, str):
            raise wrong("owner")
        state = cls(entity=entity, destination=destination, run_id=run_id, owner=owner)
        for name in cls.TEXT_FIELDS:
            if name in item:
                if not isinstance(item[name], str):
                    raise wrong(name)
                setattr(state, name, item[name])
        for name in cls.NUMBER_FIELDS:
            if name in item:
                value = item[name]
                if isinstance(value, bool) or not isinstance(value, Decimal | int):
                    raise wrong(name)
                setattr(state, name, int(value))
        return state


class Runs:
    """Initialize runs in the ledger table (boto3 resource Table: plain Python values)."""

    def __init__(self, table: str, *, lock_seconds: int | None = None, resource: DynamoDBServiceResource | None = None):
        import boto3

        self.table = (resource or boto3.resource("dynamodb")).Table(table)
        self.lock_seconds = lock_seconds or int(os.environ.get("INITIALIZE_LOCK_SECONDS") or DEFAULT_LOCK_SECONDS)

    @staticmethod
    def key(entity: str, destination: str) -> dict[str, str]:
        return {"pk": f"{RUN_PK}{entity}", "sk": str(destination)}

    def get(self, entity: str, destination: str) -> RunState | None:
        item = self.table.get_item(Key=self.key(entity, destination), ConsistentRead=True).get("Item")
        if not item:
            return None
        return RunState.from_item(entity, destination, item)

    def acquire(self, state: RunState, *, expect_run: str | None = None) -> None:
        """Take the lock for `state` (a new run, or `expect_run` continued); LockHeld names the holder."""
        free = "(NOT #s IN (:running, :handoff) OR lock_expires_at < :now)"
        values: dict[str, str | int] = {":running": "running", ":handoff": "handoff"}
        if expect_run is None:
            condition = f"attribute_not_exists(pk) OR {free}"
        else:
            condition, values[":run"] = f"run_id = :run AND {free}", expect_run
        try:
            self._put(state, condition, values)
        except _Conflict:
            held = self.get(state.entity, state.destination)
            if held and held.status in ("running", "handoff") and held.lock_expires_at >= time.time():
                raise LockHeld(holder(held)) from None
            raise LockHeld(
                f"initialize {state.entity} -> {state.destination}: the run changed meanwhile "
                "(another run started or resumed it); try again"
            ) from None

    def handoff_take(self, state: RunState, sequence: int) -> None:
        """A continuation invocation takes over from the invocation that handed the run off to it."""
        try:
            self._put(
                state,
                "run_id = :run AND #seq = :seq AND #s = :handoff",
                {":run": state.run_id, ":seq": sequence, ":handoff": "handoff"},
            )
        except _Conflict:
            raise LockLost(
                f"run {state.run_id} continuation {sequence} is not the current one (a repeated "
                "delivery, or the run was resumed elsewhere)"
            ) from None

    def handoff(self, state: RunState, owner: str) -> int:
        """Hand the run (still locked) to the next invocation; returns the sequence number it must present."""
        state.status, state.sequence = "handoff", state.sequence + 1
        self.save(state, owner)
        return state.sequence

    def save(self, state: RunState, owner: str) -> None:
        """Checkpoint (renews the lock), or change the status; only by the run's current owner."""
        try:
            self._put(state, "run_id = :run AND #o = :owner", {":run": state.run_id, ":owner": owner})
        except _Conflict:
            raise LockLost(
                f"run {state.run_id} of initialize {state.entity} -> {state.destination} is no longer "
                f"held by {owner} (its lock expired and another run took it)"
            ) from None

    def _put(self, state: RunState, condition: str, values: dict[str, str | int]) -> None:
        # attribute names that are DynamoDB reserved words go through placeholders
        from botocore.exceptions import ClientError

        now = int(time.time())
        state.lock_expires_at = now + self.lock_seconds if state.status in ("running", "handoff") else 0
        state.updated_at = datetime.now(UTC).isoformat(timespec="seconds")
        item = {
            **self.key(state.entity, state.destination),
            "kind": "initialize",
            "entity": state.entity,
            "destination": state.destination,
            "expires_at": now + RUN_TTL_DAYS * 86400,
            **{k: getattr(state, k) for k in RunState.FIELDS if getattr(state, k) is not None},
        }
        names = {n: a for n, a in (("#s", "status"), ("#o", "owner"), ("#seq", "sequence")) if n in condition}
        try:
            self.table.put_item(
                Item=item,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={":now": now, **values} if ":now" in condition else values,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise _Conflict() from None
            raise


class _Conflict(Exception):
    pass


def holder(state: RunState) -> str:
    until = datetime.fromtimestamp(state.lock_expires_at, UTC).isoformat(timespec="seconds")
    return (
        f"initialize {state.entity} -> {state.destination} is already running: run {state.run_id}, held by "
        f"{state.owner} since {state.started_at}, at page {state.page} ({state.enqueued} enqueued); its lock "
        f"expires at {until} unless renewed"
    )
