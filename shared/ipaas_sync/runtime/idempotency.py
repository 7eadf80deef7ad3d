"""Powertools idempotency on DynamoDB, keyed on the business identity of a transfer.

The identity is what makes two deliveries "the same transfer": destination, entity, record id and a
hash of the mapped payload (so a real update still goes through). Never the SQS messageId: a message
moved back from the DLQ gets a new one. The persistence layer is built once, here.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

REPLAYED = "_idempotent_replay"


def _mark_replayed(response: Any, idempotent_data: DataRecord) -> Any:
    """Powertools calls this only when it answers from the store: the transfer was already done."""
    if isinstance(response, dict):
        return {**response, REPLAYED: True}
    return response


config = IdempotencyConfig(
    expires_after_seconds=int(os.environ.get("IDEMPOTENCY_TTL_SECONDS", str(7 * 24 * 3600))),
    raise_on_no_idempotency_key=True,
    response_hook=_mark_replayed,
)

_persistence: DynamoDBPersistenceLayer | None = None
_lock = threading.Lock()
_once: Callable[..., Any] | None = None


def persistence() -> DynamoDBPersistenceLayer:
    """Built once per container, by the first transfer. Its client comes from boto3's default session, like every
    other client of ours: left to itself Powertools builds a session of its own, which loads botocore's models again
    (a cold container paid that once per thread of its first batch, several seconds in all under contention)."""
    global _persistence
    with _lock:
        if _persistence is None:
            _persistence = DynamoDBPersistenceLayer(
                table_name=os.environ["IDEMPOTENCY_TABLE"], boto3_client=boto3.client("dynamodb")
            )
    return _persistence


def payload_hash(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _call(identity: dict[str, Any], action: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    return action()


def run_once(identity: dict[str, Any], action: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], bool]:
    """Run `action` once per identity. Returns (result, replayed): replayed means it had already run."""
    global _once
    if _once is None:
        _once = idempotent_function(data_keyword_argument="identity", persistence_store=persistence(), config=config)(_call)
    result = _once(identity=identity, action=action)
    replayed = bool(result.pop(REPLAYED, False)) if isinstance(result, dict) else False
    return result, replayed


def register_lambda_context(context: LambdaContext) -> None:
    """So an in-progress lock expires with the invocation (after a Lambda timeout the retry can run)."""
    config.register_lambda_context(context)
