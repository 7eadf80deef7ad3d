"""SQS batch handling shared by every transfer handler.

One record, one outcome: created/updated/sent, duplicate, skipped, or a failure. Failures are classified
once (errors.classify):
    transient      -> the retry schedule (retry.py): back to its own queue with a growing delay and its history;
                      the DLQ, with that history, once its retry window is spent (a body that is no message: batch
                      item failure, SQS redelivers it, and its last allowed receive parks it ourselves, reason kept)
    permanent      -> DLQ now, reason attached, deleted from the source queue
    configuration  -> DLQ now, reason attached, ConfigurationErrors metric (alarmed)
If the DLQ cannot be written the record is reported failed: nothing is deleted unless it was transferred,
deliberately skipped, safely parked in the DLQ, or deferred.
A record our own shared rate limit has no slot for soon (errors.Deferred, before any write of its transfer) is
not a failure: it is sent back to its own queue delayed until its slot, body and attributes kept, and the
original is deleted (outcome "deferred", metric TransfersDeferred; never an attempt, never a DLQ).

Admission (admission.py): before any record of a batch does any work (not even its iPaaS.com read), the
destination's circuit is asked and the batch's slots are booked on its shared limiter in one write. The records
whose first slot is at most throttle.MAX_WAIT away run now; every other one goes back to its queue at once, delayed
until its booked time (one SendMessageBatch per ten), so that a backlog waits in SQS, where waiting costs nothing,
not in a Lambda. A transient failure goes back to its queue on the retry schedule (retry.py) with its history.

The records that run are handled concurrently (ConcurrentBatchProcessor): each waits for its own slot, so their
waits overlap instead of adding up (Lambda bills the invocation's wall time). Records that name the same record
(entity, id and destination) stay one after the other, in batch order.
"""

from __future__ import annotations

import contextvars
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from pydantic import ValidationError

from ..core.errors import Deferred, Skip, TransientError, classify, describe, describe_validation_error
from ..core.models.inbound import InboundMessage
from ..core.models.notification import TransferMessage
from ..core.models.outcome import Outcome
from ..core.observability import MetricUnit, count_for_destination, destination_metrics, logger, metrics, redact
from ..platform import deadline, throttle
from ..platform.queues import MAX_DELAY_SECONDS, QueueDirectory, defer_message, failure_attributes, history_of
from . import ledger
from .admission import admit_batch, retry_policy
from .env import TransferEnv
from .idempotency import register_lambda_context
from .retry import after_failure, after_wait, dlq_previous, next_try_text, summary, toward_due

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
    "retrying": "TransfersRetrying",
}

MAX_GUID_CHARS = 128  # a tracking guid read from a body that is not a message (as the ingress bounds one)
MAX_RECORD_THREADS = 10  # an SQS batch holds at most 10 records (the template's BatchSize maximum)

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
    env = env or default_env()
    with deadline.invocation(context), destination_metrics(known=env.destinations):
        register_lambda_context(context)
        metrics.add_dimension(name="Entity", value=entity)
        queues = queues or default_queues()
        # a cold container: the secret values are registered for masking before the first record is handled, so
        # no log line or DLQ reason of the first batch can echo one a body carries
        env.register_secrets()
        # every record gets its own verdict, even when all fail: a partial reply listing them all, never an
        # invocation error
        records = event.get("Records") or []
        # every body is read once, here, before anything else touches it: what it cannot be read as is that record's
        # own permanent failure (handle_record parks it), never an exception in grouping, admission or logging
        screened = {str(raw.get("messageId")): screen(raw.get("body"), message_model) for raw in records}
        processor = ConcurrentBatchProcessor(
            event_type=EventType.SQS,
            raise_on_entire_batch_failure=False,
            group_of=lambda raw: _same_record_key(raw, screened.get(str(raw.get("messageId")))),
        )
        admissions = admit_batch(records, entity=entity, env=env, queues=queues, messages={k: s.msg for k, s in screened.items()})

        def record_handler(record: SQSRecord) -> str:
            return handle_record(
                record,
                entity=entity,
                transfer=transfer,
                env=env,
                queues=queues,
                message_model=message_model,
                admission=admissions.get(record.message_id),
                screened=screened.get(record.message_id),
            ).status

        return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)


class ConcurrentBatchProcessor(BatchProcessor):
    """Powertools' BatchProcessor with the records handled on a small thread pool instead of one after another.

    Powertools runs a batch's records one after another (BatchProcessor) or as coroutines (AsyncBatchProcessor,
    which needs an async handler; ours make blocking requests and boto3 calls); only the iteration is replaced here:
    each record still goes through Powertools' own _process_record (its success and failure bookkeeping, the partial
    batch reply). Each record runs in a copy of the invocation's context (its deadline). Records that name the same
    record stay in one worker, in batch order: a duplicate in the batch meets its first copy's finished
    idempotency record, never an in-progress one. `group_of` names what a record is about (it never raises)."""

    def __init__(self, *args: Any, group_of: Callable[[dict[str, Any]], str] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._group_of = group_of or (lambda raw: _same_record_key(raw, None))

    def process(self) -> list[Any]:
        groups: dict[str, list[int]] = {}
        for index, record in enumerate(self.records):
            groups.setdefault(self._group_of(record), []).append(index)
        results: list[Any] = [()] * len(self.records)

        def run(indices: list[int]) -> None:
            for i in indices:
                results[i] = self._process_record(self.records[i])

        if len(groups) <= 1:
            run(list(range(len(self.records))))
            return results
        with ThreadPoolExecutor(max_workers=min(MAX_RECORD_THREADS, len(groups)), thread_name_prefix="record") as pool:
            futures = [pool.submit(contextvars.copy_context().run, run, indices) for indices in groups.values()]
            for future in futures:
                future.result()
        return results


@dataclass(frozen=True)
class Screened:
    """What a body is: a message (`msg`), or why it is not one: `invalid` (it is JSON but not the queue's message
    contract) or `unreadable` (any other exception reading it: nested too deep, a number too long, ...)."""

    msg: Message | None = None
    invalid: ValidationError | None = None
    unreadable: str | None = None


def screen(body: Any, message_model: type[Message] = TransferMessage) -> Screened:
    """Read one body as the queue's message, once; never raises (nothing one record holds may fail another)."""
    try:
        msg = message_model.model_validate_json(body if isinstance(body, str) else "")
        json.loads(body)  # what a deferral parses again to send it back: it must be readable that way too
        return Screened(msg=msg)
    except ValidationError as exc:
        return Screened(invalid=exc)
    except Exception as exc:  # noqa: BLE001 - whatever a hostile body raises is that record's permanent failure
        return Screened(unreadable=type(exc).__name__)


def _same_record_key(record: dict[str, Any], screened: Screened | None) -> str:
    """What a record is about (entity, id and destination); its message id when it is not a message."""
    msg = screened.msg if screened is not None else None
    if msg is not None:
        return f"{msg.entity}|{msg.id}|{msg.destination}"
    return f"message|{record.get('messageId')}"


def handle_record(
    record: SQSRecord,
    *,
    entity: str,
    transfer: Transfer,
    env: TransferEnv,
    queues: QueueDirectory,
    message_model: type[Message] = TransferMessage,
    admission: throttle.Admission | None = None,
    screened: Screened | None = None,
) -> Outcome:
    """`message_model`: the body's contract (TransferMessage; models.inbound.InboundMessage for 99minds ->
    iPaaS.com). It has id, destination, tracking_guid, scope, entity and describe(). `admission`: admit_batch's
    verdict for it (slots booked, or already sent back to its queue). `screened`: its body as process_batch read it
    (read here when not given)."""
    msg: Message | None = None
    # The correlation id of every line about this record is its own tracking guid (none for a body that is not
    # a message), never one left over from an earlier request: a thread-local key overrides any global one.
    logger.thread_safe_append_keys(correlation_id=None, sqs_message_id=record.message_id)
    try:
        try:
            screened = screened or screen(record.raw_event.get("body"), message_model)
            if screened.msg is None:
                logger.thread_safe_append_keys(correlation_id=_tracking_guid_of(record.raw_event.get("body")))
                subject = f"message {str(record.raw_event.get('messageId'))[:100]}"
                if screened.invalid is not None:
                    raise _MalformedBody(describe_validation_error(screened.invalid, f"{subject}: malformed body"))
                raise _MalformedBody(f"{subject}: the body cannot be read as a message ({screened.unreadable})")
            msg = screened.msg
            logger.thread_safe_append_keys(
                correlation_id=msg.tracking_guid,
                tracking_guid=msg.tracking_guid,
                record_id=msg.id,
                destination=msg.destination,
                scope=msg.scope,
            )
            if msg.entity != entity:
                raise _WrongQueue(f"{msg.describe()}: a {msg.entity} notification reached the {entity} queue")
            if admission is not None and admission.until is not None:  # already back on its queue (admit_batch)
                outcome = _outcome(
                    msg,
                    entity,
                    status="retrying" if admission.details.get("held_back") else "deferred",
                    reason=admission.reason,
                    details={"delay_seconds": admission.delay, "deferrals": msg.deferrals + 1, **admission.details},
                )
            elif admission is not None and admission.details.get("window_spent"):
                raise _WindowSpent(f"{msg.describe()}: its destination was failing for the whole retry window")
            else:
                with throttle.record_scope(entity, deferred_until=msg.deferred_until, admission=admission):
                    outcome = transfer(msg, env)
        except Skip as skip:
            outcome = _outcome(msg, entity, status="skipped", reason=skip.reason)
        except Deferred as deferral:
            assert msg is not None  # Deferred comes only from the transfer, after the body was parsed
            outcome = _defer(record, msg, entity, deferral, queues)
        except IdempotencyAlreadyInProgressError:
            assert msg is not None  # raised only by the transfer's idempotent write, after the body was parsed
            outcome = _defer(record, msg, entity, _in_progress(msg), queues)
        except Exception as exc:  # noqa: BLE001 - every failure is classified, none escapes unrecorded
            # a transient failure goes back to its queue on the retry schedule (re-raised if that fails)
            outcome = _fail(record, msg, entity, exc, queues, notes=admission.details if admission else None)
        if msg is not None and outcome.tracking_guid is None:  # every outcome names its tracking guid
            outcome = outcome.model_copy(update={"tracking_guid": msg.tracking_guid})
        _record(outcome)
        return outcome
    finally:
        logger.thread_safe_remove_keys(["correlation_id", "sqs_message_id", "tracking_guid", "record_id", "destination", "scope"])


def _tracking_guid_of(body: Any) -> str | None:
    """The tracking guid of a body that is not a valid message, where it is JSON that names one."""
    try:
        guid = json.loads(body).get("tracking_guid")
    except Exception:  # noqa: BLE001 - any body at all (too deep, not JSON, not an object): it names none
        return None
    return guid[:MAX_GUID_CHARS] if isinstance(guid, str) and guid.strip() else None


class _MalformedBody(Exception):
    pass


class _WrongQueue(Exception):
    pass


class _WindowSpent(TransientError):
    """Held back by an open circuit until its retry window was spent: parked with its history, never tried."""


def _outcome(msg: Message | None, entity: str, **kw: Any) -> Outcome:
    return Outcome(
        entity=entity,
        record_id=msg.id if msg else None,
        destination=msg.destination if msg else None,
        tracking_guid=msg.tracking_guid if msg else None,
        **kw,
    )


def _in_progress(msg: Message) -> Deferred:
    """Another invocation holds this transfer's idempotency lock: the record waits for it (retry.py,
    IN_PROGRESS_RECHECK_SECONDS), neither a failed try nor a wait against its retry window. When it comes back, the
    other invocation has finished (its result is answered from the store: `duplicate`), failed (the lock is gone and
    this delivery transfers it), or timed out (its lock expired with its deadline)."""
    wait = retry_policy().in_progress_recheck
    return Deferred(
        f"{msg.describe()}: the same transfer is in progress in another invocation; looked at again in {wait:.0f} s",
        until=time.time() + wait,
    )


def _defer(record: SQSRecord, msg: Message, entity: str, deferral: Deferred, queues: QueueDirectory) -> Outcome:
    """Back to its own source queue until its slot (the original is then deleted as a success)."""
    hop = toward_due(msg.retry, deferral.until)  # on its way to its retry's due time (not a slot): not counted
    try:
        delay = defer_message(
            queues.client,
            queues.info(record.event_source_arn).url,
            record.body,
            record.raw_event.get("messageAttributes"),
            until=deferral.until,
            retry=msg.retry.model_dump() if hop and msg.retry is not None else None,
            # the retry schedule's hop caps a hop toward a retry's due time; any other deferral only SQS's maximum
            # (locally the hop is compressed to a second or so: a rate-limit deferral capped by it came back every
            # second, to be sent on again without a call)
            max_delay=int(retry_policy().max_hop) if hop else MAX_DELAY_SECONDS,
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
    details: dict[str, Any] = {"delay_seconds": delay, "deferrals": msg.deferrals + (0 if hop else 1)}
    if hop:
        details["retrying"] = True  # a hop toward its retry: the ledger keeps saying "retrying" (ledger.kept)
    return _outcome(msg, entity, status="deferred", reason=deferral.message, details=details)


def _fail(
    record: SQSRecord,
    msg: Message | None,
    entity: str,
    exc: Exception,
    queues: QueueDirectory,
    *,
    notes: dict[str, Any] | None = None,
) -> Outcome:
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
    # one error class for the ledger and the DLQ attribute (`report` and `dlq list` group by it alike)
    error_class = "InvalidMessage" if isinstance(exc, (_MalformedBody, _WrongQueue)) else type(exc).__name__
    outcome = _outcome(
        msg,
        entity,
        status="failed",
        failure_kind=kind,
        reason=reason,
        details={"attempt": receive_count, "error": error_class},
    )
    previous = history_of(record.raw_event.get("messageAttributes"))
    if kind == "transient" and msg is not None:
        scheduled = _retry(record, msg, exc, outcome, info.url, queues, probe=bool((notes or {}).get("probe")))
        if scheduled.status == "retrying":
            return scheduled
        outcome = scheduled  # its retry window is spent: parked below with its whole history
        previous = scheduled.details.pop("previous") if scheduled.details else previous
        reason = outcome.reason or reason
    elif kind == "transient" and not last_attempt:
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
                previous=previous,
                kind=kind,
                error_class=error_class,
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


def _retry(
    record: SQSRecord, msg: Message, exc: Exception, failed: Outcome, url: str, queues: QueueDirectory, *, probe: bool
) -> Outcome:
    """A transient failure on the retry schedule: back to its own queue until its next try, its history in the body
    (outcome `retrying`), or, its window spent, the failed outcome with the whole history for its DLQ message
    (details["previous"]: the attributes failure_attributes adds to). If it cannot be sent back, the failure is
    re-raised: SQS redelivers it after the visibility timeout (and MaxReceiveCount stays the backstop)."""
    policy = retry_policy()
    reason, error_class = failed.reason or "", str((failed.details or {}).get("error") or type(exc).__name__)
    now = time.time()
    if isinstance(exc, _WindowSpent):
        history, again = after_wait(msg.retry, now=now, reason=reason, policy=policy)
    else:
        retry_after = exc.retry_after if isinstance(exc, TransientError) else None
        history, again = after_failure(
            msg.retry, now=now, reason=reason, error_class=error_class, policy=policy, retry_after=retry_after
        )
    details = {**(failed.details or {}), "attempts": history.attempts, "waits": history.waits}
    if probe:
        details["probe"] = True
    if not again:
        previous = dlq_previous(history, history_of(record.raw_event.get("messageAttributes")))
        return failed.model_copy(
            update={"reason": f"{reason}; {summary(history, policy)}", "details": {**details, "previous": previous}}
        )
    try:
        delay = defer_message(
            queues.client,
            url,
            record.body,
            record.raw_event.get("messageAttributes"),
            until=history.due,
            retry=history.model_dump(),
            max_delay=int(policy.max_hop),
        )
    except Exception as send_error:  # noqa: BLE001 - not sent back: SQS redelivers the original
        _record(
            failed.model_copy(
                update={
                    "reason": f"{reason} (and sending it back for its retry failed: {type(send_error).__name__}; SQS "
                    "redelivers it after the visibility timeout)"
                }
            )
        )
        raise exc from send_error
    next_try = next_try_text(history)
    return failed.model_copy(
        update={
            "status": "retrying",
            "reason": f"{reason}; next try at {next_try}",
            "details": {**details, "next_try": next_try, "delay_seconds": delay, "retrying": True},
        }
    )


def _record(outcome: Outcome) -> None:
    """One JSON log line, one metric and one ledger write per outcome (the ledger never fails a transfer); a
    record's repeated deferrals are counted only (logged at DEBUG, not written: ledger.kept)."""
    data = outcome.model_dump(exclude_none=True)
    if outcome.status in ("failed", "dead-lettered"):
        logger.warning(f"transfer {outcome.status}: {outcome.reason}", extra={"outcome": data})
    elif outcome.status == "mismatch":
        logger.warning(f"transfer sent with a mismatch: {outcome.reason}", extra={"outcome": data})
    elif not ledger.kept(outcome):  # a record's second and later deferrals during a backlog: counted, not logged
        logger.debug(f"transfer {outcome.status}", extra={"outcome": data})
    else:
        logger.info(f"transfer {outcome.status}", extra={"outcome": data})
    metrics.add_metric(name=METRIC_BY_STATUS[outcome.status], unit=MetricUnit.Count, value=1)
    if outcome.destination:  # the dashboard's view per destination (written once per invocation)
        count_for_destination(outcome.entity, outcome.destination, METRIC_BY_STATUS[outcome.status])
    ledger.record(outcome)
