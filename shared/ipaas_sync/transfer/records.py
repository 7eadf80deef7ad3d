"""Getting the iPaaS.com record a notification names: the inline snapshot, else the iPaaS.com API."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import ValidationError

from ..errors import InvalidRecord, Skip, describe_validation_error
from ..models.ipaas import IpaasRecord
from ..models.notification import TransferMessage
from ..models.outcome import Outcome
from ..settings import SubscriptionSettings
from .env import TransferEnv

R = TypeVar("R", bound=IpaasRecord)
# A destination's transfer of one record: (record, message, settings, env) -> Outcome. Its settings are its
# platform's own model (settings.SETTINGS_BY_PLATFORM), which one table of destinations cannot say per entry (so
# Any): dispatch routes on sub.platform, and the registry parsed sub with that platform's model.
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
    destinations: Mapping[str, Destination[R]],
    model: type[R],
    *,
    noun: str,
    delete_reason: str | None = None,
    check: Callable[[R, SubscriptionSettings], str | None] | None = None,
) -> Outcome:
    """The one route of every entity: subscription -> (skip deletes) -> its destination -> record -> transfer.

    `delete_reason` may name {platform}. `check` may return a reason to skip the record deliberately
    (e.g. the transaction mapping filter).
    """
    sub = env.subscription(msg.destination)
    if msg.verb == "deleted":
        default = f"{noun} deletes are not transferred to {{platform}} (its published API has no {noun} delete)"
        raise Skip((delete_reason or default).format(platform=sub.platform))
    to_destination = destinations.get(sub.platform)
    if to_destination is None:
        raise Skip(f"{noun}s are not transferred to {sub.platform}")
    record = load_record(msg, env, sub, model)
    if check is not None and (reason := check(record, sub)) is not None:
        raise Skip(reason)
    return to_destination(record, msg, sub, env)
