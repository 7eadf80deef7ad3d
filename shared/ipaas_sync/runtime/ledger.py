"""The transfer ledger: what happened to record X, per destination, in one DynamoDB table.

One item per (entity, record id, destination): pk = "<entity>#<record id>", sk = "<destination>". It holds the
latest outcome (status, reason, external id, attempt, tracking guid, time, the DLQ message id while parked)
and `history`, the last outcomes (oldest first, at most LEDGER_HISTORY, default 20). Items expire after
LEDGER_TTL_DAYS (default 90) without a new outcome (TTL attribute `expires_at`).

One write per outcome: a single UpdateItem appends to the history and sets the latest fields. DynamoDB cannot
append to a list and cut it in one expression (the two paths overlap), so once the history is HISTORY_SLACK
entries past its bound a second, conditional UpdateItem cuts it back: that happens once every HISTORY_SLACK
outcomes, and only for a record with more than LEDGER_HISTORY outcomes.

The ledger never fails or delays a transfer: the client has short timeouts and one retry, every error is
logged and counted (metric LedgerWriteFailures), the outcome stands, and after a failure the ledger is skipped
for BREAKER_SECONDS (record()). Any status string is accepted, so
a new outcome status needs no change here.

Initialize runs keep their checkpoint and lock in the same table under pk = "initialize#<entity>"
(tools/initialize/); `report` and `status` read outcome items only (kind = "outcome").

Both directions: an iPaaS.com record sent to a destination is keyed by its iPaaS.com id ("customer#42"); a
99minds record written into iPaaS.com by its 99minds id ("loyalty#transaction_a3c4..."), and its item also
names the iPaaS.com record it wrote (`ipaas_ref`, "transaction#<id>", from the outcome's `ipaas_entity` and
external id), which the sparse, keys-only index `by_ipaas_record` finds: so `status` answers by either id.

Commands: `ipaas-sync status --entity E --id ID [--destination D]` (an iPaaS.com id, any direction),
`ipaas-sync status --source 99minds --id ID` (a 99minds id) and `ipaas-sync report [--since 24h]`.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..core.models.outcome import Outcome
from ..core.observability import MetricUnit, logger, metrics, redact

if TYPE_CHECKING:  # the boto3 service stubs are development packages (types only), never in the layer
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, QueryInputTypeDef, ScanInputTypeDef

DEFAULT_TTL_DAYS = 90
DEFAULT_HISTORY = 20
HISTORY_SLACK = 5
MAX_REASON = 500  # characters of the latest reason kept (the DLQ keeps the full reason) ...
HISTORY_REASON = 160  # ... and of each history entry's (small entries: fewer write units)
UNKNOWN = "unknown"  # record id / destination of a message whose body could not be read
KIND_OUTCOME = "outcome"
BREAKER_SECONDS = 30.0
MIN_REMAINING_SECONDS = 2.0
# us-east-1 DynamoDB on-demand list price, standard table class (USD per million write request units), since
# the on-demand price cut of November 2024 (https://aws.amazon.com/dynamodb/pricing/on-demand/)
WRITE_PRICE_PER_MILLION_USD = 0.625
IPAAS_RECORD_INDEX = "by_ipaas_record"  # template.yaml TransferLedgerTable


def _env_int(name: str, default: int) -> int:
    try:
        return max(1, int(os.environ.get(name) or default))
    except ValueError:
        return default


def key(entity: str, record_id: str | None, destination: str | None) -> dict[str, str]:
    return {"pk": f"{entity}#{record_id or UNKNOWN}", "sk": str(destination or UNKNOWN)}


def _now() -> datetime:
    return datetime.now(UTC)


def entry_of(outcome: Outcome, at: datetime) -> dict[str, Any]:
    """One history entry: short attribute names keep the item (and so the write units) small."""
    details = outcome.details or {}
    entry: dict[str, Any] = {"s": outcome.status, "t": at.isoformat(timespec="seconds")}
    optional = {
        "r": redact(outcome.reason)[:HISTORY_REASON] if outcome.reason else None,
        "x": outcome.external_id,
        "g": outcome.tracking_guid,
        "k": outcome.failure_kind,
        "e": details.get("error"),
        "a": details.get("attempt"),
        "m": details.get("dlq_message_id"),
        "q": details.get("dlq"),
    }
    entry.update({k: v for k, v in optional.items() if v not in (None, "")})
    return entry


class Ledger:
    """The table adapter. `client` is a boto3 DynamoDB client (low-level, typed attribute values)."""

    def __init__(
        self, table: str, client: DynamoDBClient | None = None, *, ttl_days: int | None = None, history: int | None = None
    ):
        import boto3
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
        from botocore.config import Config

        self.table = table
        # short timeouts and one retry: a slow ledger never holds up a transfer
        self.client = client or boto3.client(
            "dynamodb", config=Config(connect_timeout=1, read_timeout=2, retries={"mode": "standard", "max_attempts": 2})
        )
        self.ttl_days = ttl_days or _env_int("LEDGER_TTL_DAYS", DEFAULT_TTL_DAYS)
        self.history = history or _env_int("LEDGER_HISTORY", DEFAULT_HISTORY)
        self._ser, self._de = TypeSerializer(), TypeDeserializer()
        self.open_until = 0.0  # monotonic time until which record() skips this ledger (after a failure)

    # -- writing -------------------------------------------------------------------------------------------
    def write(self, outcome: Outcome, at: datetime | None = None) -> int:
        """Record one outcome; returns how many UpdateItem calls it took (1, or 2 when the history was cut)."""
        at = at or _now()
        entry = entry_of(outcome, at)
        latest = latest_fields(outcome, entry, at, self.ttl_days)
        sets, removes = ["history = list_append(if_not_exists(history, :empty), :entry)"], []
        names: dict[str, str] = {}
        values: dict[str, AttributeValueTypeDef] = {
            ":empty": {"L": []},
            ":entry": {"L": [self._ser.serialize(entry)]},
            ":one": {"N": "1"},
        }
        for n, (name, value) in enumerate(latest.items()):
            names[f"#a{n}"] = name
            if value is None:
                removes.append(f"#a{n}")  # the latest outcome's fields only: no stale reason or DLQ id
            else:
                sets.append(f"#a{n} = :v{n}")
                values[f":v{n}"] = self._ser.serialize(value)
        if outcome.external_id:  # the last known external id is kept across later outcomes
            names["#x"], values[":x"] = "external_id", {"S": outcome.external_id}
            sets.append("#x = :x")
        if outcome.platform:
            names["#p"], values[":p"] = "platform", {"S": outcome.platform}
            sets.append("#p = :p")
        if ipaas_entity := (outcome.details or {}).get("ipaas_entity"):  # kept across later outcomes, like external_id
            if outcome.external_id:
                names["#i"], values[":i"] = "ipaas_ref", {"S": key(ipaas_entity, outcome.external_id, None)["pk"]}
                sets.append("#i = :i")
        expression = "SET " + ", ".join(sets) + " ADD outcomes :one" + (" REMOVE " + ", ".join(removes) if removes else "")
        reply = self.client.update_item(
            TableName=self.table,
            Key={k: {"S": v} for k, v in key(outcome.entity, outcome.record_id, outcome.destination).items()},
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="UPDATED_NEW",
        )
        size = len(reply.get("Attributes", {}).get("history", {}).get("L", []))
        if size <= self.history + HISTORY_SLACK:
            return 1
        self._cut(outcome, size)
        return 2

    def _cut(self, outcome: Outcome, size: int) -> None:
        """Drop the oldest entries down to the bound, only if nobody appended meanwhile (else the next cut)."""
        from botocore.exceptions import ClientError

        drop = ", ".join(f"history[{i}]" for i in range(size - self.history))
        try:
            self.client.update_item(
                TableName=self.table,
                Key={k: {"S": v} for k, v in key(outcome.entity, outcome.record_id, outcome.destination).items()},
                UpdateExpression=f"REMOVE {drop}",
                ConditionExpression="size(history) = :n",
                ExpressionAttributeValues={":n": {"N": str(size)}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise

    # -- reading -------------------------------------------------------------------------------------------
    def _plain(self, item: dict[str, Any]) -> dict[str, Any]:
        return {k: _numbers(self._de.deserialize(v)) for k, v in item.items()}

    def items(self, entity: str, record_id: str, destination: str | None = None) -> list[dict[str, Any]]:
        """The ledger items of one record: one per destination (or the named one)."""
        k = key(entity, record_id, destination)
        if destination:
            found = self.client.get_item(TableName=self.table, Key={n: {"S": v} for n, v in k.items()}, ConsistentRead=True).get(
                "Item"
            )
            return [self._plain(found)] if found else []
        out: list[dict[str, Any]] = []
        request: QueryInputTypeDef = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": k["pk"]}},
            "ConsistentRead": True,
        }
        while True:
            page = self.client.query(**request)
            out += [self._plain(i) for i in page.get("Items", [])]
            start = page.get("LastEvaluatedKey")
            if not start:
                return out
            request["ExclusiveStartKey"] = start

    def items_by_ipaas_record(self, entity: str, record_id: str, destination: str | None = None) -> list[dict[str, Any]]:
        """The items of the records written into this iPaaS.com record (the 99minds -> iPaaS.com direction)."""
        request: QueryInputTypeDef = {
            "TableName": self.table,
            "IndexName": IPAAS_RECORD_INDEX,
            "KeyConditionExpression": "ipaas_ref = :r",
            "ExpressionAttributeValues": {":r": {"S": key(entity, record_id, None)["pk"]}},
        }
        out: list[dict[str, Any]] = []
        for _ in range(100):  # bounded: 100 pages of keys
            page = self.client.query(**request)
            for keys in page.get("Items", []):
                if destination and keys["sk"].get("S") != destination:
                    continue
                found = self.client.get_item(TableName=self.table, Key={"pk": keys["pk"], "sk": keys["sk"]}).get("Item")
                if found:
                    out.append(self._plain(found))
            start = page.get("LastEvaluatedKey")
            if not start:
                break
            request["ExclusiveStartKey"] = start
        return out

    def scan(self, since_epoch: int, destination: str | None = None, limit: int = 1_000_000) -> Iterator[dict[str, Any]]:
        """Outcome items whose latest outcome is at or after `since_epoch` (a full table Scan: an operator
        command, its read cost is one read unit per 4 KB of table)."""
        values: dict[str, AttributeValueTypeDef] = {":k": {"S": KIND_OUTCOME}, ":since": {"N": str(since_epoch)}}
        expression = "kind = :k AND at_epoch >= :since"
        if destination:
            values[":d"] = {"S": destination}
            expression += " AND destination = :d"
        request: ScanInputTypeDef = {"TableName": self.table, "FilterExpression": expression, "ExpressionAttributeValues": values}
        seen = 0
        while seen < limit:
            page = self.client.scan(**request)
            for item in page.get("Items", []):
                seen += 1
                yield self._plain(item)
            start = page.get("LastEvaluatedKey")
            if not start:
                return
            request["ExclusiveStartKey"] = start


def _numbers(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    return value


# -- the handlers' side: one write per outcome, never failing the transfer ---------------------------------
_default: tuple[tuple[str | None, ...], Ledger | None] | None = None
_default_lock = threading.Lock()


def default_ledger() -> Ledger | None:
    """The deployment's ledger (LEDGER_TABLE), built once per container; None when no table is configured."""
    global _default
    env = tuple(os.environ.get(v) for v in ("LEDGER_TABLE", "LEDGER_TTL_DAYS", "LEDGER_HISTORY", "AWS_ENDPOINT_URL"))
    with _default_lock:
        if _default is None or _default[0] != env:
            _default = (env, Ledger(env[0]) if env[0] else None)
        return _default[1]


def kept(outcome: Outcome) -> bool:
    """Whether an outcome is written: all but a record's second and later deferrals (during a backlog a record can
    be deferred more than once; its first deferral already says it is waiting for its slot, and the TransfersDeferred
    metric counts every one). processing._record logs the same ones only (the others at DEBUG)."""
    details = outcome.details or {}
    # a hop toward a retry's due time is not written either: the ledger keeps saying "retrying, next try at ..."
    return not (outcome.status == "deferred" and (int(details.get("deferrals") or 1) > 1 or details.get("retrying")))


def record(outcome: Outcome) -> None:
    """Write one outcome to the ledger. Any failure is logged and counted, never raised.

    Never a delay either: after a failed write the ledger is skipped for BREAKER_SECONDS (each skipped outcome
    counted), so an unreachable table costs one write's timeout per container and window, not one per record;
    and no write is tried when the invocation has less than MIN_REMAINING_SECONDS left."""
    from ..platform import deadline

    ledger = None
    if not kept(outcome):
        return
    try:
        ledger = default_ledger()
        if ledger is None:
            return
        if ledger.open_until > time.monotonic() or deadline.remaining() < MIN_REMAINING_SECONDS:
            metrics.add_metric(name="LedgerWriteFailures", unit=MetricUnit.Count, value=1)
            return
        ledger.write(outcome)
    except Exception as exc:  # noqa: BLE001 - the ledger is a record of transfers, never a reason to fail one
        if ledger is not None:
            ledger.open_until = time.monotonic() + BREAKER_SECONDS
        logger.warning(
            f"ledger write failed ({type(exc).__name__}); the transfer outcome stands, and the ledger "
            f"is skipped for {BREAKER_SECONDS:.0f}s",
            extra={"ledger_error": redact(str(exc))[:300], "status": outcome.status},
        )
        metrics.add_metric(name="LedgerWriteFailures", unit=MetricUnit.Count, value=1)


# -- write units and cost (for the benchmark and the docs) -------------------------------------------------
def _size(value: Any) -> int:
    """DynamoDB's item size rules (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/
    CapacityUnitCalculations.html): strings by UTF-8 bytes, numbers ~1 byte per two digits + 1, lists and
    maps 3 bytes + 1 per element + their contents, names count as their UTF-8 bytes."""
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, (int, float, Decimal)):
        return len(str(value).lstrip("-").replace(".", "")) // 2 + 2
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, list):
        return 3 + sum(1 + _size(v) for v in value)
    if isinstance(value, dict):
        return 3 + sum(1 + len(k.encode()) + _size(v) for k, v in value.items())
    return len(str(value).encode())


def latest_fields(outcome: Outcome, entry: dict[str, Any], at: datetime, ttl_days: int) -> dict[str, Any]:
    """The item's fields that always describe the latest outcome (None: the field is removed, so no stale reason
    or DLQ id stays); the one definition for the write and for its size in write_units."""
    return {
        "kind": KIND_OUTCOME,
        "entity": outcome.entity,
        "record_id": outcome.record_id or UNKNOWN,
        "destination": outcome.destination or UNKNOWN,
        "status": outcome.status,
        "at": entry["t"],
        "at_epoch": int(at.timestamp()),
        "expires_at": int(at.timestamp()) + ttl_days * 86400,
        "reason": redact(outcome.reason)[:MAX_REASON] if outcome.reason else None,
        "attempt": entry.get("a"),
        "tracking_guid": entry.get("g"),
        "failure_kind": entry.get("k"),
        "error": entry.get("e"),
        "dlq_message_id": entry.get("m"),
        "dlq": entry.get("q"),
    }


def item_size(item: dict[str, Any]) -> int:
    return sum(len(k.encode()) + _size(v) for k, v in item.items())


def write_units(outcomes: Iterable[Outcome], *, history: int = DEFAULT_HISTORY) -> int:
    """Write request units the ledger spends on one record's outcomes, in order (on-demand: an UpdateItem costs
    one unit per started KB of the larger of the item before and after; the history cut is one more write)."""
    item: dict[str, Any] = {}
    units = 0
    at = datetime(2026, 1, 1, tzinfo=UTC)
    for outcome in filter(kept, outcomes):
        before = item_size(item) if item else 0
        entry = entry_of(outcome, at)
        hist = [*item.get("history", []), entry]
        k = key(outcome.entity, outcome.record_id, outcome.destination)
        item = {
            **k,
            **{n: v for n, v in latest_fields(outcome, entry, at, DEFAULT_TTL_DAYS).items() if v is not None},
            "outcomes": int(item.get("outcomes", 0)) + 1,
            "history": hist,
            **(
                {"external_id": outcome.external_id or item.get("external_id")}
                if outcome.external_id or item.get("external_id")
                else {}
            ),
        }
        units += max(1, math.ceil(max(before, item_size(item)) / 1024))
        if len(hist) > history + HISTORY_SLACK:
            before = item_size(item)
            item["history"] = hist[len(hist) - history :]
            units += max(1, math.ceil(before / 1024))
    return units


def cost_per_million_transfers(
    outcomes_per_transfer: Iterable[Outcome], price_per_million_writes: float = WRITE_PRICE_PER_MILLION_USD
) -> dict[str, float]:
    """The ledger's write cost of a million transfers that each produce `outcomes_per_transfer` (USD, writes
    only: storage and the operator's reads are extra). For the benchmark: pass a transfer's outcomes."""
    units = write_units(outcomes_per_transfer)
    return {
        "write_units_per_transfer": units,
        "usd_per_million_transfers": units * price_per_million_writes,
        "price_per_million_write_units_usd": price_per_million_writes,
    }
