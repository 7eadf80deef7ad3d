"""Getting the iPaaS.com record a notification names: the inline snapshot, else the iPaaS.com API."""
from __future__ import annotations

from typing import TypeVar

from pydantic import ValidationError

from ..errors import InvalidRecord, describe_validation_error
from ..models.ipaas import IpaasRecord
from ..models.notification import TransferMessage
from ..settings import SubscriptionSettings
from .env import TransferEnv

R = TypeVar("R", bound=IpaasRecord)


def load_record(msg: TransferMessage, env: TransferEnv, sub: SubscriptionSettings, model: type[R]) -> R:
    raw = msg.record if msg.record is not None else env.ipaas(sub).get_record(msg.entity, msg.id)
    if "id" not in raw or raw.get("id") in (None, ""):
        raw = {**raw, "id": msg.id}
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise InvalidRecord(describe_validation_error(exc, f"{msg.entity} {msg.id}")) from None
