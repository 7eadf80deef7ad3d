"""Powertools Logger, Metrics and Tracer for every handler, built once.

Secrets never reach a log line: every secret value the settings loader sees is registered here and the
log formatter masks it in the final JSON line (defence in depth; our own messages never include secrets).
Powertools has no redaction of arbitrary values, hence this small formatter subclass.
"""
from __future__ import annotations

import os
import threading

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "ipaas-sync")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "IpaasSync")

_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a secret value so that no log line can carry it."""
    if value and len(value) >= 4:
        with _secrets_lock:
            _secrets.add(value)


def redact(text: str) -> str:
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, "***")
    return text


MAX_LOG_FIELD = 2000  # characters of any one logged string (a message, a reason, a key such as record_id)


def bound(value, limit: int = MAX_LOG_FIELD):
    """Every string in a (nested) log value cut to `limit` characters, saying how long it was; masked before it
    is cut (a cut could otherwise leave a secret's beginning unmasked)."""
    if isinstance(value, str):
        value = redact(value) if len(value) > limit else value
        return value if len(value) <= limit else f"{value[:limit]}… ({len(value)} characters)"
    if isinstance(value, dict):
        return {k: bound(v, limit) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [bound(v, limit) for v in value[:100]]
    return value


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Bounds every field (one input once produced a 2 MB line) and masks every registered secret value."""

    def serialize(self, log: dict) -> str:
        return super().serialize(bound(log))

    def format(self, record):
        return redact(super().format(record))


logger = Logger(service=SERVICE, logger_formatter=RedactingFormatter())
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
tracer = Tracer(service=SERVICE)

__all__ = ["MetricUnit", "bound", "logger", "metrics", "redact", "register_secret", "tracer"]
