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
from aws_lambda_powertools.metrics import MetricUnit, single_metric

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


class RedactingFormatter(LambdaPowertoolsFormatter):
    def format(self, record):
        return redact(super().format(record))


logger = Logger(service=SERVICE, logger_formatter=RedactingFormatter())
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
tracer = Tracer(service=SERVICE)

__all__ = ["NAMESPACE", "SERVICE", "MetricUnit", "logger", "metrics", "redact", "register_secret", "single_metric",
           "tracer"]
