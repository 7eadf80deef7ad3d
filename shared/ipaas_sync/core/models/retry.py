"""The retry history that travels with a record in its message body while it is retried (runtime/retry.py)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RetryHistory(BaseModel):
    """What travels with a record in its message body (`retry`) while it is retried: bounded (a few hundred bytes
    plus two reasons of at most MAX_REASON characters)."""

    model_config = ConfigDict(extra="ignore")

    attempts: int = Field(default=0, ge=0)  # transient failures of a call to the destination (tries that failed)
    waits: int = Field(default=0, ge=0)  # times it was held back by an open circuit, without a call
    first_at: float  # first failure or wait (epoch seconds): the window counts from here
    last_at: float  # latest failure or wait
    due: float  # the next try (epoch seconds)
    first_reason: str = ""
    last_reason: str = ""
    errors: dict[str, int] = Field(default_factory=dict)  # error class -> failures (at most MAX_ERROR_CLASSES + other)
