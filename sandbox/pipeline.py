"""The local pipeline: `make demo`.

Starts moto and the partner sandboxes on 127.0.0.1, deploys template.yaml onto moto, posts sample iPaaS.com
hook requests to the real hook ingress (served on 127.0.0.1 by the local HTTP API adapter), puts a manual
sync and two broken bodies straight on the queue, runs the real handlers through the event-source poller,
and prints what happened: hook -> queue -> handler -> partner in one command.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .stack import NINETYNINE_SYSTEM_ID, LocalStack

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


@dataclass
class Hook:
    """One hook request as iPaaS.com would post it, and the answer the ingress must give."""

    label: str
    notifications: list[dict] = field(default_factory=list)
    expect: int = 202
    key: str | None = None        # None: the subscription's webhook key
    body: str | None = None       # a raw body instead of the notifications
    answer: int | None = None     # the status the ingress gave


def seed_customers(stack: LocalStack) -> tuple[list[Hook], list[tuple[str, object]]]:
    """Sample customers in the iPaaS.com sandbox, the hook requests that announce them, and the messages that
    reach the queue without a hook (a manual sync with an inline record, and two broken bodies that only a
    sender other than the ingress could put there)."""
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
    hooks = [
        Hook("new customers 501, 502, 503", [note("customer/created", "501", dest, 1),
                                              note("customer/created", "502", dest, 2),
                                              note("customer/created", "503", dest, 3)]),
        Hook("linked customer 504 (update), 505 without email, 506 with a bad phone, 509 unknown to iPaaS.com",
             [note("customer/updated", "504", dest, 4), note("customer/created", "505", dest, 5),
              note("customer/created", "506", dest, 6), note("customer/created", "509", dest, 9)]),
        Hook("duplicate of 501", [note("customer/created", "501", dest, 1)]),
        Hook("customer 510 with a wrong webhook key: never queued", [note("customer/created", "510", dest, 10)],
             expect=401, key="whk-not-the-subscription-key-0000"),
        Hook("a notification without destination: never queued", expect=400, body=json.dumps(
            {"id": "hook-bad", "attempt": 1, "notifications": [note("customer/created", "511", dest, 11),
                                                              {"scope": "customer/created", "id": "512"}]})),
    ]
    direct = [
        ("manual sync with inline record 507", note("customer/updated", "507", dest, 7, record=customer(
            "507", "Barbara", "Liskov", "barbara@example.com", "C-507", "+44 20 7946 0958"))),
        ("malformed body", '{"scope": "customer/created", "id": '),
        ("body without destination", json.dumps({"scope": "customer/created", "id": "508"})),
    ]
    return hooks, direct


def post_hooks(stack: LocalStack, hooks: list[Hook]) -> list[str]:
    """POST each hook request to the ingress; returns what did not get its expected answer."""
    unexpected = []
    for n, hook in enumerate(hooks, 1):
        answer = stack.post_hook(hook.notifications, key=hook.key, body=hook.body, hook_id=f"hook-{n}",
                                 correlation_id=f"00000000-0000-4000-9000-{n:012d}")
        text = answer.text if len(answer.text) <= 110 else answer.text[:107] + "..."
        hook.answer = answer.status_code
        say(f"  - {answer.status_code} {text}")
        say(f"        {hook.label}")
        if answer.status_code != hook.expect:
            unexpected.append(f"{hook.label}: {answer.status_code}, expected {hook.expect}")
    return unexpected


def run(max_seconds: float, log_path: Path) -> int:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w", encoding="utf-8") as log, contextlib.redirect_stdout(log):
        stack = LocalStack(retry_delay=1)
        stack.start()
        try:
            say(f"moto server       {stack.moto.url}")
            say(f"iPaaS.com sandbox {stack.ipaas.url}")
            say(f"99minds sandbox   {stack.ninetynine.url}")
            say(f"deployed from template.yaml: {', '.join(sorted(stack.deployment.physical))}")
            say()
            say(f"hook ingress      {stack.hooks_url}")
            say()
            hooks, direct = seed_customers(stack)
            say(f"post {len(hooks)} iPaaS.com hook requests to the ingress (real HookIngressFunction):")
            unexpected = post_hooks(stack, hooks)
            say()
            say(f"enqueue {len(direct)} messages straight on CustomerNinetyNineMindsQueue (not hooks):")
            for label, body in direct:
                stack.send("CustomerNinetyNineMindsQueue", body)
                say(f"  - {label}")
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
                extra = o.get("external_id") or o.get("reason") or ""
                say(f"  {o['status']:<14} {ident:<16} {extra}")
            dlq = stack.messages("CustomerNinetyNineMindsDLQ")
            say()
            say(f"dead-letter queue CustomerNinetyNineMindsDLQ: {len(dlq)} message(s)")
            for m in dlq:
                attrs = {k: v["StringValue"] for k, v in m.get("MessageAttributes", {}).items()}
                say(f"  [{attrs.get('ipaas.error', 'redrive')}] {attrs.get('ipaas.reason', '(no reason)')}")
            counts = stack.collector.by_status()
            sent = counts.get("created", 0) + counts.get("updated", 0)
            say()
            say("summary:")
            say(f"  sent                {sent} (created {counts.get('created', 0)}, updated {counts.get('updated', 0)})")
            say(f"  duplicates skipped  {counts.get('duplicate', 0)}")
            say(f"  skipped             {counts.get('skipped', 0)}")
            say(f"  failed attempts     {counts.get('failed', 0)} (transient, retried)")
            say(f"  in DLQ              {len(dlq)}")
            say(f"  99minds customers   {len(stack.ninetynine.customers)}; POSTs received "
                f"{len(stack.ninetynine.calls('POST', '/api/v1/ipaas/customers'))}")
            say(f"  hook requests       {len(hooks)} ({', '.join(f'{s}: {c}' for s, c in hook_answers(hooks))})")
            say(f"  invocations {stats.invocations} in {elapsed:.1f}s; handler log lines: {log_path}")
            errors = stats.errors + stack.http_api.errors
            if errors:
                say(f"  invocation errors: {errors}")
            if unexpected:
                say(f"  hook answers not as expected: {unexpected}")
            return 1 if errors or unexpected else 0
        finally:
            stack.stop()


def hook_answers(hooks: list[Hook]) -> list[tuple[int | None, int]]:
    counts: dict[int, int] = {}
    for hook in hooks:
        counts[hook.answer] = counts.get(hook.answer, 0) + 1
    return sorted(counts.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-seconds", type=float, default=90, help="bound on the drain (default 90)")
    parser.add_argument("--log", type=Path, default=Path(".local/pipeline.log"), help="handler log lines go here")
    args = parser.parse_args(argv)
    return run(args.max_seconds, args.log)


if __name__ == "__main__":
    sys.exit(main())
