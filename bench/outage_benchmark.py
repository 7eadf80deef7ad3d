"""Outage benchmark (a script, not a test): `make bench-outage`.

A time-compressed partner outage through the local pipeline (the template on moto, the real handlers behind the
event-source poller): a steady stream of customers, orders and gift card reloads to 99minds; 99minds goes down
(5xx and connection resets on every call) for a stretch of at least six retry steps, then comes back. The retry
schedule and the circuit run with their parameters scaled down (RetryStepSeconds, RetryWindowSeconds,
CircuitProbeSeconds, and RETRY_MAX_HOP_SECONDS for SQS's 15-minute hop): the same code as in AWS.

The outage is time-compressed, the rate limit is not: the drain runs against 99minds' published limit, 150 requests
a minute (the seed), so that the limiter keeps the headroom and the lateness tolerance it has in AWS (1 % of a 60 s
window, a slot usable 0.3 s late). `--limit 60 --seconds 10` compresses the window too, the throttle benchmark's
setting: its 2 % headroom caps the drain at 0.980 of the limit and a slot is usable 0.1 s late, less than the
scheduling jitter of ten record threads on two cores shared with moto and the sandboxes (docs/reliability.md).

Prints, as counts and ratios of one run:
- records in DLQs after recovery (the goal: 0), and each transferred exactly once (one 99minds customer per email,
  one workflow execution per order, each gift card's reload applied once: its balance is iPaaS.com's);
- calls to 99minds during the outage against the probes the circuit allowed plus the calls made before it opened;
- after recovery, the achieved rate against the limit from the circuit's close (the first probe after the recovery)
  until the backlog is drained (goal >= 0.97), the delay to the close, the rate counted from the recovery itself, and
  429s of ours;
- the Lambda GB-seconds and SQS requests spent on waiting (per record that waited, per hop), and from those, the
  cost of an hour's outage per million waiting records at AWS list prices (bench/throttle_benchmark.py PRICE).

    python -m bench.outage_benchmark [--records 30] [--outage-steps 6] [--step 0.5] [--probe 2] [--limit 150 --seconds 60]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
import time
from collections import Counter
from decimal import Decimal

from bench.throttle_benchmark import (
    DLQS,
    ESM_OPS,
    FUNCTIONS,
    PRICE,
    QUEUES,
    Meter,
    backlog,
    busiest_window,
    limited_stack,
    measuring,
    say,
)
from sandbox.local_aws import PollStats
from sandbox.stack import LOCAL_IN_FLIGHT_SECONDS, LocalStack

PRODUCTION_HOP = 900  # SQS's DelaySeconds maximum: the longest hop in AWS
PRODUCTION_PROBE = 60  # CircuitProbeSeconds' default: a record held back by an open circuit comes back within it ...
MEAN_WAIT_SHARE = 0.75  # ... after between half of it and all of it (runtime/admission.py): 3/4 of it on average
WAITING = ("retrying", "deferred")  # outcomes of a record that went back to its queue without a transfer
QUEUE_OF = dict(zip(("customer", "transaction", "giftcard"), QUEUES, strict=True))  # each entity's 99minds queue


def cumulative(step: float, n: int) -> float:
    """The retry schedule's first n waits together (runtime/retry.py: step x k x (k + 1) for k = 1..n)."""
    return sum(step * k * (k + 1) for k in range(1, n + 1))


def stream(stack: LocalStack, n: int, seconds: float, stop: threading.Event, sent: list[tuple[float, str]]) -> None:
    """The records backlog() seeds (n customers, n orders, n gift card reloads), put on their queues one after the
    other, evenly over `seconds`: a steady stream across the outage."""
    bodies: list[tuple[str, dict]] = []
    original = stack.send
    stack.send = lambda queue, body, attributes=None: bodies.append((queue, body)) or ""  # type: ignore[method-assign]
    try:
        backlog(stack, n)  # seeds iPaaS.com and 99minds; its sends are captured here
    finally:
        stack.send = original  # type: ignore[method-assign]
    order = sorted(range(len(bodies)), key=lambda i: (i % n, i))  # interleave customers, orders, cards
    gap = seconds / max(1, len(bodies))
    for i in order:
        if stop.wait(gap):
            return
        queue, body = bodies[i]
        stack.send(queue, body)
        sent.append((time.time(), f"{queue}:{body['id']}"))


def outage(
    stack: LocalStack,
    start_after: float,
    length: float,
    stop: threading.Event,
    marks: dict[str, float],
    meter: Meter,
    snaps: dict,
) -> None:
    """99minds down from `start_after` for `length` seconds: every call answered 503 or reset (alternating),
    bounded counts, cleared at the end."""
    if stop.wait(start_after):
        return
    faults = stack.ninetynine.faults
    marks["down"] = time.time()
    snaps["down"] = _snapshot(meter)
    for _ in range(10_000):  # bounded: refilled every 0.2 s while it is down
        faults.fail(5, status=503, path="/api/v1/")
        faults.reset(5, path="/api/v1/")
        if stop.wait(0.2) or time.time() - marks["down"] >= length:
            break
    faults.clear()
    marks["up"] = time.time()
    snaps["up"] = _snapshot(meter)


def _snapshot(meter: Meter) -> dict:
    """The counts now: SQS calls by the functions and by the event source, and the functions' durations."""
    with meter.lock:
        return {
            "sqs": meter.count(set(FUNCTIONS), "sqs") + meter.count({"poller"}, "sqs", ESM_OPS),
            "gb_s": sum(sum(meter.durations.get(f, [])) for f in FUNCTIONS),
        }


def run(args) -> int:
    log_path, meter = measuring(args.log)
    down_for = max(args.outage_seconds, cumulative(args.step, args.outage_steps))
    stream_for = args.lead + down_for + args.lead
    marks: dict[str, float] = {}
    snaps: dict[str, dict] = {}
    sent: list[tuple[float, str]] = []
    os.environ["RETRY_MAX_HOP_SECONDS"] = str(args.hop)  # SQS's 15-minute hop, compressed like the schedule
    with open(log_path, "w", encoding="utf-8") as log, contextlib.redirect_stdout(log):
        stack = limited_stack(
            args.limit,
            args.seconds,
            moto_process=True,
            parameters={
                "RetryStepSeconds": args.step,
                "RetryMaxDelaySeconds": args.step * 42,
                "RetryWindowSeconds": args.window or 10 * down_for,
                "CircuitFailureThreshold": args.threshold,
                "CircuitProbeSeconds": args.probe,
            },
        )
        stack.start()
        _stamp(stack.collector)
        memory_gb = stack.deployment.function_memory(FUNCTIONS[0]) / 1024
        from ipaas_sync.runtime import pending  # imported after start(), as in sandbox/pipeline.py

        pending.IN_FLIGHT_SECONDS = LOCAL_IN_FLIGHT_SECONDS
        delivered: list[tuple[float, int]] = []  # (when, records) per invocation: every delivery is a try or a hop
        for name in FUNCTIONS:
            stack.handlers[name] = _counting(meter.wrap(name, stack.handlers[name]), delivered)
        stop = threading.Event()
        threads = [
            threading.Thread(target=stream, args=(stack, args.records, stream_for, stop, sent), daemon=True),
            threading.Thread(target=outage, args=(stack, args.lead, down_for, stop, marks, meter, snaps), daemon=True),
        ]
        try:
            for t in threads:
                t.start()
            meter.on = True
            started = time.monotonic()
            # bounded: the stream, the outage thrice, and the backlog at the limit (about two requests a record)
            drain_for = stream_for + 3 * down_for + 120 + 6 * args.records * args.seconds / args.limit
            stats = _drain(stack, threads, args.max_seconds or drain_for)
            elapsed = time.monotonic() - started
            meter.on = False
            left = {q: len(stack.messages(q)) for q in DLQS}
            logged = stack.outcomes(deferrals=True)
            from ipaas_sync.platform import throttle

            limiters = [lim for k, lim in throttle._limiters.items() if k[0].startswith("99minds")]
            circuits = [lim.circuit for lim in limiters]
            probes = sum(c.probes_taken for c in circuits)
            expired = sum(lim.expired_slots for lim in limiters)
            views = [c.current() for c in circuits]
            opened_at = max((v.opened_at for v in views), default=0.0)
            closed_at = max((v.released_at for v in views), default=0.0)  # the probe's success after the recovery
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=10)
            stack.stop()
    circuit = {"probes": probes, "opened_at": opened_at, "closed_at": closed_at, "delivered": delivered, "expired": expired}
    return report(args, stack, marks, snaps, circuit, logged, left, stats, elapsed, memory_gb, sent)


def report(args, stack, marks, snaps, circuit, logged, left, stats, elapsed, memory_gb, sent) -> int:  # noqa: PLR0913
    nn = stack.ninetynine
    calls = sorted(nn.requests, key=lambda r: r.at)
    down, up = marks.get("down", 0.0), marks.get("up", 0.0)
    during = [r for r in calls if down <= r.at < up]
    waited = [o for o in logged if o["status"] in WAITING]
    held = [o for o in waited if (o.get("details") or {}).get("held_back")]
    probes, opened_at = circuit["probes"], circuit["opened_at"] or up
    before_open = sum(1 for r in during if r.at <= opened_at)
    after = [r.at for r in calls if r.at >= up and r.status != 429]
    limit_rate = args.limit / args.seconds
    drained = _drained_at(sent, logged, up)
    closed = max(up, circuit["closed_at"])  # when the circuit closed: the probe's success after the recovery
    window = [t for t in after if closed <= t <= drained]  # the drain: from the close until the backlog is gone
    rate = (len(window) - 1) / (window[-1] - window[0]) if len(window) > 1 and window[-1] > window[0] else 0.0
    answered = [t for t in after if t <= drained]
    # as the throttle benchmark's steady state: the middle 80% of the drain's requests (bench/throttle_benchmark.py)
    middle = window[len(window) // 10 : (len(window) * 9) // 10 + 1]
    steady = (len(middle) - 1) / (middle[-1] - middle[0]) if len(middle) > 1 and middle[-1] > middle[0] else 0.0
    from_up = len(answered) / (drained - up) if drained > up else 0.0
    ours = sum(1 for r in calls if r.status == 429 and r.fault is None)
    # exactly once
    emails = Counter(str(c.get("email", "")).lower() for c in nn.customers.values())
    twice = sum(1 for n in emails.values() if n > 1)
    reloads = Counter(ref for card in nn.giftcards.values() for kind, _, ref in card.get("history", []) if kind == "reload")
    balances_off = sum(1 for card in nn.giftcards.values() if card["balance"] != Decimal("15.00"))
    done = {(o["entity"], o["record_id"]) for o in logged if o["status"] in ("created", "sent", "updated", "duplicate")}
    # waiting: what the functions and the event source spent while 99minds was down (the probes included), per record
    # sent back to its queue then (a failed try, a wait held back by the open circuit, or a hop toward its due time)
    d, u = snaps.get("down", {"sqs": 0, "gb_s": 0.0}), snaps.get("up", {"sqs": 0, "gb_s": 0.0})
    hops = sum(n for t, n in circuit["delivered"] if down <= t <= up)  # deliveries while it was down
    per_hop_sqs = (u["sqs"] - d["sqs"]) / max(1, hops)
    per_hop_gb_s = (u["gb_s"] - d["gb_s"]) * memory_gb / max(1, hops)
    hour_hops = 3600 / (PRODUCTION_PROBE * MEAN_WAIT_SHARE)  # a record waiting an hour for an open circuit
    hour_cost = hour_hops * (per_hop_sqs * PRICE["sqs_request"] + per_hop_gb_s * PRICE["lambda_gb_s_arm64"])

    say(
        f"outage              99minds down {up - down:.1f} s (>= {args.outage_steps} retry steps of step {args.step:g} s), "
        f"probe every {args.probe:g} s, hop {args.hop:g} s; drained in {elapsed:.1f} s, {stats.invocations} invocations"
    )
    say(f"records in DLQs     {sum(left.values())} after recovery {left} (goal 0)")
    say(
        f"exactly once        {len(done)} of {3 * args.records} transferred; emails created twice {twice}; workflow "
        f"executions {len(nn.executions)} for {args.records} orders (duplicates refused {nn.duplicate_executions}); "
        f"reloads applied more than once {sum(1 for n in reloads.values() if n > 1)}; cards whose balance is not "
        f"iPaaS.com's {balances_off}"
    )
    say(
        f"calls while down    {len(during)} = {before_open} before the circuit opened + {len(during) - before_open} "
        f"while it was open, for {probes} probes (a probe's call makes up to 4 requests: urllib3's in-call retries); "
        f"{len(held)} waits held back by the open circuit without a call"
    )
    say(
        f"after recovery      {rate / limit_rate if limit_rate else 0:.3f} of the limit from the circuit's close until "
        f"the backlog drained ({len(window)} requests in {(window[-1] - window[0]) if len(window) > 1 else 0:.1f} s; goal "
        f">= 0.97), {steady / limit_rate if limit_rate else 0:.3f} in its middle 80% (the throttle benchmark's steady "
        f"state); the close {closed - up:.1f} s after 99minds came back (the first probe after it: probe every "
        f"{args.probe:g} s); counted from the recovery itself {from_up / limit_rate if limit_rate else 0:.3f} "
        f"({len(answered)} requests in {drained - up:.1f} s); busiest {args.seconds} s window "
        f"{busiest_window(after, args.seconds)} of {args.limit}; 429s of ours {ours}"
    )
    say(
        f"waiting             {hops} deliveries while 99minds was down (tries, waits and hops): {per_hop_sqs:.2f} SQS "
        f"requests and {per_hop_gb_s:.4f} Lambda GB-s each; an hour's outage = {hour_hops:.0f} waits a record "
        f"(one per {PRODUCTION_PROBE * MEAN_WAIT_SHARE:.0f} s on average with CircuitProbeSeconds {PRODUCTION_PROBE}): "
        f"${hour_cost * 1e6:.2f} per million records waiting (SQS $0.40/M requests, Lambda arm64 $0.0000133334/GB-s)"
    )
    if args.timeline:  # where the drain lost its slots: requests per second from the close, and the lane's gaps
        spacing = args.seconds / args.limit
        per_second = Counter(int(t - closed) for t in window)
        say(
            "timeline            requests per second from the close: "
            + " ".join(str(per_second.get(i, 0)) for i in range(int(drained - closed) + 1))
        )
        gaps = [(b - a, a - closed) for a, b in zip(window, window[1:], strict=False) if b - a > 2 * spacing]
        say(
            f"lane gaps           {len(gaps)} gaps longer than two slots ({spacing:.3f} s each), "
            f"{sum(g for g, _ in gaps):.1f} s in all; the longest: "
            + ", ".join(f"{g:.2f} s at +{at:.1f} s" for g, at in sorted(gaps, reverse=True)[:8])
            + f"; 99minds slots booked for a record that passed unused (the whole run): {circuit['expired']}"
        )
    ok = not sum(left.values()) and len(done) == 3 * args.records and not twice and not balances_off and not ours
    ok = ok and rate / limit_rate >= 0.97 if limit_rate else ok
    return 0 if ok and not stats.errors else 1


def _drain(stack: LocalStack, threads: list[threading.Thread], max_seconds: float) -> PollStats:
    """Drain until the stream and the outage are over and the queues are empty: a drain ends at its first empty
    check, which the stream's gaps between records can give, so it is started again while they run (bounded)."""
    total, end = PollStats(), time.monotonic() + max_seconds
    for _ in range(100_000):
        feeding = any(t.is_alive() for t in threads)
        total.add(stack.drain(max_seconds=max(0.0, end - time.monotonic()), functions=list(FUNCTIONS)))
        if not feeding or time.monotonic() >= end:
            break
    return total


def _counting(handler, delivered: list[tuple[float, int]]):
    def counted(event, context):
        delivered.append((time.time(), len(event.get("Records") or [])))
        return handler(event, context)

    return counted


def _drained_at(sent: list[tuple[float, str]], logged: list[dict], up: float) -> float:
    """When the backlog was drained: the first time from the recovery on at which every record sent until then was
    transferred (the records waiting at the recovery, and those the stream added while they drained)."""
    done: dict[str, float] = {}
    for o in logged:
        if o["status"] in ("created", "sent", "updated", "duplicate") and "at" in o:
            key = f"{QUEUE_OF[o['entity']]}:{o['record_id']}"
            done[key] = max(done.get(key, 0.0), o["at"])
    drained = up
    for at, key in sorted(sent):  # in the order they were sent: bounded by the stream
        if at > drained:
            break
        drained = max(drained, done.get(key, drained))
    return drained


def _stamp(collector) -> None:
    """Each outcome the local stack collects gets the time it was logged (`at`): when each record was done."""
    emit = collector.emit

    def stamped(record):
        outcome = getattr(record, "outcome", None)
        if isinstance(outcome, dict):
            outcome.setdefault("at", record.created)
        emit(record)

    collector.emit = stamped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=30, help="records per entity in the stream (default 30)")
    parser.add_argument(
        "--limit", type=int, default=150, help="99minds requests allowed per window (default 150: its published limit)"
    )
    parser.add_argument("--seconds", type=int, default=60, help="the window, in seconds (default 60: a minute)")
    parser.add_argument("--step", type=float, default=0.5, help="RetryStepSeconds, scaled from 600 (default 0.5)")
    parser.add_argument("--outage-steps", type=int, default=6, help="the outage lasts this many retry steps (default 6)")
    parser.add_argument("--outage-seconds", type=float, default=0, help="or at least this long")
    parser.add_argument("--probe", type=float, default=2.0, help="CircuitProbeSeconds, scaled from 60 (default 2)")
    parser.add_argument("--threshold", type=int, default=5, help="CircuitFailureThreshold (default 5)")
    parser.add_argument("--hop", type=float, default=3.0, help="the longest hop, scaled from SQS's 900 s (default 3)")
    parser.add_argument("--window", type=float, default=0, help="RetryWindowSeconds (default ten outages)")
    parser.add_argument("--lead", type=float, default=8.0, help="seconds of stream before and after the outage")
    parser.add_argument("--max-seconds", type=float, default=0, help="bound on the drain")
    parser.add_argument("--timeline", action="store_true", help="also print the drain's requests per second and gaps")
    parser.add_argument("--log", default=".local/bench-outage.log", help="handler log lines go here")
    args = parser.parse_args(argv)
    if args.records <= 0 or args.step <= 0 or args.probe <= 0 or not 0 < args.hop <= PRODUCTION_HOP:
        parser.error("--records, --step, --probe must be positive and --hop within (0, 900]")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["QUEUES", "main"]
