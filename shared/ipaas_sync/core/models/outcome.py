"""The result of handling one SQS record: what is logged (one JSON line) and counted."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

Status = Literal[
    "created", "updated", "linked", "sent", "duplicate", "skipped", "failed", "dead-lettered", "mismatch", "deferred", "retrying"
]


class Outcome(BaseModel):
    status: Status
    entity: str
    record_id: str | None = None
    destination: str | None = None
    platform: str | None = None
    external_id: str | None = None
    reason: str | None = None
    failure_kind: str | None = None
    tracking_guid: str | None = None
    details: dict[str, Any] | None = None
