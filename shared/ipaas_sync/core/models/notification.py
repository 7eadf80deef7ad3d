"""The message contract: one iPaaS.com hook notification per SQS message.

The same model validates notifications at the hook ingress and in every transfer handler.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .retry import RetryHistory

Entity = Literal["customer", "transaction", "giftcard"]
ENTITIES: tuple[str, ...] = ("customer", "transaction", "giftcard")
# "initialize": the INITIALIZE scope action (an initialization or backfill, `ipaas-sync initialize`); every
# handler treats it like created/updated (create or update by the link, unchanged ends as duplicate)
VERBS: tuple[str, ...] = ("created", "updated", "deleted", "initialize")


class HookNotification(BaseModel):
    """One notification of an iPaaS.com hook request (see iPaaS WebhookRequest)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, coerce_numbers_to_str=True)

    scope: str = Field(min_length=3, description="e.g. customer/created")
    id: str = Field(min_length=1, description="the iPaaS.com record id")
    destination: str = Field(min_length=1, description="the subscription (external system) id")
    tracking_guid: str | None = None
    external_id: str | None = None
    action: str | None = None
    type: str | None = None

    @field_validator("scope")
    @classmethod
    def _known_scope(cls, value: str) -> str:
        entity, _, verb = value.lower().partition("/")
        if entity not in ENTITIES or verb not in VERBS:
            raise ValueError(f"unsupported scope '{value[:60]}'; expected <{'|'.join(ENTITIES)}>/<{'|'.join(VERBS)}>")
        return f"{entity}/{verb}"

    @property
    def entity(self) -> str:
        return self.scope.split("/", 1)[0]

    @property
    def verb(self) -> str:
        return self.scope.split("/", 1)[1]

    def describe(self) -> str:
        return f"{self.entity} {self.id}"


class TransferMessage(HookNotification):
    """The SQS message body: a notification, optionally with an inline record snapshot.

    With `record` the handler transfers that snapshot (tests, manual syncs, replays); without it the
    handler fetches the record from the iPaaS.com API.
    """

    record: dict[str, Any] | None = None
    # set when the shared rate limit deferred the message (runtime/processing.py): when its slot comes, and how often
    # finite and non-negative: a deferral's delay is computed from them (an infinite one could never be sent back)
    deferred_until: float | None = Field(default=None, allow_inf_nan=False)
    deferrals: int = Field(default=0, ge=0)
    # set while it is retried after transient failures or held back by an open circuit (runtime/retry.py)
    retry: RetryHistory | None = None


class HookRequest(BaseModel):
    """The body iPaaS.com posts to a hook endpoint."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    id: str | None = None
    attempt: int | None = None
    notifications: list[HookNotification] = Field(min_length=1)
