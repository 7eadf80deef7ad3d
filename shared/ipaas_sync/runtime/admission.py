"""Admission of an SQS batch, before any of its records does any work: the circuit's verdict, then the rate limit's.

Per destination (its shared limiter), in this order:
    a hop        a record on its way to a later due time (a deferral or a retry longer than SQS's 15-minute delay)
                 goes back to its queue at once, asking neither;
    the circuit  open: the records wait in SQS (outcome `retrying`, counted as a wait, not an attempt, retry.py) without
                 calling the destination, nothing booked on the limiter; half-open: one record of the batch that
                 took the probe calls it; closed: all run;
    the limit    the records that may call book their slots in one write (throttle.DynamoRateLimiter.admit); those whose
                 first slot is more than throttle.MAX_WAIT away go back to their queue until their slot.
Records sent back leave in one SendMessageBatch per ten (platform/queues.defer_messages); processing.handle_record
then only reports them. A record held back by the open circuit comes back within a probe interval; one on the retry
schedule whose circuit closed after its last failure (or an operator's retry-now) is due at its next hop, whatever its
schedule said: the backlog is back in the queue within a probe interval of the destination's recovery.
"""

from __future__ import annotations

import time
import zlib
from typing import Any

from ..core.models.notification import TransferMessage
from ..core.observability import MetricUnit, logger, metrics
from ..platform import throttle
from ..platform.circuit import Gate, platform_of
from ..platform.queues import QueueDirectory, defer_messages
from .env import TransferEnv
from .retry import RetryPolicy, after_wait, next_try_text, released, toward_due


def retry_policy() -> RetryPolicy:
    """The retry schedule's parameters (the stack's Retry* parameters); a bad value is logged and counted as a
    configuration error, and the defaults apply (a record is never lost to a setting)."""
    try:
        return RetryPolicy.from_env()
    except ValueError as exc:
        logger.error(f"retry schedule settings: {exc}; the defaults apply")
        metrics.add_metric(name="ConfigurationErrors", unit=MetricUnit.Count, value=1)
        return RetryPolicy()


def admit_batch(
    records: list[dict[str, Any]],
    *,
    entity: str,
    env: TransferEnv,
    queues: QueueDirectory,
    messages: dict[str, Any],
) -> dict[str, throttle.Admission]:
    """Book the batch's rate-limit slots, destination by destination, and send back the records that have none soon.

    Returns the verdict per SQS message id: slots booked (the record runs now and uses them), or deferred (already
    back on its queue: the record only reports it). A record with no verdict (a body that is not a message, no
    limiter for its destination, the booking or the send failing) reserves its slots call by call as before.
    `messages`: each body as process_batch read it, by message id (None: not a message; only TransferMessages are
    admitted: the 99minds -> iPaaS.com queue needs no admission, iPaaS.com's limit is generous)."""
    lanes: dict[Any, list[tuple[dict[str, Any], TransferMessage]]] = {}
    for raw in records:
        msg = messages.get(str(raw.get("messageId")))
        if not isinstance(msg, TransferMessage):
            continue  # not a message (reported by its own record handler) or not one admission is for
        limiter = env.partner_limiter(msg.destination) if msg.entity == entity else None
        if limiter is not None:
            lanes.setdefault(limiter, []).append((raw, msg))
    verdicts: dict[str, throttle.Admission] = {}
    policy = retry_policy()
    for limiter, items in lanes.items():
        try:
            now = time.time()
            view = limiter.circuit.current()  # as the last booking left it; a GetItem at most once per probe interval
            asks = [throttle.Ask(entity, _due_for_admission(msg, view.released_at, now)) for _, msg in items]
            plan, gate = _admit(limiter, asks, now)
        except Exception as exc:  # noqa: BLE001 - the records then take their slots call by call
            logger.warning(
                "rate-limit admission failed; the batch's records reserve their slots one by one",
                extra={"limiter": limiter.key, "error": type(exc).__name__},
            )
            continue
        held = _hold_back(limiter, gate, plan, [msg for _, msg in items], now, policy)
        for i, ((_, msg), a) in enumerate(zip(items, plan, strict=True)):
            if msg.retry is not None and not a.details and toward_due(msg.retry, a.until):  # a hop toward its due time
                a.reason = f"retrying: next try at {next_try_text(msg.retry)} (last failure: {msg.retry.last_reason})"
                a.details = {"retrying": True}
                held[i] = msg.retry  # its history goes on unchanged (a hop is not a deferral: not counted as one)
        back = [(raw, a, held.get(i)) for i, ((raw, _), a) in enumerate(zip(items, plan, strict=True)) if a.until is not None]
        verdicts.update({raw["messageId"]: a for (raw, _), a in zip(items, plan, strict=True) if a.until is None})
        if not back:
            continue
        try:
            url = queues.info(back[0][0]["eventSourceARN"]).url
            delays = defer_messages(
                queues.client,
                url,
                [(raw["body"], raw.get("messageAttributes"), a.until or 0.0) for raw, a, _ in back],
                retries=[h.model_dump() if h is not None else None for _, _, h in back],
                ahead=[h is None for _, _, h in back],  # deferred to a rate-limit slot (not a wait or a hop)
                max_delay=int(policy.max_hop),
            )
        except Exception as exc:  # noqa: BLE001 - not sent back: they run now and take their slots call by call
            logger.warning("sending deferred records back failed", extra={"error": type(exc).__name__})
            continue
        for (raw, a, _), delay in zip(back, delays, strict=True):
            if delay is not None:
                a.delay = delay
                verdicts[raw["messageId"]] = a
    return verdicts


def _admit(limiter: Any, asks: list[throttle.Ask], now: float) -> tuple[list[throttle.Admission], Gate]:
    """The circuit first, then the rate limit: a record on its way to a later due time (a hop) goes back without
    either; while the destination's circuit is open nothing is booked (a long outage must not push the limiter's
    schedule far ahead of the recovery), only the probe's record when this batch took it."""
    plan: list[throttle.Admission | None] = [
        throttle.Admission(until=a.until, reason=f"deferred until its slot at {a.until:.0f} (in {a.until - now:.0f} s)")
        if a.until is not None and a.until - now > throttle.MAX_WAIT
        else None
        for a in asks
    ]
    candidates = [i for i, p in enumerate(plan) if p is None]
    gate = limiter.circuit.admit() if candidates else Gate("run")
    if gate.verdict == "probe":
        candidates, held = candidates[:1], candidates[1:]
    elif gate.verdict == "wait":
        candidates, held = [], candidates
    else:
        held = []
    for i, verdict in zip(candidates, limiter.admit([asks[i] for i in candidates]) if candidates else [], strict=True):
        plan[i] = verdict
    for i in held:
        plan[i] = throttle.Admission()  # held back by _hold_back
    return [p for p in plan if p is not None], gate


def _due_for_admission(msg: TransferMessage, released_at: float, now: float) -> float | None:
    """The time admission sees for a record: its deferral's, or now for a retrying record released by its
    destination's recovery (the circuit closed after its last failure) or an operator's retry-now. Only while it
    waits for its retry's due time: once released, a record the rate limit deferred waits for its slot like any
    other (pulled forward at every hop, it would book the limiter's horizon again each time and push every record
    behind it further out: the drain after a recovery then ran at a quarter of the limit)."""
    retry, until = msg.retry, msg.deferred_until
    if retry is not None and until is not None and toward_due(retry, until) and released(retry, released_at or None):
        return min(until, now)
    return until


def _spread(msg: TransferMessage) -> float:
    """A record's place in [0, 1) for its next wait (the CRC-32 of its key and its waits so far: no two records, nor
    two waits of one record, alike by design; deterministic, so a test replays the same)."""
    waits = msg.retry.waits if msg.retry is not None else 0
    return zlib.crc32(f"{msg.entity}|{msg.id}|{msg.destination}|{waits}".encode()) / 2**32


def _hold_back(
    limiter: Any,
    gate: Gate,
    plan: list[throttle.Admission],
    msgs: list[TransferMessage],
    now: float,
    policy: RetryPolicy,
) -> dict[int, Any]:
    """An open circuit: the admitted records go back to their queue without calling the destination (the probe
    excepted, when this batch took it). Returns their retry histories by index; their verdicts become waits."""
    if gate.verdict == "run":
        return {}
    admitted = [i for i, a in enumerate(plan) if a.until is None]
    if gate.verdict == "probe" and admitted:
        plan[admitted.pop(0)].details["probe"] = True
    held: dict[int, Any] = {}
    name = platform_of(limiter.key)
    interval = limiter.circuit.config.probe_interval
    for i in admitted:
        # back within a probe interval (between half of it and all of it, each record at its own place): the waiting
        # records come back spread evenly over time, not all at the next probe's time (where one takes the probe and
        # the others find it taken and wait another interval). The first one back after the probe time takes the
        # probe; once it has closed the circuit the others run as they come: the backlog is in the queue at once.
        back = now + interval * (0.5 + _spread(msgs[i]) / 2)
        history, waiting = after_wait(
            msgs[i].retry, now=now, reason=f"{name} is failing (its circuit is open)", policy=policy, not_before=back
        )
        if not waiting:  # the window is spent waiting: it runs now to be parked with its history (processing._fail)
            plan[i] = throttle.Admission(details={"window_spent": True})
            continue
        held[i] = history
        plan[i] = throttle.Admission(
            until=history.due,
            reason=f"waiting for {name} to recover, next try at {next_try_text(history)}",
            details={
                "retrying": True,
                "held_back": True,
                "next_try": next_try_text(history),
                "attempts": history.attempts,
                "waits": history.waits,
            },
        )
    return held


__all__ = ["admit_batch", "retry_policy"]
