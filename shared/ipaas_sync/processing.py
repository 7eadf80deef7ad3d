"""SQS batch handling shared by every transfer handler.

One record, one outcome: created/updated/sent, duplicate, skipped, or a failure. Failures are classified
once (errors.classify):
    transient      -> batch item failure (SQS redelivers); on its last allowed receive it goes to the DLQ
                      ourselves, with the reason attached, instead of silently by redrive
    permanent      -> DLQ now, reason attached, deleted from the source queue
    configuration  -> DLQ now, reason attached, ConfigurationErrors metric (alarmed)
If the DLQ cannot be written the record is reported failed: nothing is deleted unless it was transferred,
deliberately skipped, or safely parked in the DLQ.
"""
from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import ValidationError

from . import deadline
from .clients.queues import QueueDirectory, failure_attributes, history_of
from .errors import Skip, classify, describe, describe_validation_error
from .idempotency import register_lambda_context
from .models.notification import TransferMessage
from .models.outcome import Outcome
from .observability import MetricUnit, logger, metrics, redact
from .transfer.env import TransferEnv

Transfer = Callable[[TransferMessage, TransferEnv], Outcome]

METRIC_BY_STATUS = {
    "created": "TransfersSent", "updated": "TransfersSent", "sent": "TransfersSent", "linked": "TransfersLinked",
    "duplicate": "TransfersDuplicate", "skipped": "TransfersSkipped", "mismatch": "BalanceMismatches",
    "failed": "TransfersFailed", "dead-lettered": "TransfersDeadLettered",
}

_env: TransferEnv | None = None
_queues: QueueDirectory | None = None


def default_env() -> TransferEnv:
    global _env
    if _env is None:
        _env = TransferEnv()
    return _env


def default_queues() -> QueueDirectory:
    global _queues
    if _queues is None:
        _queues = QueueDirectory()
    return _queues


def process_batch(event: dict, context, *, entity: str, transfer: Transfer, env: TransferEnv | None = None,
                  queues: QueueDirectory | None = None) -> dict:
    """Handle an SQS batch; returns the partial batch reply (ReportBatchItemFailures)."""
    with deadline.invocation(context):
        register_lambda_context(context)
        metrics.add_dimension(name="Entity", value=entity)
        env = env or default_env()
        queues = queues or default_queues()
        # a cold container: the secret values are registered for masking before the first record is handled, so
        # no log line or DLQ reason of the first batch can echo one a body carries
        env.register_secrets()
        # every record gets its own verdict, even when all fail: a partial reply listing them all, never an
        # invocation error
        processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

        def record_handler(record: SQSRecord) -> str:
            return handle_record(record, entity=entity, transfer=transfer, env=env, queues=queues).status

        return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                        context=context)


def handle_record(record: SQSRecord, *, entity: str, transfer: Transfer, env: TransferEnv,
                  queues: QueueDirectory) -> Outcome:
    msg: TransferMessage | None = None
    try:
        try:
            try:
                msg = TransferMessage.model_validate_json(record.body)
            except ValidationError as exc:
                raise _MalformedBody(
                    describe_validation_error(exc, f"message {record.message_id}: malformed body")) from None
            logger.thread_safe_append_keys(tracking_guid=msg.tracking_guid, record_id=msg.id,
                                           destination=msg.destination, scope=msg.scope)
            if msg.entity != entity:
                raise _WrongQueue(f"{msg.describe()}: a {msg.entity} notification reached the {entity} queue")
            outcome = transfer(msg, env)
        except Skip as skip:
            outcome = _outcome(msg, entity, status="skipped", reason=skip.reason)
        except Exception as exc:  # noqa: BLE001 - every failure is classified, none escapes unrecorded
            outcome = _fail(record, msg, entity, exc, queues)  # re-raises a transient failure
        _record(outcome)
        return outcome
    finally:
        logger.thread_safe_remove_keys(["tracking_guid", "record_id", "destination", "scope"])


class _MalformedBody(Exception):
    pass


class _WrongQueue(Exception):
    pass


def _outcome(msg: TransferMessage | None, entity: str, **kw) -> Outcome:
    return Outcome(entity=entity, record_id=msg.id if msg else None, destination=msg.destination if msg else None,
                   tracking_guid=msg.tracking_guid if msg else None, **kw)


def _fail(record: SQSRecord, msg: TransferMessage | None, entity: str, exc: Exception,
          queues: QueueDirectory) -> Outcome:
    if isinstance(exc, (_MalformedBody, _WrongQueue)):
        kind, reason = "permanent", str(exc)
    else:
        kind, reason = classify(exc), describe(exc)
    reason = redact(reason)  # an input can carry a secret value; neither logs nor DLQ attributes echo it
    receive_count = int(record.attributes.approximate_receive_count or 1)
    try:
        info = queues.info(record.event_source_arn)
    except Exception as lookup_error:  # noqa: BLE001 - cannot reach SQS: keep the message, say why
        _record(_outcome(msg, entity, status="failed", failure_kind=kind, reason=(
            f"{reason} (and its dead-letter queue could not be looked up: {type(lookup_error).__name__}; "
            "the message stays on its queue)")))
        raise exc from lookup_error
    last_attempt = info.max_receive_count is not None and receive_count >= info.max_receive_count
    outcome = _outcome(msg, entity, status="failed", failure_kind=kind, reason=reason,
                       details={"attempt": receive_count, "error": type(exc).__name__})
    if kind == "transient" and not last_attempt:
        _record(outcome)
        raise exc
    if info.dlq_url is None:
        logger.error("no dead-letter queue configured for the source queue; the message stays on it",
                     extra={"source_queue": record.event_source_arn})
        _record(outcome)
        raise exc
    try:
        queues.client.send_message(
            QueueUrl=info.dlq_url, MessageBody=record.body,
            MessageAttributes=failure_attributes(
                previous=history_of(record.raw_event.get("messageAttributes")), kind=kind,
                error_class=type(exc).__name__ if not isinstance(exc, (_MalformedBody, _WrongQueue))
                else "InvalidMessage",
                reason=reason, entity=entity, destination=msg.destination if msg else None,
                tracking_guid=msg.tracking_guid if msg else None, receive_count=receive_count,
                source_arn=record.event_source_arn, body=record.body),
        )
    except Exception as send_error:  # noqa: BLE001 - the DLQ refused it: keep the message on its queue, say so
        metrics.add_metric(name="DeadLetterSendFailures", unit=MetricUnit.Count, value=1)
        _record(outcome.model_copy(update={"reason": (
            f"{reason} (and sending it to its dead-letter queue failed: {type(send_error).__name__}; the message "
            "stays on its queue and comes back after the visibility timeout)")}))
        raise exc from send_error
    if kind == "configuration":
        metrics.add_metric(name="ConfigurationErrors", unit=MetricUnit.Count, value=1)
    return outcome.model_copy(update={"status": "dead-lettered"})


def _record(outcome: Outcome) -> None:
    """One JSON log line and one metric per outcome."""
    data = outcome.model_dump(exclude_none=True)
    if outcome.status in ("failed", "dead-lettered"):
        logger.warning(f"transfer {outcome.status}: {outcome.reason}", extra={"outcome": data})
    elif outcome.status == "mismatch":
        logger.warning(f"transfer sent with a mismatch: {outcome.reason}", extra={"outcome": data})
    else:
        logger.info(f"transfer {outcome.status}", extra={"outcome": data})
    metrics.add_metric(name=METRIC_BY_STATUS[outcome.status], unit=MetricUnit.Count, value=1)
