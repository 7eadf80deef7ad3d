"""The message contract of the 99minds -> iPaaS.com direction: one 99minds change per SQS message.

A 99minds webhook carries identity only (as iPaaS.com's own hooks do): which record changed, and how. The
handler fetches the record from 99minds. The hook ingress (`POST /hooks/99minds/{iPaaS System Id}`) and
`ipaas-sync sync --source 99minds` (manual sync) and `ipaas-sync initialize --source 99minds` put the same
message on the queue (sync_99minds.message_body).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .retry import RetryHistory

# the queue's entity (runtime/processing.py checks a message reached the queue of its entity; metrics dimension)
ENTITY = "loyalty"
KINDS = ("loyalty_transaction", "customer")
MANUAL_SYNC_EVENT = "manual_sync"


class InboundMessage(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, coerce_numbers_to_str=True)

    source: Literal["99minds"] = "99minds"
    kind: Literal["loyalty_transaction", "customer"]
    id: str = Field(min_length=1, max_length=200, description="the 99minds id, e.g. transaction_a3c44bd1f3bf8b1c2f")
    destination: str = Field(min_length=1, description="the iPaaS System Id of the 99minds subscription")
    event: str = Field(min_length=1, max_length=200, description="the webhook's event name, or manual_sync")
    tracking_guid: str | None = None
    # set when the shared rate limit deferred the message (runtime/processing.py), as on TransferMessage
    deferred_until: float | None = Field(default=None, allow_inf_nan=False)  # as TransferMessage's
    deferrals: int = Field(default=0, ge=0)
    # set while it is retried after transient failures or held back by an open circuit (runtime/retry.py)
    retry: RetryHistory | None = None

    @property
    def entity(self) -> str:
        return ENTITY

    @property
    def scope(self) -> str:
        return f"{self.kind}:{self.event}"

    @property
    def deleted(self) -> bool:
        return self.event.lower().rstrip("/").endswith(("deleted", "delete", "removed"))

    def describe(self) -> str:
        return f"99minds {self.kind.replace('_', ' ')} {self.id}"
