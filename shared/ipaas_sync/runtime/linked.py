"""Create-or-update through the iPaaS.com external-id link, exactly once per business identity.

The link decides: linked -> update that destination record; not linked -> create it, then write the new
id back to iPaaS.com. A create may find the record already in the destination (e.g. Makini, by code,
after a create whose reply was lost): it returns Found, and that id is linked (outcome "linked").
The destination write runs under Powertools idempotency keyed on
(destination, entity, record id, payload hash); the write-back runs after it and is repeated after a
replay too (UpdateExternalId is idempotent), so a failure between the create and the write-back is
healed by the redelivery without creating twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..core.models.notification import TransferMessage
from ..core.models.outcome import Outcome
from ..core.settings import SubscriptionSettings
from .env import TransferEnv
from .idempotency import payload_hash, run_once


@dataclass(frozen=True)
class Found:
    """What create() returns when the record already exists in the destination: link it, create nothing."""

    external_id: str


def upsert_linked(
    *,
    env: TransferEnv,
    sub: SubscriptionSettings,
    msg: TransferMessage,
    table: str,
    payload: dict[str, Any],
    create: Callable[[], str | Found],
    update: Callable[[str], str],
) -> Outcome:
    ipaas = env.ipaas(sub)
    identity = {
        "destination": sub.system_id,
        "platform": sub.platform,
        "entity": msg.entity,
        "record_id": msg.id,
        "payload": payload_hash(payload),
    }

    def write() -> dict[str, Any]:
        linked = ipaas.lookup_external(msg.entity, msg.id, table)
        if linked:
            return {"action": "updated", "external_id": update(linked)}
        created = create()
        if isinstance(created, Found):
            return {"action": "linked", "external_id": created.external_id}
        return {"action": "created", "external_id": created}

    result, replayed = run_once(identity, write)
    if result["action"] in ("created", "linked"):
        ipaas.update_external_id(msg.entity, table, msg.id, result["external_id"], msg.tracking_guid)
    return Outcome(
        status="duplicate" if replayed else result["action"],
        entity=msg.entity,
        record_id=msg.id,
        destination=sub.system_id,
        platform=sub.platform,
        external_id=result["external_id"],
        reason="already transferred with the same content"
        if replayed
        else ("already in the destination; linked, nothing created" if result["action"] == "linked" else None),
    )
