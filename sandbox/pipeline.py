"""The local pipeline: `make demo`.

Starts moto and the partner sandboxes on 127.0.0.1, deploys template.yaml onto moto, posts sample iPaaS.com
hook requests to the real hook ingress (served on 127.0.0.1 by the local HTTP API adapter), puts a manual
sync and two broken bodies straight on the queue, runs the real handlers through the event-source poller,
and prints what happened: hook -> queue -> handler -> partner in one command.

Phases: customers first (so that orders can resolve the customers they create), then completed orders and
validated returns, then the same transactions again (a redelivery and a change after completion), then gift
cards, then the way back (99minds -> iPaaS.com): an order earns points in 99minds, whose webhook brings them back
onto that order in iPaaS.com; adjustments and redemptions made in 99minds become Tickets; iPaaS.com's outbound
hooks for those writes come back to our ingress and end there (no echo).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .stack import (
    CUSTOMER_QUEUES,
    LOCAL_IN_FLIGHT_SECONDS,
    LOCAL_LEDGER_BREAKER_SECONDS,
    MAKINI_SYSTEM_ID,
    NINETYNINE_SYSTEM_ID,
    STAMPED_SYSTEM_ID,
    LocalStack,
)

OUT = sys.__stdout__


def say(text: str = "") -> None:
    print(text, file=OUT, flush=True)


def customer(id_: str, first: str, last: str, email: str | None, number: str, phone: str | None = None) -> dict:
    rec = {"id": id_, "first_name": first, "last_name": last, "customer_number": number, "email_address": email, "company": None}
    if phone:
        rec["addresses"] = [{"is_primary_billing": True, "phone_number": phone, "city": "London"}]
    return rec


def note(scope: str, id_: str, destination: str, n: int, **extra) -> dict:
    return {
        "scope": scope,
        "id": id_,
        "destination": destination,
        "action": scope.split("/")[1].upper(),
        "tracking_guid": f"00000000-0000-4000-8000-{n:012d}",
        **extra,
    }


@dataclass
class Hook:
    """One hook request as iPaaS.com would post it, and the answer the ingress must give."""

    label: str
    notifications: list[dict] = field(default_factory=list)
    expect: int = 202
    key: str | None = None  # None: the subscription's webhook key
    body: str | None = None  # a raw body instead of the notifications
    answer: int | None = None  # the status the ingress gave


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
    stack.ninetynine.customers[existing] = {
        "id": existing,
        "email": "edsger@example.com",
        "first_name": "E.",
        "last_name": "Dijkstra",
        "store_ref_id": "store_b81a893dc2bc6e1a5d",
    }
    ip.set_link(dest, "customer", "504", existing)
    hooks = [
        Hook(
            "new customers 501, 502, 503",
            [
                note("customer/created", "501", dest, 1),
                note("customer/created", "502", dest, 2),
                note("customer/created", "503", dest, 3),
            ],
        ),
        Hook(
            "linked customer 504 (update), 505 without email, 506 with a bad phone, 509 unknown to iPaaS.com",
            [
                note("customer/updated", "504", dest, 4),
                note("customer/created", "505", dest, 5),
                note("customer/created", "506", dest, 6),
                note("customer/created", "509", dest, 9),
            ],
        ),
        Hook("duplicate of 501", [note("customer/created", "501", dest, 1)]),
        Hook(
            "customer 510 with a wrong webhook key: never queued",
            [note("customer/created", "510", dest, 10)],
            expect=401,
            key="whk-not-the-subscription-key-0000",
        ),
        Hook(
            "a notification without destination: never queued",
            expect=400,
            body=json.dumps(
                {
                    "id": "hook-bad",
                    "attempt": 1,
                    "notifications": [note("customer/created", "511", dest, 11), {"scope": "customer/created", "id": "512"}],
                }
            ),
        ),
    ]
    direct = [
        (
            "manual sync with inline record 507",
            note(
                "customer/updated",
                "507",
                dest,
                7,
                record=customer("507", "Barbara", "Liskov", "barbara@example.com", "C-507", "+44 20 7946 0958"),
            ),
        ),
        ("malformed body", '{"scope": "customer/created", "id": '),
        ("body without destination", json.dumps({"scope": "customer/created", "id": "508"})),
    ]
    return hooks, direct


def post_hooks(stack: LocalStack, hooks: list[Hook]) -> list[str]:
    """POST each hook request to the ingress; returns what did not get its expected answer."""
    unexpected = []
    for n, hook in enumerate(hooks, 1):
        answer = stack.post_hook(
            hook.notifications,
            key=hook.key,
            body=hook.body,
            hook_id=f"hook-{n}",
            correlation_id=f"00000000-0000-4000-9000-{n:012d}",
        )
        text = answer.text if len(answer.text) <= 110 else answer.text[:107] + "..."
        hook.answer = answer.status_code
        say(f"  - {answer.status_code} {text}")
        say(f"        {hook.label}")
        if answer.status_code != hook.expect:
            unexpected.append(f"{hook.label}: {answer.status_code}, expected {hook.expect}")
    return unexpected


TXN_QUEUE = "TransactionNinetyNineMindsQueue"
CUSTOMER_QUEUE = "CustomerNinetyNineMindsQueue"
GIFTCARD_QUEUE = "GiftcardNinetyNineMindsQueue"


def transaction(id_: str, number: str, customer_id: str, **kw) -> dict:
    return {
        "id": id_,
        "transaction_number": number,
        "customer_id": customer_id,
        "type": "Order",
        "status": "Complete",
        "subtotal": "90.00",
        "tax_amount": "9.50",
        "total": "99.50",
        "total_qty": "3",
        "custom_fields": [{"id": "51", "custom_field_name": "LoyaltyPointsClaimed", "value": "150"}],
        "lines": [{"id": f"{id_}1", "sku": "MUG-01", "qty": "2"}, {"id": f"{id_}2", "sku": "TEE-01", "qty": "1"}],
        **kw,
    }


def seed_transactions(stack: LocalStack) -> list[tuple[str, object]]:
    """Completed orders and validated returns in the iPaaS.com sandbox, and their notifications."""
    dest, ip = NINETYNINE_SYSTEM_ID, stack.ipaas
    # an order of customer 504 that reached 99minds earlier: the original order of return RT-2003
    ip.put("transactions", transaction("2999", "SO-1999", "504"))
    stack.ninetynine.executions["SO-1999"] = {
        "id": stack.ninetynine.new_id("execution"),
        "idempotent_id": "SO-1999",
        "trigger": "order_paid",
        "status": "completed",
    }
    ip.put("transactions", transaction("2001", "SO-2001", "501"))
    ip.put("transactions", transaction("2002", "SO-2002", "504", total="250.00", subtotal="230.00", total_qty="5"))
    ip.put(
        "transactions",
        transaction(
            "2003",
            "RT-2003",
            "504",
            type="Validated Return",
            transaction_parent_id="2999",
            subtotal="-30.00",
            total="-33.17",
            total_qty="1",
            custom_fields=[{"id": "52", "custom_field_name": "LoyaltyPointsClaimed", "value": "-50"}],
            lines=[{"id": "20031", "sku": "MUG-01", "qty": "1"}],
        ),
    )
    ip.put("transactions", transaction("2004", "SO-2004-D", "501"))
    ip.put("transactions", transaction("2005", "SO-2005-GC", "502"))
    ip.put("transactions", transaction("2006", "SO-2006", "502", status="Pending"))
    ip.put("transactions", transaction("2007", "SO-2007", "505"))
    ip.put("transactions", transaction("2008", "RT-2008", "503", type="Validated Return", total=None))
    ip.put("transactions", transaction("2009", "Q-2009", "503", type="Quote"))
    return [
        ("order SO-2001 of customer 501 (created above)", note("transaction/created", "2001", dest, 101)),
        ("order SO-2002 of customer 504 (linked earlier)", note("transaction/updated", "2002", dest, 102)),
        ("validated return RT-2003 of order SO-1999", note("transaction/updated", "2003", dest, 103)),
        ("order SO-2004-D (excluded suffix)", note("transaction/updated", "2004", dest, 104)),
        ("order SO-2005-GC (excluded suffix)", note("transaction/updated", "2005", dest, 105)),
        ("order SO-2006 still Pending", note("transaction/updated", "2006", dest, 106)),
        ("order SO-2007 of customer 505 (never transferred)", note("transaction/updated", "2007", dest, 107)),
        ("validated return RT-2008 without a total", note("transaction/updated", "2008", dest, 108)),
        ("quote Q-2009 (unsupported type)", note("transaction/created", "2009", dest, 109)),
    ]


def later_transactions(stack: LocalStack) -> list[tuple[str, object]]:
    """The same transaction numbers again: a redelivery, and a change after completion."""
    dest = NINETYNINE_SYSTEM_ID
    stack.ipaas.put("transactions", transaction("2002", "SO-2002", "504", total="275.00", subtotal="255.00", total_qty="5"))
    return [
        ("order SO-2001 again (redelivered)", note("transaction/updated", "2001", dest, 101)),
        ("order SO-2002 changed after completion (total 250.00 -> 275.00)", note("transaction/updated", "2002", dest, 110)),
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
        out += [
            (f"{platform}: {label}", queue, body)
            for label, body in [
                ("new customer 501", note("customer/created", "501", dest, 1)),
                ("new customer 502", note("customer/created", "502", dest, 2)),
                ("new customer 503", note("customer/created", "503", dest, 3)),
                ("customer 504, already there but not linked", note("customer/updated", "504", dest, 4)),
                ("duplicate of 501", note("customer/created", "501", dest, 1)),
                ("manual sync with inline record 507", note("customer/updated", "507", dest, 7, record=inline)),
                ("customer 505 without email", note("customer/created", "505", dest, 5)),
                ("customer 506 with a bad phone", note("customer/created", "506", dest, 6)),
            ]
        ]
    return out


def destination_summary(stack: LocalStack, dest: str) -> list[str]:
    """Outcome counts, DLQ reasons and partner record count for one destination subscription."""
    platform, _, dlq_name = CUSTOMER_QUEUES[dest]
    counts: dict[str, int] = {}
    for o in stack.outcomes(destination=dest):
        if o["entity"] == "customer":
            counts[o["status"]] = counts.get(o["status"], 0) + 1
    dlq = stack.messages(dlq_name)
    records = {
        NINETYNINE_SYSTEM_ID: stack.ninetynine.customers,
        STAMPED_SYSTEM_ID: stack.stamped.customers,
        MAKINI_SYSTEM_ID: stack.makini.customers,
    }[dest]
    lines = [
        f"  {platform} (subscription {dest}):",
        (
            f"    sent {counts.get('created', 0) + counts.get('updated', 0)} (created {counts.get('created', 0)}, "
            f"updated {counts.get('updated', 0)}), linked {counts.get('linked', 0)}, "
            f"duplicates skipped {counts.get('duplicate', 0)}, skipped {counts.get('skipped', 0)}, "
            f"failed attempts {counts.get('failed', 0)} (transient, retried)"
        ),
        f"    in {dlq_name}: {len(dlq)}; {platform} customers now {len(records)}",
    ]
    for m in dlq:
        attrs = {k: v["StringValue"] for k, v in m.get("MessageAttributes", {}).items()}
        lines.append(f"      [{attrs.get('ipaas.error', 'redrive')}] {attrs.get('ipaas.reason', '(no reason)')}")
    return lines


def enqueue(stack: LocalStack, queue: str, samples: list[tuple[str, object]]) -> None:
    say(f"enqueue {len(samples)} notifications on {queue}:")
    for label, body in samples:
        stack.send(queue, body)
        say(f"  - {label}")


def describe(o: dict) -> str:
    if o.get("entity") == "loyalty" and o.get("details") and o.get("status") not in ("skipped",):
        d = o["details"]
        points = f" {d['points']} points ({d['transaction_type']})" if "points" in d else ""
        return f"{d['kind']}{points} -> iPaaS.com {d['target']} {o.get('external_id')}"
    if o.get("status") == "mismatch":
        return o.get("reason") or ""
    if o.get("entity") == "transaction" and o.get("status") in ("sent", "duplicate") and o.get("details"):
        d = o["details"]
        return f"{d.get('transaction_number')} {d.get('trigger')} -> {o.get('external_id') or '(no id in reply)'}"
    return o.get("external_id") or o.get("reason") or ""


def destination_label(o: dict) -> str:
    """Where the record went: the destination's platform and subscription (99minds -> iPaaS.com for loyalty)."""
    system_id = o.get("destination")
    if not system_id:
        return "?"
    if o.get("entity") == "loyalty":
        return f"iPaaS.com ({system_id})"
    platform = CUSTOMER_QUEUES.get(str(system_id), (str(system_id),))[0]
    return f"{platform} ({system_id})" if platform != str(system_id) else str(system_id)


def outcome_line(o: dict, result: str | None = None) -> str:
    """One outcome of the demo's list: status, record, destination, result (the header: the column names)."""
    ident = f"{o['entity']} {o.get('record_id') or '?'}" if o.get("status") != "status" else o["entity"]
    dest = destination_label(o) if o.get("status") != "status" else o["destination"]
    return f"  {o['status']:<14} {ident:<38} {dest:<20} {describe(o) if result is None else result}"


STATUS_COLUMNS = (
    "created",
    "updated",
    "sent",
    "linked",
    "duplicate",
    "skipped",
    "mismatch",
    "failed",
    "retrying",
    "dead-lettered",
)


def giftcard(id_: str, *, original: str, balance: str, activities: list[dict], status: str = "Active", **extra) -> dict:
    return {
        "id": id_,
        "number": f"GC-{id_}",
        "type": "Gift Card",
        "status": status,
        "original_amount": original,
        "balance": balance,
        "activities": activities,
        **extra,
    }


def activity(id_: str, type_: str, amount: str, day: int, ref: str | None = None) -> dict:
    return {
        "id": id_,
        "activity_type": type_,
        "amount": amount,
        "timestamp": f"2025-03-{day:02d}T10:00:00Z",
        "transaction_reference_id": ref,
    }


def seed_giftcards(stack: LocalStack) -> list[tuple[str, object]]:
    """Sample gift cards: an issue whose answer is lost after 99minds issued the card, a reload behind a 503,
    redemptions listed out of order, a duplicate delivery, a balance mismatch, a bad amount and a void card.
    Each fault is on a path only one card uses (one issue, one reload), so the demo is deterministic."""
    dest = NINETYNINE_SYSTEM_ID
    ip, nn = stack.ipaas, stack.ninetynine
    ip.put(
        "giftcards",
        giftcard(
            "601",
            original="50.00",
            balance="37.50",
            customer_id="504",
            activities=[
                activity("601-2", "Redeem", "12.50", 4, "ORD-2001"),  # listed first, happened last: applied in order
                activity("601-1", "Issue", "50.00", 1, "ORD-1001"),
            ],
        ),
    )
    ip.put(
        "giftcards",
        giftcard(
            "602",
            original="20.00",
            balance="42.50",
            activities=[
                activity("602-1", "Issue", "20.00", 1),
                activity("602-2", "Reload", "30.00", 3, "ORD-1030"),
                activity("602-3", "Redeem", "7.50", 5, "ORD-1042"),
            ],
        ),
    )
    ip.put("giftcards", giftcard("603", original="10.00", balance="5.00", activities=[activity("603-1", "Redeem", "5.00", 2)]))
    ip.put("giftcards", giftcard("604", original="10.00", balance="5.00", activities=[activity("604-1", "Redeem", "-5.00", 2)]))
    ip.put("giftcards", giftcard("605", original="10.00", balance="0.00", status="Void", activities=[]))
    # 602 and 603 are already in 99minds and linked in iPaaS.com; 603's 99minds balance was off before
    for id_, balance in (("602", "20.00"), ("603", "15.00")):
        ip.set_link(dest, "Gift Card", id_, nn.add_giftcard(f"GC-{id_}", balance)["id"])
    nn.faults.fail(1, status=503, path="/api/v1/giftcards/reload")  # not applied: retried, applied once
    # issued, but the answer is lost: the retry finds the card at 99minds by its number and does not re-issue
    nn.faults.apply_then_hang(1, seconds=DEMO_READ_TIMEOUT + 2, path="/api/v1/giftcards/issue")
    return [
        ("new card 601 (issue, answer lost; a redemption)", note("giftcard/created", "601", dest, 601)),
        ("linked card 602 (a reload behind a 503, a redemption)", note("giftcard/updated", "602", dest, 602)),
        ("duplicate of 602", note("giftcard/updated", "602", dest, 602)),
        ("linked card 603 whose 99minds balance differs", note("giftcard/updated", "603", dest, 603)),
        ("card 604 with a negative amount", note("giftcard/updated", "604", dest, 604)),
        ("void card 605 never issued", note("giftcard/created", "605", dest, 605)),
    ]


# The demo's lost answer (a redemption 99minds applies but does not answer in time) should take seconds,
# not the production read timeout of 10 s.
DEMO_READ_TIMEOUT = 2.0
QUEUES = (
    ("customer", "CustomerNinetyNineMindsQueue", "CustomerNinetyNineMindsDLQ"),
    ("giftcard", "GiftcardNinetyNineMindsQueue", "GiftcardNinetyNineMindsDLQ"),
)


LOYALTY_FUNCTIONS = ["InvoiceTransferFunction", "LoyaltyTransferFunction", "CustomerTransferFunction"]


def loyalty_round_trip(stack: LocalStack, max_seconds: float, progress) -> tuple[list[str], dict, int]:
    """The 99minds -> iPaaS.com phase. Returns (lines for the summary, counts, invocations)."""
    ip, nn, dest = stack.ipaas, stack.ninetynine, NINETYNINE_SYSTEM_ID
    stack.connect_99minds_webhooks()
    say(f"99minds webhooks -> {stack.ninetynine_hook_url} (the 99minds sandbox posts one after every change)")
    ip.put("transactions", transaction("3001", "SO-3001", "501", total="120.00", subtotal="110.00"))
    before = {k: v for k, v in ip.records["transactions"]["3001"].items() if k != "custom_fields"}
    answer = stack.post_hook([note("transaction/created", "3001", dest, 301)], hook_id="hook-loyalty")
    say(f"  - {answer.status_code} order SO-3001 of customer 501 (120.00) to the 99minds order workflow")
    c501, c502 = ip.link(dest, "customer", "501"), ip.link(dest, "customer", "502")
    adjustment = nn.adjust_points(c502, 25)
    say(f"  - manual adjustment in 99minds: +25 points for customer 502 ({adjustment['id']})")
    nn._upsert_customer(
        {},
        {
            "email": "katherine@example.com",
            "first_name": "Katherine",
            "last_name": "Johnson",
            "customer_number": "C-99M-1",
            "store_ref_id": "store_b81a893dc2bc6e1a5d",
        },
    )
    made_in_99minds = next(c for c in nn.customers.values() if c["email"] == "katherine@example.com")["id"]
    say(f"  - a customer made in 99minds: {made_in_99minds}")
    unknown = stack.post_99minds_hook("tier/changed", "tier_01901310df875def01")
    say(f"  - {unknown.status_code} {unknown.text}  (a 99minds event this product does not transfer)")
    wrong = stack.post_99minds_hook("loyalty_transaction/created", adjustment["id"], key="whk-wrong-0000000000000")
    say(f"  - {wrong.status_code} {wrong.text}  (a webhook with a wrong key)")
    say("draining (order workflow, loyalty webhooks, customers):")
    stats = stack.drain(max_seconds=max_seconds, functions=LOYALTY_FUNCTIONS, on_batch=progress)
    invocations = stats.invocations
    redemption = nn.redeem_points(c501, 40)
    say(f"  - redemption at the till in 99minds: -40 points of customer 501 ({redemption['id']})")
    stats = stack.drain(max_seconds=max_seconds, functions=LOYALTY_FUNCTIONS, on_batch=progress)
    invocations += stats.invocations
    writes_to_99minds = len(nn.calls("POST"))
    echo_hooks, echo_rounds = 0, 0
    while (fired := ip.outbox[:]) and echo_rounds < 3:  # bounded: an echo loop would show as more rounds
        echo_rounds += 1
        echo_hooks += len(fired)
        reply = stack.forward_ipaas_hooks()
        say(f"  - {reply.status_code} iPaaS.com's outbound hooks for those {len(fired)} writes, back to /hooks")
        invocations += stack.drain(max_seconds=max_seconds, functions=LOYALTY_FUNCTIONS, on_batch=progress).invocations
    echoed_writes = len(nn.calls("POST")) - writes_to_99minds
    order = ip.records["transactions"]["3001"]
    fields = {f["custom_field_name"]: f["value"] for f in order.get("custom_fields") or []}
    untouched = before == {k: v for k, v in order.items() if k != "custom_fields"}
    tickets = [r for r in ip.records["transactions"].values() if r.get("type") == "Ticket"]
    outcomes = [o for o in stack.outcomes() if o["entity"] == "loyalty" and o["status"] != "failed"]
    counts = {
        "round trips": int(bool(fields.get("99minds Loyalty Points"))),
        "tickets": len(tickets),
        "customers written": len({w["id"] for w in ip.writes if w["area"] == "customers"}),
        "echo hooks": echo_hooks,
        "echoed 99minds writes": echoed_writes,
    }
    lines = [
        "  99minds -> iPaaS.com (loyalty)",
        f"    order -> points -> order  SO-3001 earned {fields.get('99minds Loyalty Points', 'NOTHING')} points in "
        f"99minds; on iPaaS.com order 3001 as {fields}; lines/totals/status untouched: {untouched}",
        f"    Tickets created     {len(tickets)} ({', '.join(t['transaction_number'] for t in tickets)})",
        f"    customers written   {counts['customers written']} (loyalty card id + points balance; one created from 99minds)",
        "    outcomes            "
        + ", ".join(
            f"{s}: {sum(o['status'] == s for o in outcomes)}" for s in ("created", "updated", "linked", "duplicate", "skipped")
        ),
        f"    99minds webhooks    {len(nn.webhooks)} sent, answered {sorted({str(w['status']) for w in nn.webhooks})}",
        f"    echo                {echo_hooks} iPaaS.com hooks came back in {echo_rounds} round(s); 99minds writes "
        f"from them: {echoed_writes}",
    ]
    return lines, counts, invocations


DEMO_OVERRIDE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "mappings" / "refund-formula.json"


def deploy_demo_override(stack: LocalStack) -> str:
    """One subscription with a mapping override (docs/mappings.md), deployed as `ipaas-sync mapping deploy` does:
    the 99minds subscription's refund amount leaves out shipping (the demo's returns carry none: same numbers)."""
    version = stack.mappings().deploy(
        NINETYNINE_SYSTEM_ID, json.loads(DEMO_OVERRIDE.read_text()), "demo: refund amount without shipping"
    )
    stack.mapping_takes_effect()
    return (
        f"mapping override  subscription {NINETYNINE_SYSTEM_ID} (99minds): version {version} of "
        f"docs/examples/mappings/refund-formula.json, the refund amount without shipping "
        f"(ipaas-sync mapping history --destination {NINETYNINE_SYSTEM_ID})"
    )


OUTAGE_SECONDS = 6.0  # the demo's 99minds outage: several steps of the local retry schedule (sandbox/stack.py)
OUTAGE_CUSTOMERS = 8


def outage_ridden_out(stack: LocalStack, max_seconds: float, progress) -> tuple[list[str], list[str]]:
    """99minds down (503s and connection resets) while new customers arrive, then back: the retry schedule and the
    circuit ride it out with no one (docs/reliability.md). Returns the summary lines and anything unexpected."""
    from ipaas_sync.tools.cli import main as cli

    ids = [f"7{n:02d}" for n in range(OUTAGE_CUSTOMERS)]
    for id_ in ids:
        stack.ipaas.put("customers", customer(id_, "Outage", f"O{id_}", f"outage{id_}@example.com", f"C-{id_}"))
    faults = stack.ninetynine.faults
    faults.fail(100_000, status=503, path="/api/v1/")
    faults.reset(100_000, path="/api/v1/")
    say(f"99minds goes down (every call answered 503 or reset) for {OUTAGE_SECONDS:g} s; {len(ids)} new customers arrive")
    before = len(stack.ninetynine.requests)
    enqueue(
        stack,
        CUSTOMER_QUEUE,
        [(f"customer {id_}", note("customer/created", id_, NINETYNINE_SYSTEM_ID, 700 + n)) for n, id_ in enumerate(ids)],
    )
    stack.drain(max_seconds=OUTAGE_SECONDS, functions=["CustomerTransferFunction"], on_batch=progress)
    down_calls = len(stack.ninetynine.requests) - before
    say("$ ipaas-sync circuit status   (while 99minds is down)")
    with contextlib.redirect_stdout(OUT):
        cli(["circuit", "status"])
    say(f"$ ipaas-sync status --entity customer --id {ids[-1]} --destination {NINETYNINE_SYSTEM_ID}")
    with contextlib.redirect_stdout(OUT):
        cli(["status", "--entity", "customer", "--id", ids[-1], "--destination", NINETYNINE_SYSTEM_ID])
    faults.clear()
    say("99minds is back: draining")
    stack.drain(max_seconds=max_seconds, functions=["CustomerTransferFunction"], on_batch=progress)
    mine = [o for o in stack.outcomes(deferrals=True) if o.get("record_id") in ids]
    created = sorted({o["record_id"] for o in mine if o["status"] == "created"})
    held = sum(1 for o in mine if (o.get("details") or {}).get("held_back"))
    tried = sum(1 for o in mine if o["status"] == "retrying" and not (o.get("details") or {}).get("held_back"))
    parked = [o for o in mine if o["status"] == "dead-lettered"]
    emails = [c["email"] for c in stack.ninetynine.customers.values() if str(c.get("email", "")).startswith("outage")]
    lines = [
        f"  99minds outage      {len(created)} of {len(ids)} customers created after it ({len(emails)} in 99minds, "
        f"{len(emails) - len(set(emails))} twice); {len(parked)} in a DLQ; {down_calls} calls to 99minds while it was "
        f"down ({tried} failed tries, {held} waits held back by the open circuit without a call)"
    ]
    unexpected = [] if created == ids and not parked and len(emails) == len(set(emails)) == len(ids) else [lines[0]]
    return lines, unexpected


def run(max_seconds: float, log_path: Path) -> int:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w", encoding="utf-8") as log, contextlib.redirect_stdout(log):
        stack = LocalStack(retry_delay=1)
        stack.start()
        # imported after start(): the handlers' logger then binds the log file, not the terminal
        from ipaas_sync.platform import http
        from ipaas_sync.runtime import ledger, pending

        http.READ_TIMEOUT = DEMO_READ_TIMEOUT
        pending.IN_FLIGHT_SECONDS = LOCAL_IN_FLIGHT_SECONDS
        ledger.BREAKER_SECONDS = LOCAL_LEDGER_BREAKER_SECONDS
        try:
            say(f"moto server       {stack.moto.url}")
            say(f"iPaaS.com sandbox {stack.ipaas.url}")
            say(f"99minds sandbox   {stack.ninetynine.url}")
            say(f"Stamped.io sandbox {stack.stamped.url}")
            say(f"Makini sandbox    {stack.makini.url}")
            say(f"deployed from template.yaml: {', '.join(sorted(stack.deployment.physical))}")
            say()
            say(f"hook ingress      {stack.hooks_url}")
            say(deploy_demo_override(stack))
            say()
            started = time.monotonic()
            errors: list[str] = []
            invocations = 0

            def progress(stats):
                say(
                    f"  batch done: {stats.invocations} invocations, {stats.received} received, "
                    f"{stats.deleted} deleted, {stats.failed} left for retry"
                )

            phases = [
                ("customers", CUSTOMER_QUEUE, "CustomerTransferFunction", seed_customers),
                ("completed orders and validated returns", TXN_QUEUE, "InvoiceTransferFunction", seed_transactions),
                ("the same transactions again", TXN_QUEUE, "InvoiceTransferFunction", later_transactions),
                ("gift cards", GIFTCARD_QUEUE, "GiftCardTransferFunction", seed_giftcards),
            ]
            hooks: list[Hook] = []
            unexpected: list[str] = []
            for title, queue, function, samples in phases:
                say(f"== {title}")
                if samples is seed_customers:
                    hooks, direct = seed_customers(stack)
                    say(f"post {len(hooks)} iPaaS.com hook requests to the ingress (real HookIngressFunction):")
                    unexpected = post_hooks(stack, hooks)
                    say()
                    enqueue(stack, queue, direct)
                    others = seed_destinations(stack)
                    say(f"enqueue {len(others)} notifications for the other destination subscriptions:")
                    for label, other_queue, body in others:
                        stack.send(other_queue, body)
                        say(f"  - {other_queue:<22} {label}")
                else:
                    enqueue(stack, queue, samples(stack))
                say("draining (real handler, real SQS event shapes, batch size and concurrency from the template):")
                stats = stack.drain(max_seconds=max_seconds, functions=[function], on_batch=progress)
                invocations += stats.invocations
                errors += stats.errors
                say()
            say("== a 99minds outage, ridden out (the retry schedule and the circuit; no one replays anything)")
            outage_lines, outage_unexpected = outage_ridden_out(stack, max_seconds, progress)
            say()
            say("== loyalty points back into iPaaS.com (99minds webhooks -> LoyaltyTransferFunction)")
            loyalty_lines, loyalty, more = loyalty_round_trip(stack, max_seconds, progress)
            invocations += more
            say()
            elapsed = time.monotonic() - started
            say("outcomes:")
            say(outcome_line({"status": "status", "entity": "record", "destination": "destination"}, "result"))
            for o in stack.outcomes():
                if o["status"] == "failed":
                    continue  # a transient attempt; its final outcome is listed too
                say(outcome_line(o))
            dlqs = sorted(k for k in stack.deployment.of_type("AWS::SQS::Queue") if k.endswith("DLQ"))
            in_dlq = 0
            for dlq in dlqs:
                messages = stack.messages(dlq)
                in_dlq += len(messages)
                say()
                say(f"dead-letter queue {dlq}: {len(messages)} message(s)")
                for m in messages:
                    attrs = {k: v["StringValue"] for k, v in m.get("MessageAttributes", {}).items()}
                    say(f"  [{attrs.get('ipaas.error', 'redrive')}] {attrs.get('ipaas.reason', '(no reason)')}")
            say()
            say("summary per entity (failed = transient attempts, retried):")
            say(f"  {'entity':<12}" + "".join(f"{c:>14}" for c in STATUS_COLUMNS))
            entities = sorted({o["entity"] for o in stack.outcomes()})
            for entity in entities:
                counts: dict[str, int] = {}
                for o in stack.outcomes():
                    if o["entity"] == entity:
                        counts[o["status"]] = counts.get(o["status"], 0) + 1
                say(f"  {entity:<12}" + "".join(f"{counts.get(c, 0):>14}" for c in STATUS_COLUMNS))
            say(f"  in DLQs             {in_dlq}")
            say("customers per destination:")
            for dest in CUSTOMER_QUEUES:
                for line in destination_summary(stack, dest):
                    say(line)
            say(
                f"  99minds customers   {len(stack.ninetynine.customers)}; POSTs received "
                f"{len(stack.ninetynine.calls('POST', '/api/v1/ipaas/customers'))}"
            )
            say(
                f"  99minds workflow executions {len(stack.ninetynine.executions)} "
                f"({', '.join(sorted(stack.ninetynine.executions))}); POSTs received "
                f"{len(stack.ninetynine.calls('POST', '/api/v1/ipaas/workflows/execute'))}"
            )
            summarize_giftcards(stack, [m for m in stack.messages("GiftcardNinetyNineMindsDLQ")])
            for line in loyalty_lines:
                say(line)
            for line in outage_lines:
                say(line)
            unexpected += outage_unexpected
            if loyalty["round trips"] != 1 or loyalty["echoed 99minds writes"]:
                unexpected.append(f"loyalty round trip: {loyalty}")
            say(f"  hook requests       {len(hooks)} ({', '.join(f'{s}: {c}' for s, c in hook_answers(hooks))})")
            say(f"  invocations {invocations} in {elapsed:.1f}s; handler log lines: {log_path}")
            errors += stack.http_api.errors
            errors += show_ledger(stack)
            if errors:
                say(f"  invocation errors: {errors}")
            if unexpected:
                say(f"  hook answers not as expected: {unexpected}")
            return 1 if errors or unexpected else 0
        finally:
            stack.stop()


# what `ipaas-sync status` answers for one created, one skipped and one dead-lettered record (the transfer ledger)
LEDGER_EXAMPLES = (
    ["--entity", "customer", "--id", "502"],
    ["--entity", "transaction", "--id", "2004", "--destination", NINETYNINE_SYSTEM_ID],
    ["--entity", "customer", "--id", "509", "--destination", NINETYNINE_SYSTEM_ID],
)


def show_ledger(stack: LocalStack) -> list[str]:
    """Print `ipaas-sync status` for the LEDGER_EXAMPLES; returns the ones without a ledger entry."""
    from ipaas_sync.tools.cli import main as cli

    missing = []
    say()
    say("the transfer ledger (what happened to record X?):")
    for args in LEDGER_EXAMPLES:
        say(f"$ ipaas-sync status {' '.join(args)}")
        with contextlib.redirect_stdout(OUT):
            if cli(["status", *args]) != 0:
                missing.append(f"no ledger entry: {' '.join(args)}")
        say()
    return missing


def _counts(stack: LocalStack, entity: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for o in stack.outcomes():
        if o["entity"] == entity:
            counts[o["status"]] = counts.get(o["status"], 0) + 1
    return counts


def summarize_giftcards(stack: LocalStack, dlq: list) -> None:
    counts = _counts(stack, "giftcard")
    done = [o for o in stack.outcomes() if o["entity"] == "giftcard" and o["status"] != "failed"]
    details = [o.get("details") or {} for o in done]
    applied = sum(d.get("activities_applied", 0) for d in details)
    recovered = sum(d.get("activities_recovered", 0) + bool(d.get("issue_recovered")) for d in details)
    nn = stack.ninetynine
    posts = {kind: len(nn.calls("POST", f"/api/v1/giftcards/{kind}", status=200)) for kind in ("issue", "reload", "redeem")}
    say("  gift cards")
    say(f"    issued              {counts.get('created', 0)}")
    say(f"    activities applied  {applied}")
    say(f"    lost answers        {recovered} (recognised at 99minds on the retry, not sent again)")
    say(f"    duplicates skipped  {counts.get('duplicate', 0)}")
    say(f"    balance mismatches  {counts.get('mismatch', 0)} (reported, not corrected)")
    say(f"    skipped             {counts.get('skipped', 0)}")
    say(f"    failed attempts     {counts.get('failed', 0)} (transient, retried)")
    say(f"    in DLQ              {len(dlq)}")
    say(f"    99minds writes      issue {posts['issue']}, reload {posts['reload']}, redeem {posts['redeem']} (each applied once)")
    say(
        "    99minds balances    "
        + ", ".join(
            f"{c['giftcard_number']} {c['balance']}" for c in sorted(nn.giftcards.values(), key=lambda c: c["giftcard_number"])
        )
    )


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
