"""The local pipeline: `make demo`.

Starts moto and the partner sandboxes on 127.0.0.1, deploys template.yaml onto moto, enqueues sample
iPaaS.com notifications, runs the real handlers through the event-source poller, and prints what happened.
Each customer is announced once per destination subscription (99minds, Stamped.io, Mintsoft via Makini), each
notification on that destination's queue; the summary is per destination.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

from .stack import CUSTOMER_QUEUES, MAKINI_SYSTEM_ID, NINETYNINE_SYSTEM_ID, STAMPED_SYSTEM_ID, LocalStack

OUT = sys.__stdout__


def say(text: str = "") -> None:
    print(text, file=OUT, flush=True)


def customer(id_: str, first: str, last: str, email: str | None, number: str, phone: str | None = None) -> dict:
    rec = {"id": id_, "first_name": first, "last_name": last, "customer_number": number,
           "email_address": email, "company": None}
    if phone:
        rec["addresses"] = [{"is_primary_billing": True, "phone_number": phone, "city": "London"}]
    return rec


def note(scope: str, id_: str, destination: str, n: int, **extra) -> dict:
    return {"scope": scope, "id": id_, "destination": destination, "action": scope.split("/")[1].upper(),
            "tracking_guid": f"00000000-0000-4000-8000-{n:012d}", **extra}


def seed_customers(stack: LocalStack) -> list[tuple[str, object]]:
    """Sample customers in the iPaaS.com sandbox and the notifications that announce them."""
    dest = NINETYNINE_SYSTEM_ID
    ip = stack.ipaas
    ip.put("customers", customer("501", "Ada", "Lovelace", "ada@example.com", "C-501", "(555) 010-2030"))
    ip.put("customers", customer("502", "Grace", "Hopper", "grace@example.com", "C-502", "+1 202 555 0143"))
    ip.put("customers", customer("503", "Alan", "Turing", "alan@example.com", "C-503"))
    ip.put("customers", customer("504", "Edsger", "Dijkstra", "edsger@example.com", "C-504"))
    ip.put("customers", customer("505", "No", "Email", None, "C-505"))
    ip.put("customers", customer("506", "Bad", "Phone", "bad.phone@example.com", "C-506", "call me maybe"))
    # 504 already exists in 99minds and is linked in iPaaS.com: this transfer is an update
    existing = stack.ninetynine.new_id("customer")
    stack.ninetynine.customers[existing] = {"id": existing, "email": "edsger@example.com", "first_name": "E.",
                                            "last_name": "Dijkstra", "store_ref_id": "store_b81a893dc2bc6e1a5d"}
    ip.set_link(dest, "customer", "504", existing)
    return [
        ("new customer 501", note("customer/created", "501", dest, 1)),
        ("new customer 502", note("customer/created", "502", dest, 2)),
        ("new customer 503", note("customer/created", "503", dest, 3)),
        ("linked customer 504 (update)", note("customer/updated", "504", dest, 4)),
        ("duplicate of 501", note("customer/created", "501", dest, 1)),
        ("manual sync with inline record 507", note("customer/updated", "507", dest, 7, record=customer(
            "507", "Barbara", "Liskov", "barbara@example.com", "C-507", "+44 20 7946 0958"))),
        ("customer 505 without email", note("customer/created", "505", dest, 5)),
        ("customer 506 with a bad phone", note("customer/created", "506", dest, 6)),
        ("malformed body", '{"scope": "customer/created", "id": '),
        ("body without destination", json.dumps({"scope": "customer/created", "id": "508"})),
        ("customer 509 unknown to iPaaS.com", note("customer/created", "509", dest, 9)),
    ]


def seed_destinations(stack: LocalStack) -> list[tuple[str, str, object]]:
    """The same customers (seed_customers put them in iPaaS.com) for the Stamped.io and Makini subscriptions,
    each on its own queue. Returns (label, queue, body). 504 is already in both, not linked: Stamped.io
    de-duplicates it by email (the create updates it), Makini's existence check finds it by code (linked)."""
    stack.stamped.add_customer("Edsger@example.com", firstName="E.", lastName="Dijkstra")
    stack.makini.add_customer("C-504", name="E. Dijkstra")
    inline = customer("507", "Barbara", "Liskov", "barbara@example.com", "C-507", "+44 20 7946 0958")
    out: list[tuple[str, str, object]] = []
    for dest in (STAMPED_SYSTEM_ID, MAKINI_SYSTEM_ID):
        platform, queue, _ = CUSTOMER_QUEUES[dest]
        out += [(f"{platform}: {label}", queue, body) for label, body in [
            ("new customer 501", note("customer/created", "501", dest, 1)),
            ("new customer 502", note("customer/created", "502", dest, 2)),
            ("new customer 503", note("customer/created", "503", dest, 3)),
            ("customer 504, already there but not linked", note("customer/updated", "504", dest, 4)),
            ("duplicate of 501", note("customer/created", "501", dest, 1)),
            ("manual sync with inline record 507", note("customer/updated", "507", dest, 7, record=inline)),
            ("customer 505 without email", note("customer/created", "505", dest, 5)),
            ("customer 506 with a bad phone", note("customer/created", "506", dest, 6)),
        ]]
    return out


def destination_summary(stack: LocalStack, dest: str) -> list[str]:
    """Outcome counts, DLQ reasons and partner record count for one destination subscription."""
    platform, _, dlq_name = CUSTOMER_QUEUES[dest]
    counts: dict[str, int] = {}
    for o in stack.outcomes(destination=dest):
        counts[o["status"]] = counts.get(o["status"], 0) + 1
    dlq = stack.messages(dlq_name)
    records = {NINETYNINE_SYSTEM_ID: stack.ninetynine.customers, STAMPED_SYSTEM_ID: stack.stamped.customers,
               MAKINI_SYSTEM_ID: stack.makini.customers}[dest]
    lines = [f"  {platform} (subscription {dest}):",
             (f"    sent {counts.get('created', 0) + counts.get('updated', 0)} (created {counts.get('created', 0)}, "
              f"updated {counts.get('updated', 0)}), linked {counts.get('linked', 0)}, "
              f"duplicates skipped {counts.get('duplicate', 0)}, skipped {counts.get('skipped', 0)}, "
              f"failed attempts {counts.get('failed', 0)} (transient, retried)"),
             f"    in {dlq_name}: {len(dlq)}; {platform} customers now {len(records)}"]
    for m in dlq:
        attrs = {k: v["StringValue"] for k, v in m.get("MessageAttributes", {}).items()}
        lines.append(f"      [{attrs.get('ipaas.error', 'redrive')}] {attrs.get('ipaas.reason', '(no reason)')}")
    return lines


def run(max_seconds: float, log_path: Path) -> int:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w", encoding="utf-8") as log, contextlib.redirect_stdout(log):
        stack = LocalStack(retry_delay=1)
        stack.start()
        try:
            say(f"moto server       {stack.moto.url}")
            say(f"iPaaS.com sandbox {stack.ipaas.url}")
            say(f"99minds sandbox   {stack.ninetynine.url}")
            say(f"Stamped.io sandbox {stack.stamped.url}")
            say(f"Makini sandbox    {stack.makini.url}")
            say(f"deployed from template.yaml: {', '.join(sorted(stack.deployment.physical))}")
            say()
            samples = seed_customers(stack)
            say(f"enqueue {len(samples)} notifications on CustomerNinetyNineMindsQueue:")
            for label, body in samples:
                stack.send("CustomerNinetyNineMindsQueue", body)
                say(f"  - {label}")
            others = seed_destinations(stack)
            say(f"enqueue {len(others)} notifications for the other destination subscriptions:")
            for label, queue, body in others:
                stack.send(queue, body)
                say(f"  - {queue:<22} {label}")
            say()
            started = time.monotonic()

            def progress(stats):
                say(f"  batch done: {stats.invocations} invocations, {stats.received} received, "
                    f"{stats.deleted} deleted, {stats.failed} left for retry")

            say("draining (real handler, real SQS event shapes, batch size and concurrency from the template):")
            stats = stack.drain(max_seconds=max_seconds, on_batch=progress)
            elapsed = time.monotonic() - started
            say()
            say("outcomes:")
            for o in stack.outcomes():
                if o["status"] == "failed":
                    continue  # a transient attempt; its final outcome is listed too
                ident = f"{o['entity']} {o.get('record_id') or '?'}"
                where = CUSTOMER_QUEUES.get(o.get("destination") or "", ("?",))[0]
                extra = o.get("external_id") or o.get("reason") or ""
                say(f"  {o['status']:<14} {where:<11} {ident:<16} {extra}")
            say()
            say("summary per destination:")
            for dest in CUSTOMER_QUEUES:
                for line in destination_summary(stack, dest):
                    say(line)
            say(f"  invocations {stats.invocations} in {elapsed:.1f}s; handler log lines: {log_path}")
            if stats.errors:
                say(f"  invocation errors: {stats.errors}")
                return 1
            return 0
        finally:
            stack.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-seconds", type=float, default=90, help="bound on the drain (default 90)")
    parser.add_argument("--log", type=Path, default=Path(".local/pipeline.log"), help="handler log lines go here")
    args = parser.parse_args(argv)
    return run(args.max_seconds, args.log)


if __name__ == "__main__":
    sys.exit(main())
