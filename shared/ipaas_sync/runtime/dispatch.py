"""Getting the iPaaS.com record a notification names: the inline snapshot, else the iPaaS.com API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import ValidationError

from ..core.errors import InvalidRecord, Skip, describe_validation_error
from ..core.models.ipaas import IpaasRecord
from ..core.models.notification import TransferMessage
from ..core.models.outcome import Outcome
from ..core.settings import SubscriptionSettings
from ..destinations import by_platform
from .env import TransferEnv

R = TypeVar("R", bound=IpaasRecord)
# A destination's transfer of one record: (record, message, settings, env) -> Outcome, the `transfer` function of
# destinations/<package>/transfer/<entity>.py that the registry names. Its settings are its platform's own model,
# which one signature for every destination cannot say (so Any): dispatch routes on sub.platform, and the
# subscription registry parsed sub with that platform's model.
Destination = Callable[[R, TransferMessage, Any, TransferEnv], Outcome]


def load_record(msg: TransferMessage, env: TransferEnv, sub: SubscriptionSettings, model: type[R]) -> R:
    raw = msg.record if msg.record is not None else env.ipaas(sub).get_record(msg.entity, msg.id)
    if "id" not in raw or raw.get("id") in (None, ""):
        raw = {**raw, "id": msg.id}
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise InvalidRecord(describe_validation_error(exc, f"{msg.entity} {msg.id}")) from None


def dispatch(
    msg: TransferMessage,
    env: TransferEnv,
    entity: str,
    model: type[R],
    *,
    noun: str,
    delete_reason: str | None = None,
    check: Callable[[R, SubscriptionSettings], str | None] | None = None,
) -> Outcome:
    """The one route of every entity: subscription -> (skip deletes) -> its destination's transfer of `entity` (the
    registry's) -> record -> transfer.

    `delete_reason` may name {platform}. `check` may return a reason to skip the record deliberately
    (e.g. the transaction mapping filter).
    """
    sub = env.subscription(msg.destination)
    if msg.verb == "deleted":
        default = f"{noun} deletes are not transferred to {{platform}} (its published API has no {noun} delete)"
        raise Skip((delete_reason or default).format(platform=sub.platform))
    to_destination: Destination[R] | None = by_platform(sub.platform).transfer(entity)
    if to_destination is None:
        raise Skip(f"{noun}s are not transferred to {sub.platform}")
    record = load_record(msg, env, sub, model)
    if check is not None and (reason := check(record, sub)) is not None:
        raise Skip(reason)
    return to_destination(record, msg, sub, env)
