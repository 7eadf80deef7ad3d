"""Throttle benchmark (a script, not a test): `make bench`.

Drains a backlog through the local pipeline (the template on moto, the real handlers behind the event-source poller)
with three functions calling 99minds at once: customers (a create each), invoices (a customer check and a workflow
execution each) and gift cards (a balance read, a reload and a balance read each). They share one limiter, the
DynamoDB one every Lambda would share (ipaas_sync/throttle.py), configured from the 99minds subscription's
`API Throttle Limit` / `API Throttle Seconds`; the 99minds sandbox enforces the same limit the way 99minds does
(per IP, a sliding log) and answers 429 beyond it. No faults are injected: every 429 counted is one the limiter let
through.

Prints the achieved rate against the configured limit, the busiest window as the sandbox counted it, the 429s the
sandbox answered, and how each record ended. Handler log lines go to .local/bench.log.

    python bench/throttle_benchmark.py [--limit 60] [--seconds 10] [--backlog 40] [--concurrency 2]
"""
from __future__ import annotations

import argparse
import bisect
import contextlib
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

from sandbox.ipaas import IpaasSandbox
from sandbox.ninetynine_minds import NinetyNineMindsSandbox
from sandbox.stack import LOCAL_IN_FLIGHT_SECONDS, LocalStack
from sandbox.stack import NINETYNINE_SYSTEM_ID as SYS

OUT = sys.__stdout__
STORE = "store_b81a893dc2bc6e1a5d"
FUNCTIONS = ("CustomerTransferFunction", "InvoiceTransferFunction", "GiftCardTransferFunction")
KINDS = (("customers", "/api/v1/ipaas/customers"), ("workflows", "/api/v1/ipaas/workflows"),
         ("gift cards", "/api/v1/giftcards"))


def say(text: str = "") -> None:
    print(text, file=OUT, flush=True)


def backlog(stack: LocalStack, n: int) -> None:
    """n customers, n orders (of customers already in 99minds) and n linked gift cards with one reload each, all on
    their queues before the functions start."""
    ip, nn = stack.ipaas, stack.ninetynine
    customers, orders, cards = [], [], []
    for i in range(n):
        ip.put("customers", {"id": f"c{i}", "customer_number": f"C-{i}", "first_name": "Bench", "last_name": f"{i}",
                             "email_address": f"bench{i}@example.com"})
        customers.append({"scope": "customer/created", "id": f"c{i}", "destination": SYS})

        nn.customers[f"customer_b{i}"] = {"id": f"customer_b{i}", "email": f"buyer{i}@example.com", "store_ref_id": STORE}
        ip.set_link(SYS, "customer", f"b{i}", f"customer_b{i}")
        ip.put("transactions", {"id": f"t{i}", "transaction_number": f"SO-{i}", "customer_id": f"b{i}", "type": "Order",
                                "status": "Complete", "subtotal": "10.00", "total": "12.00", "total_qty": "1",
                                "lines": [{"id": f"t{i}-1", "sku": "SKU", "qty": "1"}]})
        orders.append({"scope": "transaction/created", "id": f"t{i}", "destination": SYS})

        ip.put("giftcards", {"id": f"g{i}", "number": f"GC-B{i}", "status": "Active", "original_amount": "10.00",
                             "balance": "15.00", "activities": [{"id": f"g{i}-1", "activity_type": "Reload",
                                                                 "amount": "5.00", "timestamp": "2025-05-01T10:00:00Z"}]})
        ip.set_link(SYS, "Gift Card", f"g{i}", nn.add_giftcard(f"GC-B{i}", "10.00")["id"])
        cards.append({"scope": "giftcard/updated", "id": f"g{i}", "destination": SYS})
    for queue, bodies in (("CustomerNinetyNineMindsQueue", customers), ("TransactionNinetyNineMindsQueue", orders),
                          ("GiftcardNinetyNineMindsQueue", cards)):
        for body in bodies:
            stack.send(queue, body)


def busiest_window(times: list[float], seconds: float) -> int:
    """The most requests in any window of `seconds` (times sorted)."""
    return max((bisect.bisect_left(times, t + seconds) - i for i, t in enumerate(times)), default=0)


def run(args) -> int:
    log_path = Path(args.log)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # every handler runs in this one process and shares one Powertools Metrics object (see sandbox/pipeline.py)
    warnings.filterwarnings("ignore", message="Dimension 'Entity' has already been added")
    with open(log_path, "w", encoding="utf-8") as log, contextlib.redirect_stdout(log):
        stack = LocalStack(
            ninetynine=NinetyNineMindsSandbox(rate_limit=(args.limit, args.seconds)),
            ipaas=IpaasSandbox(rate_limit=(100_000, 60)),   # iPaaS.com is not what is measured here
            parameters={"NinetyNineMindsConcurrency": args.concurrency},
            subscription_overrides={"NinetyNineMindsSubscriptionSecret": {
                "API Throttle Limit": args.limit, "API Throttle Seconds": args.seconds,
                "API Throttle Limit (To iPaaS)": 100_000, "API Throttle Seconds (To iPaaS)": 60}})
        stack.start()
        from ipaas_sync import pending  # imported after start(), as in sandbox/pipeline.py
        pending.IN_FLIGHT_SECONDS = LOCAL_IN_FLIGHT_SECONDS
        try:
            backlog(stack, args.backlog)
            workers = sum(s.max_concurrency for s in stack.deployment.event_sources() if s.function in FUNCTIONS)
            say(f"99minds limit {args.limit} per {args.seconds} s (subscription API Throttle Limit / Seconds and the "
                f"sandbox); backlog {args.backlog} customers + {args.backlog} orders + {args.backlog} gift cards; "
                f"{workers} concurrent invocations (MaximumConcurrency {args.concurrency} x 3 functions)")
            started = time.monotonic()
            stats = stack.drain(max_seconds=args.max_seconds, functions=list(FUNCTIONS))
            elapsed = time.monotonic() - started
            left = sum(len(stack.messages(q)) for q in ("CustomerNinetyNineMindsDLQ", "TransactionNinetyNineMindsDLQ",
                                                        "GiftcardNinetyNineMindsDLQ"))
        finally:
            stack.stop()

    calls = sorted(stack.ninetynine.requests, key=lambda r: r.at)
    admitted = [r.at for r in calls if r.status != 429]
    throttled = [r for r in calls if r.status == 429]
    span = (admitted[-1] - admitted[0]) if len(admitted) > 1 else 0.0
    limit_rate = args.limit / args.seconds
    # the limit allows `limit` calls in the first window at once, then limit/seconds per second: the steady rate is
    # measured after the first window
    steady = [t for t in admitted if admitted and t >= admitted[0] + args.seconds]
    steady_span = (steady[-1] - steady[0]) if len(steady) > 1 else 0.0
    outcomes = Counter(o["status"] for o in stack.outcomes())
    per_kind = {kind: sum(1 for r in calls if r.path.startswith(prefix) and r.status != 429) for kind, prefix in KINDS}

    say(f"drained in {elapsed:.1f} s: {stats.invocations} invocations, {stats.received} messages received")
    say(f"99minds requests    {len(admitted)} answered ({', '.join(f'{k} {v}' for k, v in per_kind.items())})")
    say(f"achieved rate       {len(admitted) / span if span else 0:.2f}/s over {span:.1f} s; after the first window "
        f"{(len(steady) - 1) / steady_span if steady_span else 0:.2f}/s")
    say(f"configured limit    {limit_rate:.2f}/s ({args.limit} per {args.seconds} s)")
    say(f"achieved / limit    {(len(steady) - 1) / steady_span / limit_rate if steady_span else 0:.2f} (steady), "
        f"busiest {args.seconds} s window {busiest_window(admitted, args.seconds)} of {args.limit}")
    say(f"429s from 99minds   {len(throttled)}" + (f" (at +{', +'.join(f'{r.at - admitted[0]:.1f}' for r in throttled)} s)"
                                                     if throttled and admitted else ""))
    say(f"outcomes            {dict(outcomes)} (failed = transient, redelivered; e.g. no slot before the "
        f"invocation's end)")
    say(f"left in DLQs        {left}; invocation errors {len(stats.errors)}; handler log lines: {log_path}")
    # every record ended transferred (a `duplicate` is one whose transfer an earlier attempt did, before that attempt
    # failed on a later call, e.g. the link write found no slot)
    done = {(o["entity"], o["record_id"]) for o in stack.outcomes() if o["status"] in ("created", "sent", "updated",
                                                                                        "duplicate")}
    return 0 if len(done) == 3 * args.backlog and not left and not stats.errors else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=60, help="99minds requests allowed per window (default 60)")
    parser.add_argument("--seconds", type=int, default=10, help="the window, in seconds (default 10)")
    parser.add_argument("--backlog", type=int, default=40, help="records per entity on the queues (default 40)")
    parser.add_argument("--concurrency", type=int, default=2,
                        help="MaximumConcurrency of each queue's event source mapping (default 2, the template's)")
    parser.add_argument("--max-seconds", type=float, default=300, help="bound on the drain (default 300)")
    parser.add_argument("--log", default=".local/bench.log", help="handler log lines go here")
    args = parser.parse_args(argv)
    if args.limit <= 0 or args.seconds <= 0 or args.backlog <= 0 or args.concurrency < 2:
        parser.error("--limit, --seconds and --backlog must be positive and --concurrency at least 2")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
