"""Powertools Logger, Metrics and Tracer for every handler, built once.

Secrets never reach a log line: every secret value the settings loader sees is registered here and the
log formatter masks it in the final JSON line (defence in depth; our own messages never include secrets).
Powertools has no redaction of arbitrary values, hence this small formatter subclass.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

if TYPE_CHECKING:  # for annotations only: Tracer is imported at first use (get_tracer), aws_xray_sdk costs cold start
    from aws_lambda_powertools import Tracer
    from aws_lambda_powertools.logging.types import LogRecord

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


def bound(value: Any, limit: int = MAX_LOG_FIELD) -> Any:
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

    def serialize(self, log: LogRecord) -> str:
        return super().serialize(bound(log))

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


logger = Logger(service=SERVICE, logger_formatter=RedactingFormatter())


class ThreadSafeMetrics(Metrics):
    """The records of a batch are handled on threads (runtime/processing.py), and Powertools' add_metric reads, changes and
    stores the metric set in steps: one lock around it, so that no value is lost. (Powertools' Metrics is not
    documented as thread-safe; the lock is all this adds.)"""

    _add_lock = threading.Lock()

    def add_metric(self, *args: Any, **kwargs: Any) -> None:
        with self._add_lock:
            super().add_metric(*args, **kwargs)


metrics = ThreadSafeMetrics(namespace=NAMESPACE, service=SERVICE)

# The dashboard's counts per destination, {service, Entity, Destination}: the invocation's own metrics carry one
# dimension set ({service, Entity}, which the alarms use) while a batch can hold several subscriptions' records.
# Counted during the invocation and written as one EMF line per (entity, destination) at its end, not one line per
# record (each line is about 250 bytes of CloudWatch Logs; a deferral is counted too). Powertools' EphemeralMetrics
# writes each line; only the counting per invocation is ours (Metrics holds one dimension set per flush).
# A metric dimension takes only values the product itself knows: a destination that is not a configured subscription's
# iPaaS System Id (a body can name any string, even a secret) is counted as UNKNOWN_DESTINATION.
UNKNOWN_DESTINATION = "unknown"
Counts = Counter[tuple[str, str, str]]
_destination_counts: ContextVar[tuple[threading.Lock, Counts, Callable[[], Collection[str]]] | None] = ContextVar(
    "ipaas_sync_destination_counts", default=None
)


def _no_destinations() -> Collection[str]:
    return ()


def count_for_destination(entity: str, destination: str, name: str) -> None:
    """One more `name` for this entity and destination (written at the end of the invocation's `destination_metrics`,
    or at once outside one, where no destination is known)."""
    held = _destination_counts.get()
    if held is None:
        _flush_destination_counts(Counter({(entity, destination, name): 1}), _no_destinations)
        return
    lock, counts, _ = held
    with lock:
        counts[(entity, destination, name)] += 1


@contextmanager
def destination_metrics(known: Callable[[], Collection[str]] = _no_destinations) -> Iterator[None]:
    """Around one invocation: its per-destination counts (from every record thread) written once, at its end.
    `known`: the configured destinations (iPaaS System Ids), the only values the Destination dimension takes."""
    counts: Counts = Counter()
    token = _destination_counts.set((threading.Lock(), counts, known))
    try:
        yield
    finally:
        _destination_counts.reset(token)
        _flush_destination_counts(counts, known)


def _flush_destination_counts(counts: Counts, known: Callable[[], Collection[str]]) -> None:
    if not counts:
        return
    try:
        configured = set(known())
    except Exception:  # noqa: BLE001 - settings unreadable: every destination is unknown, the counts are still written
        configured = set()
    by_pair: dict[tuple[str, str], dict[str, int]] = {}
    for (entity, destination, name), n in counts.items():
        pair = (entity, destination if destination in configured else UNKNOWN_DESTINATION)
        values = by_pair.setdefault(pair, {})
        values[name] = values.get(name, 0) + n
    for (entity, destination), values in by_pair.items():
        line = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
        line.add_dimension(name="Entity", value=entity)
        line.add_dimension(name="Destination", value=destination)
        for name, n in values.items():
            line.add_metric(name=name, unit=MetricUnit.Count, value=n)
        # written here rather than by line.flush_metrics() (a plain print): masked and bounded like every log line
        if not is_metrics_disabled():
            print(redact(json.dumps(bound(line.serialize_metric_set()), separators=(",", ":"))))
        line.clear_metrics()


_tracer: Tracer | None = None


def tracing_enabled() -> bool:
    """Off where the template's Tracing parameter is PassThrough (POWERTOOLS_TRACE_DISABLED=true), as Powertools reads it."""
    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() not in ("1", "true", "yes")


def get_tracer() -> Tracer:
    """The Powertools Tracer, built on first use: importing aws_xray_sdk costs about a third of a second of cold start
    (outside Lambda its sampler even builds botocore clients), which a function with tracing off never pays."""
    global _tracer
    if _tracer is None:
        from aws_lambda_powertools import Tracer

        _tracer = Tracer(service=SERVICE)
    return _tracer


def traced(handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """Tracer.capture_lambda_handler, decided at the first invocation (not at import): with tracing off the
    handler runs as it is."""
    wrapped: Callable[[Any, Any], Any] | None = None

    @functools.wraps(handler)
    def run(event: Any, context: Any) -> Any:
        nonlocal wrapped
        if wrapped is None:
            wrapped = get_tracer().capture_lambda_handler(handler) if tracing_enabled() else handler
        return wrapped(event, context)

    return run


__all__ = [
    "NAMESPACE",
    "SERVICE",
    "MetricUnit",
    "get_tracer",
    "logger",
    "metrics",
    "redact",
    "register_secret",
    "bound",
    "count_for_destination",
    "destination_metrics",
    "traced",
]
