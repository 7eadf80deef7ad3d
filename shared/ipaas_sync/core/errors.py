"""Failure classes and the single place where any exception is classified.

Three kinds, each with one consequence (see runtime/processing.py):
    transient      -> retried on the retry schedule (runtime/retry.py: sent back to its queue with a growing delay
                      and its history); moved to the DLQ with that history once the retry window is spent
                      (runtime/processing.py says what happens to a body that is no message)
    permanent      -> moved to the DLQ at once with the reason as message attributes
    configuration  -> moved to the DLQ at once, and counted by the ConfigurationErrors metric that alarms
A deliberate skip (Skip) is not a failure: it is logged and counted, and the message is deleted.
"""

from __future__ import annotations

from typing import Literal

import requests
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyPersistenceLayerError
from pydantic import ValidationError

FailureKind = Literal["transient", "permanent", "configuration"]


class TransferError(Exception):
    """Base of every failure we raise on purpose. The message must name the record and the field."""

    kind: FailureKind = "transient"

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class TransientError(TransferError):
    kind: FailureKind = "transient"


class PermanentError(TransferError):
    kind: FailureKind = "permanent"


class InvalidRecord(PermanentError):
    """The iPaaS.com record (or the message) cannot be transferred as it is."""


class ConflictError(PermanentError):
    """The same business identity arrived again with different content where a change is not allowed."""


class UnresolvedReference(PermanentError):
    """A record this one refers to (e.g. its customer) is not linked or not in the destination yet. Nothing is
    sent; the message waits in the DLQ and a replay after the referenced record is transferred completes it."""


class UncertainOutcome(PermanentError):
    """A side effect may or may not have happened and the destination cannot tell us: never guess."""


class ConfigurationError(TransferError):
    kind: FailureKind = "configuration"


class Deferred(TransferError):
    """Our own shared rate limit has no slot for this record soon (platform/throttle.py): the record goes back to its own
    queue, delayed until `until` (epoch seconds), before any write of its transfer. Not a failure: never counted as
    an attempt, never dead-lettered (runtime/processing.py). Transient, so that if it ever escaped it would be redelivered."""

    kind: FailureKind = "transient"

    def __init__(self, message: str, *, until: float):
        super().__init__(message)
        self.until = until


class Skip(Exception):
    """A deliberate skip (filtered out, unsupported action). Not a failure; the message is deleted."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _item_too_large(exc: BaseException) -> bool:
    """DynamoDB refused an item over its 400 KB limit (also when Powertools idempotency wraps the refusal): the
    same record is refused again on every retry."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        error = getattr(current, "response", None)
        error = error.get("Error", {}) if isinstance(error, dict) else {}
        if error.get("Code") == "ValidationException" and "exceeded the maximum allowed size" in str(error.get("Message", "")):
            return True
        current = current.__cause__ or current.__context__
    return False


def classify(exc: BaseException) -> FailureKind:
    """The one classification of every exception a transfer can raise."""
    if isinstance(exc, TransferError):
        return exc.kind
    if _item_too_large(exc):
        return "permanent"
    if isinstance(exc, ValidationError):
        return "permanent"
    # (the same transfer in progress in another invocation is not a failure: processing.handle_record waits for it)
    if isinstance(exc, IdempotencyPersistenceLayerError):
        return "transient"
    if isinstance(exc, requests.RequestException):
        return "transient"
    # Anything else is a bug or an unknown condition: retry it, and SQS moves it to the DLQ after
    # maxReceiveCount. Never drop it, never call it permanent on a guess.
    return "transient"


def describe(exc: BaseException) -> str:
    """A readable reason for logs and DLQ attributes; never includes secrets (our messages never do)."""
    if isinstance(exc, TransferError):
        return exc.message
    if isinstance(exc, ValidationError):
        return describe_validation_error(exc)
    if _item_too_large(exc):
        return (
            "the result of this transfer is too large to record in the idempotency table (DynamoDB's 400 KB "
            "item limit); it is refused again on every retry"
        )
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def describe_validation_error(exc: ValidationError, subject: str | None = None) -> str:
    """Names each failing field without echoing its input (an input may be a secret or personal data)."""
    parts = []
    for err in exc.errors(include_input=False, include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "(body)"
        parts.append(f"field '{loc}': {err['msg']}")
    prefix = f"{subject}: " if subject else ""
    return prefix + "; ".join(parts)
