"""Throttle benchmark (a script, not a test): `make bench`.

Drains a backlog through the local pipeline (the template on moto, the real handlers behind the event-source poller)
with three functions calling 99minds at once: customers (a create each), invoices (a customer check and a workflow
execution each) and gift cards (a balance read, a reload and a balance read each). They share one limiter, the
DynamoDB one every Lambda would share (ipaas_sync/throttle.py), configured from the 99minds subscription's
`API Throttle Limit` / `API Throttle Seconds`; the 99minds sandbox enforces the same limit the way 99minds does
(per IP, a sliding log) and answers 429 beyond it. Halfway through, a burst of "foreign" 429s is injected (another
system behind the same IP using up the limit): the limiter must wait it out once and climb back to the limit.

Prints, as ratios of one run: the achieved rate against the configured limit, the busiest window as the sandbox
counted it, the 429s (ours against the injected foreign ones), how each record ended (and how many are in a DLQ),
the DynamoDB, SQS and Secrets Manager calls and the Lambda GB-seconds per record, and from those counts the AWS
list-price cost per million transfers (every price stated below); then the same for the hook ingress.
Handler log lines go to .local/bench.log (their size is the CloudWatch Logs figure).

    python bench/throttle_benchmark.py [--limit 60] [--seconds 10] [--backlog 40] [--concurrency 2]
    python bench/throttle_benchmark.py --limit 150 --seconds 60 --backlog 75       # the 99minds default
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import contextvars
import os
import statistics
import sys
import threading
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import boto3

from ipaas_sync.runtime.retry import MAX_HOP_SECONDS
from sandbox.ipaas import IpaasSandbox
from sandbox.ninetynine_minds import NinetyNineMindsSandbox
from sandbox.stack import LOCAL_IN_FLIGHT_SECONDS, LocalStack
from sandbox.stack import NINETYNINE_SYSTEM_ID as SYS

OUT = sys.__stdout__
STORE = "store_b81a893dc2bc6e1a5d"
FUNCTIONS = ("CustomerTransferFunction", "InvoiceTransferFunction", "GiftCardTransferFunction")
INGRESS = "HookIngressFunction"
KINDS = (("customers", "/api/v1/ipaas/customers"), ("workflows", "/api/v1/ipaas/workflows"), ("gift cards", "/api/v1/giftcards"))
QUEUES = ("CustomerNinetyNineMindsQueue", "TransactionNinetyNineMindsQueue", "GiftcardNinetyNineMindsQueue")
DLQS = ("CustomerNinetyNineMindsDLQ", "TransactionNinetyNineMindsDLQ", "GiftcardNinetyNineMindsDLQ")

# AWS list prices, us-east-1, on-demand, as published on the services' pricing pages (checked 2026; no free tier)
PRICE = {
    "lambda_gb_s": 0.0000166667,  # Lambda x86 duration, per GB-second
    "lambda_gb_s_arm64": 0.0000133334,  # Lambda arm64 (Graviton) duration, per GB-second: the template's default
    "lambda_request": 0.20 / 1e6,  # Lambda, per invocation
    "ddb_wru": 0.625 / 1e6,  # DynamoDB on-demand, per write request unit (an item up to 1 KB)
    "ddb_rru": 0.125 / 1e6,  # DynamoDB on-demand, per read request unit (strongly consistent, 4 KB)
    "sqs_request": 0.40 / 1e6,  # SQS standard, per request (64 KB chunk)
    "logs_gb": 0.50,  # CloudWatch Logs ingestion (standard class), per GB
    "logs_gb_month": 0.03,  # CloudWatch Logs storage, per GB-month (kept LogRetentionDays, 30 by default)
    "secrets_call": 0.05 / 10_000,  # Secrets Manager, per API call
    "http_api_request": 1.00 / 1e6,  # API Gateway HTTP API, per request (first 300 million a month)
    "xray_trace": 5.00 / 1e6,  # X-Ray, per trace recorded (only with the template's Tracing=Active)
}
PLATFORM_LOG_BYTES = 330  # Lambda's own START/END/REPORT lines per invocation (not written locally)
WRITE_OPS = {"PutItem", "UpdateItem", "DeleteItem"}
ESM_OPS = {"ReceiveMessage", "DeleteMessageBatch", "ChangeMessageVisibility"}  # what Lambda's event source calls


def say(text: str = "") -> None:
    print(text, file=OUT, flush=True)


_function: contextvars.ContextVar[str | None] = contextvars.ContextVar("bench_function", default=None)


# -- counting what the handlers do ---------------------------------------------------------------------------------------
@dataclass
class Meter:
    """AWS calls (by service and operation), made inside a handler or by the event-source poller, and handler
    durations; counted through botocore's event hooks on the default session every client here is built from
    (Powertools idempotency's too, since 2026-12-02: until then it built a session of its own, and its two writes a
    record went uncounted)."""

    calls: Counter = field(default_factory=Counter)
    tables: Counter = field(default_factory=Counter)  # DynamoDB calls by the handlers, per table name
    ledger_table: str = ""  # its calls are priced by ledger.write_units instead
    ddb_wru: float = 0.0
    ddb_rru: float = 0.0
    durations: dict[str, list[float]] = field(default_factory=dict)
    started: dict[str, list[float]] = field(default_factory=dict)  # each invocation's start (epoch seconds)
    lock: threading.Lock = field(default_factory=threading.Lock)
    on: bool = False

    def install(self) -> None:
        session = boto3._get_default_session()
        session.events.register("before-call", self._before)
        session.events.register("before-parameter-build.dynamodb", self._params)
        session.events.register("after-call.sqs.ReceiveMessage", self._received)

    def _who(self) -> str:
        return _function.get() or "poller"

    def _params(self, params, model, **_):
        """DynamoDB calls by table and their units (before-call only sees the serialized request)."""
        if not self.on or self._who() == "poller":
            return
        op = model.name
        with self.lock:
            self.tables[params.get("TableName", "?")] += 1
            if params.get("TableName") == self.ledger_table:
                return  # the ledger's write units depend on its item's size: ledger.write_units prices them
            if op in WRITE_OPS:
                self.ddb_wru += 1
            elif op == "GetItem":
                self.ddb_rru += 1 if params.get("ConsistentRead") else 0.5
            elif op == "BatchGetItem":
                for spec in params.get("RequestItems", {}).values():
                    self.ddb_rru += len(spec["Keys"]) * (1 if spec.get("ConsistentRead") else 0.5)

    def _before(self, model, params, **_):
        if not self.on:
            return
        service, op, who = model.service_model.service_name, model.name, self._who()
        with self.lock:
            if not (service == "sqs" and op == "ReceiveMessage"):  # receives are counted when they bring messages
                self.calls[(who, service, op)] += 1

    def _received(self, parsed, **_):
        if self.on and parsed.get("Messages"):
            with self.lock:
                self.calls[(self._who(), "sqs", "ReceiveMessage")] += 1

    def wrap(self, name: str, handler):
        def measured(event, context):
            token = _function.set(name)  # a context variable: the record threads of a batch inherit it
            began, started = time.time(), time.perf_counter()
            try:
                return handler(event, context)
            finally:
                elapsed = time.perf_counter() - started
                _function.reset(token)
                with self.lock:
                    self.durations.setdefault(name, []).append(elapsed)
                    self.started.setdefault(name, []).append(began)

        return measured

    def count(self, who: set[str] | None, service: str, ops: set[str] | None = None) -> int:
        return sum(
            n for (w, s, op), n in self.calls.items() if (who is None or w in who) and s == service and (ops is None or op in ops)
        )

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()
            self.tables.clear()
            self.durations.clear()
            self.started.clear()
            self.ddb_wru = self.ddb_rru = 0.0


# -- the backlog -----------------------------------------------------------------------------------------------------------
def backlog(stack: LocalStack, n: int) -> None:
    """n customers, n orders (of customers already in 99minds) and n linked gift cards with one reload each, all on
    their queues before the functions start."""
    ip, nn = stack.ipaas, stack.ninetynine
    customers, orders, cards = [], [], []
    for i in range(n):
        ip.put(
            "customers",
            {
                "id": f"c{i}",
                "customer_number": f"C-{i}",
                "first_name": "Bench",
                "last_name": f"{i}",
                "email_address": f"bench{i}@example.com",
            },
        )
        customers.append({"scope": "customer/created", "id": f"c{i}", "destination": SYS})

        nn.customers[f"customer_b{i}"] = {"id": f"customer_b{i}", "email": f"buyer{i}@example.com", "store_ref_id": STORE}
        ip.set_link(SYS, "customer", f"b{i}", f"customer_b{i}")
        ip.put(
            "transactions",
            {
                "id": f"t{i}",
                "transaction_number": f"SO-{i}",
                "customer_id": f"b{i}",
                "type": "Order",
                "status": "Complete",
                "subtotal": "10.00",
                "total": "12.00",
                "total_qty": "1",
                "lines": [{"id": f"t{i}-1", "sku": "SKU", "qty": "1"}],
            },
        )
        orders.append({"scope": "transaction/created", "id": f"t{i}", "destination": SYS})

        ip.put(
            "giftcards",
            {
                "id": f"g{i}",
                "number": f"GC-B{i}",
                "status": "Active",
                "original_amount": "10.00",
                "balance": "15.00",
                "activities": [
                    {"id": f"g{i}-1", "activity_type": "Reload", "amount": "5.00", "timestamp": "2025-05-01T10:00:00Z"}
                ],
            },
        )
        ip.set_link(SYS, "Gift Card", f"g{i}", nn.add_giftcard(f"GC-B{i}", "10.00")["id"])
        cards.append({"scope": "giftcard/updated", "id": f"g{i}", "destination": SYS})
    for queue, bodies in (
        ("CustomerNinetyNineMindsQueue", customers),
        ("TransactionNinetyNineMindsQueue", orders),
        ("GiftcardNinetyNineMindsQueue", cards),
    ):
        for body in bodies:
            stack.send(queue, body)


def busiest_window(times: list[float], seconds: float) -> int:
    """The most requests in any window of `seconds` (times sorted)."""
    return max((bisect.bisect_left(times, t + seconds) - i for i, t in enumerate(times)), default=0)


def inject_foreign_429s(
    stack: LocalStack, after_requests: int, count: int, retry_after: float, stop: threading.Event, injected: list[float]
) -> None:
    """Once 99minds has answered `after_requests`, `count` 429s with Retry-After for the next requests."""
    while not stop.wait(0.1):
        if len(stack.ninetynine.requests) >= after_requests:
            stack.ninetynine.faults.throttle(count, retry_after=retry_after, path="/api/v1/")
            injected.append(time.time())
            return


# -- cost ------------------------------------------------------------------------------------------------------------------
def cost_lines(per: dict[str, float], label: str) -> list[str]:
    items = {
        "Lambda duration": per["gb_s"] * PRICE["lambda_gb_s"],
        "Lambda requests": per["invocations"] * PRICE["lambda_request"],
        "DynamoDB writes": per["wru"] * PRICE["ddb_wru"],
        "DynamoDB ledger writes": per.get("ledger_wru", 0.0) * PRICE["ddb_wru"],
        "DynamoDB reads": per["rru"] * PRICE["ddb_rru"],
        "SQS requests": per["sqs"] * PRICE["sqs_request"],
        "CloudWatch Logs": per["log_bytes"] / 1e9 * (PRICE["logs_gb"] + PRICE["logs_gb_month"]),
        "Secrets Manager": per["secrets"] * PRICE["secrets_call"],
        "HTTP API": per.get("http", 0.0) * PRICE["http_api_request"],
        "X-Ray": 0.0,
    }
    total = sum(items.values())
    arm64_duration = per["gb_s"] * PRICE["lambda_gb_s_arm64"]
    lines = [
        f"cost per million {label}: ${total * 1e6:.2f} (goal <= $3.00 for transfers) = "
        + ", ".join(f"{k} ${v * 1e6:.2f}" for k, v in items.items() if v or k == "X-Ray"),
        f"    on arm64 (Architecture=arm64, the default): ${(total - items['Lambda duration'] + arm64_duration) * 1e6:.2f} "
        f"(Lambda duration ${arm64_duration * 1e6:.2f} at $0.0000133334/GB-s, for the same duration: Graviton's own "
        "is not measured here); the line above is x86_64",
    ]
    lines.append(
        "    X-Ray $0: the template's Tracing parameter defaults to PassThrough; with Tracing=Active add "
        "$5.00 x the sampled share per million (the default rule samples 1 request a second + 5%)"
    )
    return lines


def ledger_write_units(outcomes: list[dict]) -> int:
    """The transfer ledger's write units for these outcomes (ledger.write_units: one UpdateItem per outcome, a unit
    per started KB of its item, the history cut), record by record in the order they happened."""
    from ipaas_sync.core.models.outcome import Outcome
    from ipaas_sync.runtime import ledger

    by_record: dict[tuple, list[Outcome]] = {}
    for o in outcomes:
        by_record.setdefault((o["entity"], o.get("record_id"), o.get("destination")), []).append(Outcome.model_validate(o))
    return sum(ledger.write_units(items) for items in by_record.values())


def per_record(meter: Meter, functions: set[str], records: int, log_bytes: int, memory_gb: float) -> dict[str, float]:
    durations = [d for f in functions for d in meter.durations.get(f, [])]
    invocations = len(durations)
    return {
        "gb_s": sum(durations) * memory_gb / records,
        "invocations": invocations / records,
        "wru": meter.ddb_wru / records,
        "rru": meter.ddb_rru / records,
        "ddb": meter.count(functions, "dynamodb") / records,
        "sqs": (meter.count(functions, "sqs") + meter.count({"poller"}, "sqs", ESM_OPS)) / records,
        "sqs_handler": meter.count(functions, "sqs") / records,
        "secrets": meter.count(functions, "secretsmanager") / records,
        "log_bytes": (log_bytes + PLATFORM_LOG_BYTES * invocations) / records,
    }


def prices_line(memory_mb: int) -> str:
    return (
        f"prices (us-east-1 list, on-demand): Lambda $0.0000166667/GB-s x86_64, $0.0000133334/GB-s arm64, + $0.20/M "
        f"requests ({memory_mb} MB); DynamoDB "
        "$0.625/M write units, $0.125/M read units; SQS $0.40/M requests; CloudWatch Logs $0.50/GB ingested + "
        "$0.03/GB-month; Secrets Manager $0.05/10k calls; HTTP API $1.00/M requests; X-Ray $5.00/M traces"
    )


# -- the run ---------------------------------------------------------------------------------------------------------------


def limited_stack(limit: int, seconds: int, *, moto_process: bool, parameters: dict) -> LocalStack:
    """The local stack the benchmarks measure: 99minds enforcing `limit` requests per `seconds` and the subscription
    set to it; iPaaS.com's limit out of the way (it is not what is measured)."""
    return LocalStack(
        moto_process=moto_process,
        partners={"ninetynine": NinetyNineMindsSandbox(rate_limit=(limit, seconds))},
        ipaas=IpaasSandbox(rate_limit=(100_000, 60)),
        parameters=parameters,
        subscription_overrides={
            "NinetyNineMindsSubscriptionSecret": {
                "API Throttle Limit": limit,
                "API Throttle Seconds": seconds,
                "API Throttle Limit (To iPaaS)": 100_000,
                "API Throttle Seconds (To iPaaS)": 60,
            }
        },
    )


def measuring(log: str) -> tuple[Path, Meter]:
    """What a benchmark run starts with: its log file's path (the folder made) and the Meter, installed. Every handler
    runs in this one process and shares one Powertools Metrics object (see sandbox/pipeline.py): its warning that a
    dimension was added again is silenced."""
    log_path = Path(log)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    meter = Meter()
    meter.install()
    warnings.filterwarnings("ignore", message="Dimension 'Entity' has already been added")
    return log_path, meter


def run(args) -> int:
    log_path, meter = measuring(args.log)
    # SQS's own 15-minute hop, as in AWS: the local stack compresses it to 1 s for the outage tests and demo (a retry
    # schedule of hours in seconds). It caps only a retry's hops (a rate-limit deferral goes to its slot, whatever the
    # hop); set here so that nothing of the retry schedule runs compressed in this benchmark
    os.environ["RETRY_MAX_HOP_SECONDS"] = str(MAX_HOP_SECONDS)
    injected: list[float] = []
    with open(log_path, "w", encoding="utf-8") as log, contextlib.redirect_stdout(log):
        stack = limited_stack(
            args.limit,
            args.seconds,
            moto_process=args.moto == "process",
            parameters={"NinetyNineMindsConcurrency": args.concurrency},
        )
        stack.start()
        memory_mb = stack.deployment.function_memory(FUNCTIONS[0])  # the template's FunctionMemorySize
        memory_gb = memory_mb / 1024
        from ipaas_sync.runtime import pending

        pending.IN_FLIGHT_SECONDS = LOCAL_IN_FLIGHT_SECONDS
        for name in (*FUNCTIONS, INGRESS):
            stack.handlers[name] = meter.wrap(name, stack.handlers[name])
        function_env = stack.deployment.function_environment(FUNCTIONS[0])
        meter.ledger_table, throttle_table = function_env["LEDGER_TABLE"], function_env["THROTTLE_TABLE"]
        stop = threading.Event()
        try:
            backlog(stack, args.backlog)
            workers = sum(s.max_concurrency for s in stack.deployment.event_sources() if s.queue_logical_id in QUEUES)
            say(
                f"99minds limit {args.limit} per {args.seconds} s (subscription API Throttle Limit / Seconds and the "
                f"sandbox); backlog {args.backlog} customers + {args.backlog} orders + {args.backlog} gift cards "
                f"({6 * args.backlog} requests); {workers} concurrent invocations (MaximumConcurrency "
                f"{args.concurrency} x 3 functions); {args.foreign_429s} foreign 429s (Retry-After "
                f"{args.foreign_retry_after:g} s) injected halfway"
            )
            expected = 6 * args.backlog * args.seconds / args.limit
            threading.Thread(
                target=inject_foreign_429s,
                daemon=True,
                args=(stack, 3 * args.backlog, args.foreign_429s, args.foreign_retry_after, stop, injected),
            ).start()
            log_start = log.tell()
            meter.on = True
            started = time.monotonic()
            stats = stack.drain(max_seconds=args.max_seconds or 2 * expected + 60, functions=list(FUNCTIONS))
            elapsed = time.monotonic() - started
            meter.on = False
            stop.set()
            log.flush()
            transfer_log_bytes = log.tell() - log_start
            left = sum(len(stack.messages(q)) for q in DLQS)
            logged = stack.outcomes(deferrals=True)
            records = {(o["entity"], o["record_id"]) for o in logged}
            outcomes = Counter(o["status"] for o in logged)
            done = {(o["entity"], o["record_id"]) for o in logged if o["status"] in ("created", "sent", "updated", "duplicate")}
            transfer = per_record(meter, set(FUNCTIONS), max(1, len(records)), transfer_log_bytes, memory_gb)
            ledger_wru = ledger_write_units(logged)
            transfer["ledger_wru"] = ledger_wru / max(1, len(records))
            calls_by_op = Counter()
            for (w, s, op), count in sorted(meter.calls.items()):
                if w in FUNCTIONS:
                    calls_by_op[f"{s}:{op}"] += count
            calls_by_table = {
                ("limiter" if t == throttle_table else "ledger" if t == meter.ledger_table else t): c
                for t, c in meter.tables.items()
            }
            limiter_calls = meter.tables[throttle_table]
            from ipaas_sync.platform import scope, throttle

            slept = sum(lim.waited_seconds for lim in throttle._limiters.values())
            first_slot = sum(lim.first_slot_wait_seconds for lim in throttle._limiters.values())
            longest_first = max((lim.longest_first_slot_wait for lim in throttle._limiters.values()), default=0.0)
            late_wakeups = sum(lim.late_wakeups for lim in throttle._limiters.values())
            expired = sum(lim.expired_slots for k, lim in throttle._limiters.items() if k[0].startswith("99minds"))
            # each invocation's (start, billed seconds)
            spans = [s for f in FUNCTIONS for s in zip(meter.started.get(f, []), meter.durations.get(f, []), strict=True)]
            durations = [d for _, d in spans]
            ingress = hook_ingress(stack, meter, log, args.hooks, stack.deployment.function_memory(INGRESS) / 1024)
        finally:
            stop.set()
            stack.stop()

    calls = sorted(stack.ninetynine.requests, key=lambda r: r.at)
    admitted = [r.at for r in calls if r.status != 429]
    ours = [r for r in calls if r.status == 429 and r.fault is None]
    foreign = [r for r in calls if r.status == 429 and r.fault == "throttle"]
    span = (admitted[-1] - admitted[0]) if len(admitted) > 1 else 0.0
    limit_rate = args.limit / args.seconds
    achieved = (len(admitted) - 1) / span / limit_rate if span else 0.0
    # the time the partner itself asked us to stay away (the foreign burst's Retry-After) is not ours to use
    spacing = args.seconds / args.limit
    foreign_times = [r.at for r in foreign]
    blocked = _blocked_idle(admitted, foreign_times, args.foreign_retry_after, spacing)
    achieved_free = (len(admitted) - 1) / (span - blocked) / limit_rate if span > blocked else 0.0
    # steady state: the middle 80% of the answered requests (neither the cold start nor the last records' tail), not
    # counting the time the lane stood idle for the foreign 429s' Retry-After within it
    middle = admitted[len(admitted) // 10 : (len(admitted) * 9) // 10 + 1]
    steady_span = (
        (middle[-1] - middle[0] - _blocked_idle(middle, foreign_times, args.foreign_retry_after, spacing)) if middle else 0
    )
    steady = (len(middle) - 1) / steady_span / limit_rate if steady_span > 0 else 0.0
    # Lambda in steady state: the invocations that started within the steady state's requests, per record's worth of
    # the requests answered there (a long backlog is mostly steady state; the start, when every queue's first batches
    # are parked at once by six cold containers on two shared cores, is not)
    steady_billed = sum(d for t, d in spans if middle and middle[0] <= t <= middle[-1])
    steady_records = len(middle) * max(1, len(records)) / max(1, len(admitted))
    steady_gb_s = steady_billed * memory_gb / steady_records if steady_records else 0.0
    ipaas_requests = len(stack.ipaas.requests)
    per_kind = {kind: sum(1 for r in calls if r.path.startswith(prefix) and r.status != 429) for kind, prefix in KINDS}
    n = max(1, len(records))

    say(
        f"drained in {elapsed:.1f} s: {stats.invocations} invocations, {stats.received} messages received "
        f"({stats.received - n} of them deferred copies or redeliveries)"
    )
    say(f"99minds requests    {len(admitted)} answered ({', '.join(f'{k} {v}' for k, v in per_kind.items())})")
    say(
        f"achieved rate       {len(admitted) / span if span else 0:.3f}/s over {span:.1f} s; configured limit "
        f"{limit_rate:.3f}/s ({args.limit} per {args.seconds} s)"
    )
    say(
        f"achieved / limit    {steady:.3f} in steady state (the middle 80% of the requests, without the foreign 429s' "
        f"Retry-After); {achieved:.3f} over the whole drain, {achieved_free:.3f} without the {blocked:.1f} s the "
        f"Retry-After kept the lane idle; busiest {args.seconds} s window {busiest_window(admitted, args.seconds)}"
        f" of {args.limit}"
    )
    idle = [(a, b - a) for a, b in zip(admitted, admitted[1:], strict=False) if b - a > 1.5 * spacing]
    gaps = [g for _, g in idle]
    if args.show_gaps:
        say("gaps at " + ", ".join(f"+{a - admitted[0]:.1f}:{g:.2f}" for a, g in idle))
    say(
        f"lane idle           {sum(g - spacing for g in gaps):.1f} s in {len(gaps)} gaps longer than 1.5 slots "
        f"(the longest {max(gaps, default=0):.1f} s)"
    )
    say(
        f"429s from 99minds   {len(ours)} caused by our own traffic{_at(ours, admitted)}; {len(foreign)} injected "
        f"foreign ones{_at(foreign, admitted)}; {late_wakeups} slots given up by a thread that woke up too late; "
        f"{expired} 99minds slots booked for a record or a container that passed unused"
    )
    say("after the 429s      " + recovery(admitted, foreign_times, args.foreign_retry_after, args.seconds, args.limit))
    say(f"outcomes            {dict(outcomes)} (logged at INFO: a record's first deferral, its later ones at DEBUG)")
    say(
        f"records             {len(done)} of {3 * args.backlog} transferred; left in DLQs {left}; invocation errors "
        f"{len(stats.errors)}; handler log lines: {log_path}"
    )
    say(
        f"per record          DynamoDB {transfer['ddb']:.2f} calls ({transfer['wru']:.2f} write units and "
        f"{transfer['rru']:.2f} read units outside the ledger, {transfer['ledger_wru']:.2f} ledger write units; "
        f"limiter UpdateItem {limiter_calls / n:.2f} = "
        f"{limiter_calls / max(1, len(admitted) + ipaas_requests):.2f} per partner request: {len(admitted)} to 99minds "
        f"+ {ipaas_requests} to iPaaS.com), SQS {transfer['sqs']:.2f} calls "
        f"({transfer['sqs_handler']:.2f} by the handlers: deferrals and DLQ sends; the rest the event source's "
        f"receives and deletes, empty long polls not counted), Secrets Manager {transfer['secrets']:.3f}"
    )
    say(
        f"                    Lambda {transfer['gb_s']:.3f} GB-s ({transfer['gb_s'] / memory_gb:.2f} s at {memory_mb} MB, of "
        f"which {slept / n:.2f} s asleep for rate-limit slots, the rest local work on this shared machine; median "
        f"invocation {statistics.median(durations) if durations else 0:.2f} s), {transfer['invocations']:.2f} "
        f"invocations, {transfer['log_bytes']:.0f} log bytes; in steady state {steady_gb_s:.3f} GB-s "
        f"({steady_gb_s / memory_gb:.2f} s) per record"
    )
    say(
        f"asleep per record   {slept / n:.2f} s = {first_slot / n:.2f} s for its first slot (the longest "
        f"{longest_first:.2f} s; at most MAX_WAIT {scope.MAX_WAIT:g} s, {scope.RETURNING_SLACK:g} of its slots' "
        f"span more for a record back from a deferral, or a 429's Retry-After) + {(slept - first_slot) / n:.2f} s "
        f"between its own requests (a gift card's three are an interval apart)"
    )
    say(f"AWS calls           {dict(calls_by_op)}; DynamoDB calls by table {calls_by_table}")
    for line in cost_lines(transfer, "transfers"):
        say(line)
    say(cost_lines({**transfer, "gb_s": steady_gb_s}, "transfers in steady state (Lambda duration as in steady state)")[0])
    say(f"hook ingress        {ingress['text']}")
    for line in cost_lines(ingress["per"], "notifications through the hook ingress"):
        say(line)
    say(prices_line(memory_mb))
    return 0 if len(done) == 3 * args.backlog and not left and not stats.errors else 1


def _at(requests: list, admitted: list[float]) -> str:
    """When these requests came, in seconds from the first answered one."""
    if not requests or not admitted:
        return ""
    return f" (at +{', +'.join(f'{r.at - admitted[0]:.1f}' for r in requests)} s)"


def recovery(admitted: list[float], foreign: list[float], retry_after: float, seconds: float, limit: int) -> str:
    """How the lane came back after the foreign 429s: the first answered request after the last one's Retry-After,
    and how many requests the next window of `seconds` carried (the goal: back at the limit once the 429s stop)."""
    if not foreign or not admitted:
        return "no foreign 429s"
    end = max(foreign) + retry_after
    i = bisect.bisect_left(admitted, end)
    if i == len(admitted):
        return "the backlog was done before the last Retry-After ended"
    start = admitted[i]
    n = bisect.bisect_left(admitted, start + seconds) - i
    tail = "; the backlog ended within it" if admitted[-1] < start + seconds else ""
    return (
        f"first request {start - end:.2f} s after the last Retry-After ended; the next {seconds:g} s window "
        f"carried {n} of {limit} ({n / limit:.3f}){tail}"
    )


def _blocked_idle(admitted: list[float], foreign: list[float], retry_after: float, spacing: float) -> float:
    """How long the lane stood idle because of the foreign 429s: each gap between two answered requests that
    overlaps a 429's [t, t + Retry-After], less the one spacing the limit would have kept anyway."""
    blocks = [(t, t + retry_after) for t in foreign]
    return sum(
        b - a - spacing
        for a, b in zip(admitted, admitted[1:], strict=False)
        if b - a > spacing and any(lo < b and a < hi for lo, hi in blocks)
    )


def hook_ingress(stack: LocalStack, meter: Meter, log, hooks: int, memory_gb: float) -> dict:
    """`hooks` iPaaS.com hook requests of one notification each, through the local HTTP API to the ingress."""
    meter.reset()
    start = log.tell()
    meter.on = True
    statuses = Counter()
    for i in range(hooks):
        reply = stack.post_hook(
            [{"scope": "customer/updated", "id": f"h{i}", "destination": SYS, "tracking_guid": f"guid-h{i}"}], hook_id=str(i)
        )
        statuses[reply.status_code] += 1
    meter.on = False
    log.flush()
    per = per_record(meter, {INGRESS}, hooks, log.tell() - start, memory_gb)
    per["http"] = 1.0
    per["sqs"] = per["sqs_handler"]  # no event source: the sends are all
    text = (
        f"{hooks} hook requests of 1 notification (answers {dict(statuses)}): per notification SQS "
        f"{per['sqs']:.2f} calls, DynamoDB {per['ddb']:.2f}, Secrets Manager {per['secrets']:.3f}, Lambda "
        f"{per['gb_s']:.4f} GB-s, {per['log_bytes']:.0f} log bytes, 1 HTTP API request"
    )
    return {"per": per, "text": text}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=60, help="99minds requests allowed per window (default 60)")
    parser.add_argument("--seconds", type=int, default=10, help="the window, in seconds (default 10)")
    parser.add_argument("--backlog", type=int, default=40, help="records per entity on the queues (default 40)")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=2,
        help="MaximumConcurrency of each queue's event source mapping (default 2, the template's)",
    )
    parser.add_argument("--foreign-429s", type=int, default=4, help="429s injected halfway (default 4)")
    parser.add_argument("--foreign-retry-after", type=float, default=2.0, help="their Retry-After, seconds (default 2)")
    parser.add_argument("--hooks", type=int, default=50, help="hook requests for the ingress figures (default 50)")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=0,
        help="bound on the drain (default: twice the backlog's time at the limit, plus a minute)",
    )
    parser.add_argument(
        "--moto",
        choices=("process", "thread"),
        default="process",
        help="moto in a child process (default: as AWS's services are outside the functions) or in this one",
    )
    parser.add_argument("--show-gaps", action="store_true", help="print every idle gap of the lane (when, how long)")
    parser.add_argument("--log", default=".local/bench.log", help="handler log lines go here")
    args = parser.parse_args(argv)
    if args.limit <= 0 or args.seconds <= 0 or args.backlog <= 0 or args.concurrency < 2:
        parser.error("--limit, --seconds and --backlog must be positive and --concurrency at least 2")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
