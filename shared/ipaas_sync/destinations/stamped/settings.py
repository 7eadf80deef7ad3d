"""The Stamped.io subscription's settings: the shape of its secret."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
    SecretStr,
    model_validator,
)

from ...core.settings import SubscriptionSettings


class StampedSettings(SubscriptionSettings):
    """Stamped.io: HTTP Basic auth (public key, private key), the store hash in every path.

    The seed's subscription also presents API User / API Password, duplicates of the two keys slated to be
    consolidated: they are accepted, and when set they must equal the keys (a clear configuration error
    names both settings otherwise; no value is ever echoed).
    """

    platform: Literal["stamped"] = Field(alias="Platform")
    api_url: str = Field(alias="API Url", default="https://stamped.io", pattern=r"^https?://")
    api_public_key: str = Field(alias="API Public Key", min_length=1)
    api_private_key: SecretStr = Field(alias="API Private Key", min_length=1)
    api_store_hash: str = Field(alias="API Store Hash", min_length=1, pattern=r"^[A-Za-z0-9_-]+$")
    api_user: str | None = Field(alias="API User", default=None)
    api_password: SecretStr | None = Field(alias="API Password", default=None)
    # seed: 500 calls per 60 seconds each way (the iPaaS.com pair defaults to 500 / 60 for every platform)
    api_throttle_limit: int = Field(alias="API Throttle Limit", default=500, gt=0)
    api_throttle_seconds: int = Field(alias="API Throttle Seconds", default=60, gt=0)

    @model_validator(mode="after")
    def _duplicates_match_the_keys(self) -> StampedSettings:
        if self.api_user and self.api_user.strip() and self.api_user.strip() != self.api_public_key.strip():
            raise ValueError(
                "setting 'API User' differs from 'API Public Key'; it duplicates it: enter the same "
                "value in both (or leave 'API User' empty)"
            )
        password = self.api_password.get_secret_value().strip() if self.api_password else ""
        if password and password != self.api_private_key.get_secret_value().strip():
            raise ValueError(
                "setting 'API Password' differs from 'API Private Key'; it duplicates it: enter the "
                "same value in both (or leave 'API Password' empty)"
            )
        return self
