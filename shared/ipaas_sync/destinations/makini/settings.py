"""The Mintsoft-through-Makini subscription's settings: the shape of its secret."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
    SecretStr,
)

from ...core.settings import SubscriptionSettings


class MakiniSettings(SubscriptionSettings):
    """Mintsoft through Makini: one bearer token per connection; writes paced in batches (seed: 50-100
    records per batch with a delay between batches)."""

    platform: Literal["makini"] = Field(alias="Platform")
    api_url: str = Field(alias="API Url", default="https://api.makini.io", pattern=r"^https?://")
    api_token: SecretStr = Field(alias="API Token", min_length=1)
    company_key: str | None = Field(alias="Company Key", default=None)
    batch_size: int = Field(alias="Batch Size", default=50, ge=1, le=100)
    batch_delay_seconds: float = Field(alias="Batch Delay Seconds", default=1.0, ge=0, le=60)
    # Makini does not publish a rate limit: 100 calls per 60 seconds is our assumption (README), adjustable.
    api_throttle_limit: int = Field(alias="API Throttle Limit", default=100, gt=0)
    api_throttle_seconds: int = Field(alias="API Throttle Seconds", default=60, gt=0)
    # Mintsoft sales orders carry orders; returns only where the subscription's filter says so
    transaction_types: tuple[str, ...] = Field(alias="Transaction Types", default=("Order",))

    @property
    def company(self) -> str | None:
        return (self.company_key or "").strip() or None
