"""SQS batch handling shared by every transfer handler.

One record, one outcome: created/updated/sent, duplicate, skipped, or a failure. Failures are classified
once (errors.classify):
    transient      -> batch item failure (SQS redelivers); on its last allowed receive it goes to the DLQ
                      ourselves, with the reason attached, instead of silently by redrive
    permanent      -> DLQ now, reason attached, deleted from the source queue
    configuration  -> DLQ now, reason attached, ConfigurationErrors metric (alarmed)
If the DLQ cannot be written the record is reported failed: nothing is deleted unless it was transferred,
deliberately skipped, safely parked in the DLQ, or deferred.
A record our own shared rate limit has no slot for soon (errors.Deferred, before any write of its transfer) is
not a failure: it is sent back to its own queue delayed until its slot, body and attributes kept, and the
original is deleted (outcome "deferred", metric TransfersDeferred; never an attempt, never a DLQ).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import ValidationError

from . import deadline, ledger, throttle
from .clients.queues import QueueDirectory, defer_message, failure_attributes, history_of
from .errors import Deferred, Skip, TransientError, classify, describe, describe_validation_error
from .idempotency import register_lambda_context
from .models.inbound import InboundMessage
from .models.notification import TransferMessage
from .models.outcome import Outcome
from .observability import NAMESPACE, SERVICE, MetricUnit, logger, metrics, redact, single_metric
from .transfer.env import TransferEnv

# A queue's message contract: iPaaS.com notifications, or 99minds changes (the 99minds -> iPaaS.com queue).
Message = TransferMessage | InboundMessage
# Each transfer takes its own queue's message type (Any: a Callable's parameter cannot be narrowed per queue).
Transfer = Callable[[Any, TransferEnv], Outcome]

METRIC_BY_STATUS = {
    "created": "TransfersSent",
    "updated": "TransfersSent",
    "sent": "TransfersSent",
    "linked": "TransfersLinked",
    "duplicate": "TransfersDuplicate",
    "skipped": "TransfersSkipped",
    "mismatch": "BalanceMismatches",
    "failed": "TransfersFailed",
    "dead-lettered": "TransfersDeadLettered",
    "deferred": "TransfersDeferred",
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


def process_batch(
    event: dict[str, Any],
    context: Any,
    *,
    entity: str,
    transfer: Transfer,
    env: TransferEnv | None = None,
    queues: QueueDirectory | None = None,
    message_model: type[Message] = TransferMessage,
) -> PartialItemFailureResponse:
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
            return handle_record(
                record, entity=entity, transfer=transfer, env=env, queues=queues, message_model=message_model
            ).status

        return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)


def handle_record(
    record: SQSRecord,
    *,
    entity: str,
    transfer: Transfer,
    env: TransferEnv,
    queues: QueueDirectory,
    message_model: type[Message] = TransferMessage,
) -> Outcome:
    """`message_model`: the body's contract (TransferMessage; models.inbound.InboundMessage for 99minds ->
    iPaaS.com). It has id, destination, tracking_guid, scope, entity and describe()."""
    msg: Message | None = None
    # The correlation id of every line about this record is its own tracking guid (none for a body that is not
    # a message), never one left over from an earlier request: a thread-local key overrides any global one.
    logger.thread_safe_append_keys(correlation_id=None, sqs_message_id=record.message_id)
    try:
        try:
            try:
                msg = message_model.model_validate_json(record.body)
            except ValidationError as exc:
                logger.thread_safe_append_keys(correlation_id=_tracking_guid_of(record.body))
                raise _MalformedBody(describe_validation_error(exc, f"message {record.message_id}: malformed body")) from None
            logger.thread_safe_append_keys(
                correlation_id=msg.tracking_guid,
                tracking_guid=msg.tracking_guid,
                record_id=msg.id,
                destination=msg.destination,
                scope=msg.scope,
            )
            if msg.entity != entity:
                raise _WrongQueue(f"{msg.describe()}: a {msg.entity} notification reached the {entity} queue")
            with throttle.record_scope(entity, deferred_until=msg.deferred_until):
                outcome = transfer(msg, env)
        except Skip as skip:
            outcome = _outcome(msg, entity, status="skipped", reason=skip.reason)
        except Deferred as deferral:
            assert msg is not None  # Deferred comes only from the transfer, after the body was parsed
            outcome = _defer(record, msg, entity, deferral, queues)
        except Exception as exc:  # noqa: BLE001 - every failure is classified, none escapes unrecorded
            outcome = _fail(record, msg, entity, exc, queues)  # re-raises a transient failure
        if msg is not None and outcome.tracking_guid is None:  # every outcome names its tracking guid
            outcome = outcome.model_copy(update={"tracking_guid": msg.tracking_guid})
        _record(outcome)
        return outcome
    finally:
        logger.thread_safe_remove_keys(["correlation_id", "sqs_message_id", "tracking_guid", "record_id", "destination", "scope"])


def _tracking_guid_of(body: str) -> str | None:
    """The tracking guid of a body that is not a valid message, where it is JSON that names one."""
    try:
        guid = json.loads(body).get("tracking_guid")
    except (ValueError, AttributeError):
        return None
    return guid if isinstance(guid, str) and guid.strip() else None


class _MalformedBody(Exception):
    pass


class _WrongQueue(Exception):
    pass


def _outcome(msg: Message | None, entity: str, **kw: Any) -> Outcome:
    return Outcome(
        entity=entity,
        record_id=msg.id if msg else None,
        destination=msg.destination if msg else None,
        tracking_guid=msg.tracking_guid if msg else None,
        **kw,
    )


def _defer(record: SQSRecord, msg: Message, entity: str, deferral: Deferred, queues: QueueDirectory) -> Outcome:
    """Back to its own source queue until its slot (the original is then deleted as a success)."""
    try:
        delay = defer_message(
            queues.client,
            queues.info(record.event_source_arn).url,
            record.body,
            record.raw_event.get("messageAttributes"),
            until=deferral.until,
        )
    except Exception as exc:  # noqa: BLE001 - cannot send it back: keep the original, it comes back by itself
        return _fail(
            record,
            msg,
            entity,
            TransientError(
                f"{msg.describe()}: {deferral.message}, and sending it back to its queue failed: {type(exc).__name__}"
            ),
            queues,
        )
    return _outcome(
        msg, entity, status="deferred", reason=deferral.message, details={"delay_seconds": delay, "deferrals": msg.deferrals + 1}
    )


def _fail(record: SQSRecord, msg: Message | None, entity: str, exc: Exception, queues: QueueDirectory) -> Outcome:
    if isinstance(exc, (_MalformedBody, _WrongQueue)):
        kind, reason = "permanent", str(exc)
    else:
        kind, reason = classify(exc), describe(exc)
    reason = redact(reason)  # an input can carry a secret value; neither logs nor DLQ attributes echo it
    receive_count = int(record.attributes.approximate_receive_count or 1)
    try:
        info = queues.info(record.event_source_arn)
    except Exception as lookup_error:  # noqa: BLE001 - cannot reach SQS: keep the message, say why
        _record(
            _outcome(
                msg,
                entity,
                status="failed",
                failure_kind=kind,
                reason=(
                    f"{reason} (and its dead-letter queue could not be looked up: {type(lookup_error).__name__}; "
                    "the message stays on its queue)"
                ),
            )
        )
        raise exc from lookup_error
    last_attempt = info.max_receive_count is not None and receive_count >= info.max_receive_count
    outcome = _outcome(
        msg,
        entity,
        status="failed",
        failure_kind=kind,
        reason=reason,
        details={"attempt": receive_count, "error": type(exc).__name__},
    )
    if kind == "transient" and not last_attempt:
        _record(outcome)
        raise exc
    if info.dlq_url is None:
        logger.error(
            "no dead-letter queue configured for the source queue; the message stays on it",
            extra={"source_queue": record.event_source_arn},
        )
        _record(outcome)
        raise exc
    try:
        parked = queues.client.send_message(
            QueueUrl=info.dlq_url,
            MessageBody=record.body,
            MessageAttributes=failure_attributes(
                previous=history_of(record.raw_event.get("messageAttributes")),
                kind=kind,
                error_class=type(exc).__name__ if not isinstance(exc, (_MalformedBody, _WrongQueue)) else "InvalidMessage",
                reason=reason,
                entity=entity,
                destination=msg.destination if msg else None,
                tracking_guid=msg.tracking_guid if msg else None,
                receive_count=receive_count,
                source_arn=record.event_source_arn,
                message_id=record.message_id,
                body=record.body,
            ),
        )
    except Exception as send_error:  # noqa: BLE001 - the DLQ refused it: keep the message on its queue, say so
        metrics.add_metric(name="DeadLetterSendFailures", unit=MetricUnit.Count, value=1)
        _record(
            outcome.model_copy(
                update={
                    "reason": (
                        f"{reason} (and sending it to its dead-letter queue failed: {type(send_error).__name__}; the message "
                        "stays on its queue and comes back after the visibility timeout)"
                    )
                }
            )
        )
        raise exc from send_error
    if kind == "configuration":
        metrics.add_metric(name="ConfigurationErrors", unit=MetricUnit.Count, value=1)
    return outcome.model_copy(
        update={
            "status": "dead-lettered",
            "details": {**(outcome.details or {}), "dlq": info.dlq_url, "dlq_message_id": parked.get("MessageId")},
        }
    )


def _record(outcome: Outcome) -> None:
    """One JSON log line, one metric and one ledger write per outcome (the ledger never fails a transfer)."""
    data = outcome.model_dump(exclude_none=True)
    if outcome.status in ("failed", "dead-lettered"):
        logger.warning(f"transfer {outcome.status}: {outcome.reason}", extra={"outcome": data})
    elif outcome.status == "mismatch":
        logger.warning(f"transfer sent with a mismatch: {outcome.reason}", extra={"outcome": data})
    else:
        logger.info(f"transfer {outcome.status}", extra={"outcome": data})
    metrics.add_metric(name=METRIC_BY_STATUS[outcome.status], unit=MetricUnit.Count, value=1)
    if outcome.destination:
        # The dashboard's view per destination (and entity): the batch's metrics above carry one dimension set
        # ({service, Entity}, which the alarms use) while a batch can hold several subscriptions' records.
        with single_metric(
            name=METRIC_BY_STATUS[outcome.status],
            unit=MetricUnit.Count,
            value=1,
            namespace=NAMESPACE,
            default_dimensions={"service": SERVICE, "Entity": outcome.entity, "Destination": outcome.destination},
        ):
            pass
    ledger.record(outcome)
