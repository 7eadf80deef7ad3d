"""InitializeFunction: a run without a shell, handing itself on before its timeout."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ...core.errors import TransferError
from ...core.observability import logger
from .checkpoint import LockLost, RunState
from .run import Initializer, build, parse_date

if TYPE_CHECKING:  # the boto3 service stubs are development packages (types only), never in the layer
    from aws_lambda_powertools.utilities.typing import LambdaContext


# -- the function (InitializeFunction) ---------------------------------------------------------------------
# Why an asynchronous self-invoke and not a Step Functions state machine: the run's whole state (cursor,
# counts, lock) already lives in DynamoDB for the command's --resume, so a continuation needs nothing but
# "invoke me again with the run id"; a state machine would add a second resource, role and execution history
# to keep in step with that table, and could not run in the local stack. Each handoff is guarded: the next
# invocation takes the run only with the run id and the sequence number the last one wrote (a repeated async
# delivery, or a second chain, finds them changed and stops). The function sets RecursiveLoop: Allow, since
# Lambda would otherwise stop an intentional self-invoking chain after 16 invocations.
DEFAULT_MARGIN_SECONDS = 60.0
PASS_ON = ("entity", "destination", "stack", "table", "page_size", "source", "queue_url", "pace_ahead")


def invoke_async(function_arn: str, payload: dict[str, Any]) -> None:
    import json

    import boto3

    boto3.client("lambda").invoke(FunctionName=function_arn, InvocationType="Event", Payload=json.dumps(payload).encode())


def run_function(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """One invocation: start (or resume, or continue) a run, enumerate until INITIALIZE_MARGIN_SECONDS before
    the timeout, checkpoint, and hand the run to a new asynchronous invocation of this function."""
    from ...platform import deadline

    margin = float(os.environ.get("INITIALIZE_MARGIN_SECONDS") or DEFAULT_MARGIN_SECONDS)
    with deadline.invocation(context):

        def should_pause() -> bool:
            return context.get_remaining_time_in_millis() / 1000.0 < margin

        try:
            init = build(
                event,
                owner=f"InitializeFunction request {context.aws_request_id}",
                should_pause=should_pause,
                on_wait=lambda depth, room: logger.info(
                    f"initialize: the queue holds {depth:,} record(s); with the next page it would hold more than the "
                    f"{room:,} the destination's limit drains in the pacing window (--pace-ahead): waiting for room"
                ),
            )
            if init.pace is not None:  # a wait between two checks never runs into the margin
                init.pace.poll_seconds = min(init.pace.poll_seconds, margin / 2)
            if event.get("dry_run"):
                return {**vars(init.run(None))}
            state = (
                _take_over(init, event["continue"])
                if event.get("continue")
                else init.start(resume=bool(event.get("resume")), restart=bool(event.get("restart")))
            )
        except LockLost as exc:
            logger.info(f"initialize: {exc}")
            return {"status": "superseded", "reason": str(exc)}
        except ValueError as exc:
            logger.warning(f"initialize refused: {exc}")
            return {"status": "refused", "error": str(exc)}
        try:
            report = init.run(state)
        except LockLost as exc:
            logger.info(f"initialize: {exc}")
            return {"status": "superseded", "reason": str(exc)}
        except TransferError as exc:
            logger.error(f"initialize failed at page {state.page}: {exc.message}; invoke with resume=true to continue")
            return {"status": "failed", "error": exc.message, "page": state.page, "run_id": state.run_id}
        result: dict[str, Any] = {**vars(report)}
        if report.status == "paused":
            sequence = init.checkpoints.handoff(state, init.owner)
            payload = {
                **{k: event[k] for k in PASS_ON if event.get(k) is not None},
                "continue": {"run_id": state.run_id, "sequence": sequence},
            }
            try:
                invoke_async(context.invoked_function_arn, payload)
                result["continued"] = sequence
            except Exception as exc:  # noqa: BLE001 - the checkpoint stands; the lock expires, --resume continues
                logger.error(
                    f"initialize: could not invoke the continuation ({type(exc).__name__}); the run "
                    f"stays at page {state.page}: invoke with resume=true once its lock expires"
                )
                result["error"] = f"continuation not invoked: {type(exc).__name__}"
        logger.info(f"initialize {report.status}", extra={"initialize": result})
        return result


def _take_over(init: Initializer, cont: dict[str, Any]) -> RunState:
    target = init.target
    previous = init.checkpoints.get(init.run_entity, target.destination)
    if previous is None or previous.run_id != cont.get("run_id"):
        raise LockLost(f"run {cont.get('run_id')} is not the current run of initialize {init.run_entity} -> {target.destination}")
    state = replace(init.realign(previous), owner=init.owner, status="running")
    init.checkpoints.handoff_take(state, int(cont.get("sequence", -1)))
    init.since, init.until = parse_date(state.since, "since"), parse_date(state.until, "until")
    init.limit = state.limit
    return state
