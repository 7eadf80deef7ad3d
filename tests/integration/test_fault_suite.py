"""The fault suite: no transfer is lost and none happens twice, under partner faults and duplicate deliveries.

The real handlers run through the local pipeline (the template on moto, the hook ingress over HTTP, the
event-source poller with the template's batch size and MaximumConcurrency) against the iPaaS.com sandbox and
the destination's sandbox, both told to fail:

    30% 5xx (seeded)                       error_rate(0.3, seed) on both sandboxes
    bursts of 429 with Retry-After         throttle(n, 1) at the start and again mid-run, on both
    slow answers past the read timeout     slow(n, SLOW) with ipaas_sync.platform.http.READ_TIMEOUT shortened to 1 s
    connection resets                      reset(n)
    malformed JSON replies                 malformed(n): applied, then a broken body
    a timeout after the side effect        apply_then_hang(n, SLOW)
    a Lambda timeout after the side effect an invocation that ends right after the destination applied a write
                                           (LambdaTimedOut below): no exception handler runs, so the
                                           idempotency lock stays until the invocation's time is up and the
                                           redelivery runs the transfer again
    every message delivered three times    the same hook request posted three times (iPaaS.com retrying it); the
                                           poller's MaximumConcurrency workers take copies concurrently

Then the faults stop, every DLQ is replayed as it is (nothing fixed: the failures were faults only), the queues
are drained again, and the suite counts, at the destination and in iPaaS.com:
    * every transfer happened exactly once (per destination: `verify` below), and a write the destination saw
      more than once is explained by an answer that was lost (Recorded.fault) or an invocation that died after
      it, never by the destination's own de-duplication hiding a double send;
    * zero messages lost: every delivery has exactly one final outcome, the source queues are empty, and the DLQs
      hold only what is expected and named (`parked`).

The suite runs once per (destination, entity) of the registry (shared/ipaas_sync/destinations), each on its own
stack. Customers, which every destination takes, are one generic case driven by the destination's sandbox KIT
(sandbox/kit.py: where its customer reads and writes go, how it creates one, what it holds and what it was sent), so a
new destination's customers are covered with no edit here. Any other entity brings its own EntityCase (its records,
its faults, what exactly once means there) in SPECIFIC; test_every_flow_has_a_fault_case fails until it does.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import boto3
import pytest

from ipaas_sync.core.models.ipaas import IpaasGiftCard
from ipaas_sync.destinations import ENTITY_BY_NAME, MAKINI, NINETYNINE_MINDS, REGISTRY, Destination, load
from ipaas_sync.destinations.makini.client import MakiniClient
from ipaas_sync.destinations.ninetynine_minds.client import NinetyNineMindsClient
from ipaas_sync.destinations.ninetynine_minds.mapping import giftcard as mapping
from ipaas_sync.platform import http
from ipaas_sync.runtime import pending
from ipaas_sync.tools.replay import Replayer
from sandbox.destinations import TEST_LIMITS, kit
from sandbox.ipaas import AREAS
from sandbox.kit import SandboxKit
from sandbox.local_aws import LambdaContext, sqs_event
from sandbox.server import LOST_ANSWER, SandboxServer
from sandbox.stack import MAKINI_SYSTEM_ID, LocalStack
from sandbox.stack import NINETYNINE_SYSTEM_ID as SYS

from .conftest import drain_until

pytestmark = [
    pytest.mark.integration,
    # every handler runs in this one process and shares one Powertools Metrics object (in Lambda each
    # function is its own process), so concurrent invocations of different functions re-add a dimension
    pytest.mark.filterwarnings("ignore:Dimension 'Entity' has already been added"),
    pytest.mark.filterwarnings("ignore:No application metrics to publish"),
]

DELIVERIES = 3  # every message is delivered this many times
READ_TIMEOUT = 1.0  # ipaas_sync.platform.http.READ_TIMEOUT during the suite (10 s in production)
SLOW = 2.0  # a slow answer / a hang after the side effect: past READ_TIMEOUT
IN_FLIGHT = SLOW + 1.0  # the apply window, pending.IN_FLIGHT_SECONDS (GiftCardApplyWindowSeconds, 120 s by default)
KILLED_INVOCATION_SECONDS = 10  # the time a killed invocation had (a cold start on a loaded machine fits): its idempotency
# lock expires after it
DRAIN_SECONDS = 120  # bound on each drain
PARTNER_SEED, IPAAS_SEED = 6, 7  # error_rate seeds: which requests get a 503 depends only on their order
FINAL = {"created", "updated", "linked", "sent", "duplicate", "skipped", "mismatch"}
DONE = {"created", "updated", "linked", "sent", "duplicate"}  # a final outcome that transferred (or had transferred) it


class LambdaTimedOut(BaseException):
    """The invocation ended here, as a Lambda timeout ends it. A BaseException, so no `except Exception` of the
    product (Powertools idempotency, the batch processor) sees it: the idempotency record stays in progress until
    the invocation's time is up, and the message is neither deleted nor dead-lettered."""


# -- what a destination brings -----------------------------------------------------------------------------------------
@dataclass
class Kill:
    """Deliver `body` once to an invocation that dies right after `method` of the partner client returned (the write
    was applied), or, with `applies=False`, while its request was on the way (it never reached the destination);
    `then` runs afterwards (e.g. a change at the destination nobody told us about, such as a use at the till)."""

    body: dict
    client: type
    method: str
    key: str  # what the destination's write is counted by (email, number, ...)
    applied: Callable[[LocalStack], bool]  # the destination shows what the killed invocation did (or did not do)
    then: Callable[[LocalStack], None] | None = None
    applies: bool = True


@dataclass
class Plan:
    """What an entity case seeded: the notifications to deliver, the kills, and what may stay in the DLQ."""

    notifications: list[dict]  # posted through the hook ingress, DELIVERIES times
    kills: list[Kill] = field(default_factory=list)
    # record id -> the error class its messages are expected to end in the DLQ with, and why
    parked: dict[str, tuple[str, str]] = field(default_factory=dict)
    records: dict[str, dict] = field(default_factory=dict)  # whatever `verify` needs
    # record ids whose deliveries may end "skipped" (a linked customer the destination cannot update, or whose update
    # was applied before its answer was lost: the redelivery finds the content already there); `verify` checks the content
    may_skip: set[str] = field(default_factory=set)

    @property
    def bodies(self) -> list[dict]:
        return self.notifications + [k.body for k in self.kills]


@dataclass
class Run:
    """What happened, for `verify`."""

    stack: LocalStack
    kills: Counter = field(default_factory=Counter)  # key -> invocations killed after the write
    dlq_left: dict[str, list[dict]] = field(default_factory=dict)  # DLQ -> what is left after the replay

    def lost_answers(self, sandbox: SandboxServer, method: str, path: str, key: Callable[[Any], str | None]) -> Counter:
        """Per key: the writes the destination applied whose answer never reached us (a fault after the side
        effect, or an invocation killed after it). Each one may legitimately be followed by one more write."""
        lost = Counter(key(r.body) for r in sandbox.calls(method, path, status=200) if r.fault in LOST_ANSWER)
        return lost + self.kills


@dataclass
class EntityCase:
    """One entity of one destination (the registry's): what it seeds, the faults aimed at its paths, and `verify`."""

    destination: Destination
    entity: str
    seed: Callable[[LocalStack], Plan]
    verify: Callable[[LocalStack, Plan, Run], None]
    faults: Callable[[SandboxServer], None]  # counted faults on the destination's paths for this entity

    @property
    def id(self) -> str:
        return f"{self.destination.platform}-{self.entity}"

    @property
    def kit(self) -> SandboxKit:
        return kit(self.destination)

    @property
    def queue(self) -> str:
        return self.destination.queue(ENTITY_BY_NAME[self.entity])

    @property
    def dlq(self) -> str:
        return self.destination.dlq(ENTITY_BY_NAME[self.entity])

    @property
    def function(self) -> str:
        return ENTITY_BY_NAME[self.entity].function

    def partner(self, stack: LocalStack) -> SandboxServer:
        return getattr(stack, self.kit.attribute)

    def stack_options(self) -> dict:
        """make_stack(**options). The partner's and iPaaS.com's limits per 1 s windows, so that the suite's 429
        penalties (halving the rate for a few windows) cost seconds, not minutes (the subscription's settings are the
        limits the sandboxes enforce); small batches and 5 concurrent invocations per queue: copies of a message run
        concurrently, and a record waiting out a fault holds up few others (the template's defaults are 10 and 2)."""
        return {
            "limits": TEST_LIMITS.replace(**{self.kit.attribute: (40, 1)}, ipaas=(100, 1)),
            "parameters": {"BatchSize": 2, self.destination.concurrency_parameter: 5},
        }


def at_writes(server: SandboxServer, path: str, method: str | None = None) -> None:
    """One of each fault on a destination's write path: a reset, a broken reply, an answer lost after the side
    effect, a slow answer past the read timeout."""
    server.faults.reset(1, path=path, method=method)
    server.faults.malformed(1, path=path, method=method)
    server.faults.apply_then_hang(1, seconds=SLOW, path=path, method=method)
    server.faults.slow(1, seconds=SLOW, path=path, method=method)


# -- 99minds ---------------------------------------------------------------------------------------------------------
WORKFLOW = "/api/v1/ipaas/workflows/execute"
ISSUE, RELOAD, REDEEM = "/api/v1/giftcards/issue", "/api/v1/giftcards/reload", "/api/v1/giftcards/redeem"
STORE = "store_b81a893dc2bc6e1a5d"


def note(scope: str, id_: str, system: str = SYS) -> dict:
    return {"scope": scope, "id": id_, "destination": system, "tracking_guid": f"fault-{scope.split('/')[0]}-{id_}"}


# customers, at every destination (its kit says how): 10 new (one dies after its create), 2 already there and linked
LINKED_CUSTOMERS = ("7111", "7112")


def customer_records(stack: LocalStack) -> dict[str, dict]:
    return {
        f"71{n:02d}": stack.ipaas.put(
            "customers",
            {
                "id": f"71{n:02d}",
                "customer_number": f"C-71{n:02d}",
                "first_name": f"First{n}",
                "last_name": f"Last{n}",
                "email_address": f"customer71{n:02d}@example.com",
            },
        )
        for n in range(1, 13)
    }


def customer_case(destination: Destination) -> EntityCase:
    k = kit(destination)

    def seed(stack: LocalStack) -> Plan:
        server, records = getattr(stack, k.attribute), customer_records(stack)
        for id_ in LINKED_CUSTOMERS:
            stack.ipaas.set_link(k.system_id, "customer", id_, k.add_customer(server, k.customer_key(records[id_])))
        killed = "7101"
        key = k.customer_key(records[killed])
        return Plan(
            notifications=[
                note("customer/updated" if id_ in LINKED_CUSTOMERS else "customer/created", id_, k.system_id)
                for id_ in records
                if id_ != killed
            ],
            kills=[
                Kill(
                    note("customer/created", killed, k.system_id),
                    load(destination.client),
                    k.customer_create,
                    key=key,
                    applied=lambda s: any(held[1] == key for held in k.held_customers(server)),
                )
            ],
            records={"customers": records, "names": {held[0]: held[2] for held in k.held_customers(server)}},
            may_skip=set(LINKED_CUSTOMERS),
        )

    def verify(stack: LocalStack, plan: Plan, run: Run) -> None:
        server = getattr(stack, k.attribute)
        held = k.held_customers(server)
        for id_, rec in plan.records["customers"].items():
            found = [h for h in held if h[1] == k.customer_key(rec)]
            assert len(found) == 1, f"customer {id_}: {len(found)} {destination.display} customers for {k.customer_key(rec)}"
            external, _, name = found[0]
            assert stack.ipaas.link(k.system_id, "customer", id_) == external, f"customer {id_}: link"
            # a linked customer keeps what it had where the destination has no update (Makini: skipped)
            updated = id_ not in LINKED_CUSTOMERS or k.update_customer is not None
            expected = f"{rec['first_name']} {rec['last_name']}" if updated else plan.records["names"][external]
            assert name == expected, f"customer {id_}: {name!r} != {expected!r}"
        # creates that reached the destination, per business key; one more than the first is explained only by a lost
        # answer (Stamped and 99minds answer a second create of the same email with the existing customer, Makini is
        # asked first): never by the destination's own de-duplication hiding a double send
        created = k.created_customers(server)
        creates = Counter(key for key, _ in created)
        lost = Counter(key for key, fault in created if fault in LOST_ANSWER) + run.kills
        for id_, rec in plan.records["customers"].items():
            key = k.customer_key(rec)
            first = 0 if id_ in LINKED_CUSTOMERS else 1  # a linked customer is updated (or skipped), never created
            assert creates[key] - first <= lost[key], (
                f"customer {id_}: {creates[key]} creates reached {destination.display}, {lost[key]} answers lost"
            )

    return EntityCase(destination, "customer", seed, verify, lambda server: customer_faults(server, k))


def customer_faults(server: SandboxServer, k: SandboxKit) -> None:
    at_writes(server, k.write_path, "POST")
    server.faults.slow(1, seconds=SLOW, path=k.read_path, method="GET")  # where a transfer reads first (99minds, Makini)


# invoices: 10 completed orders (one dies after its workflow POST) and 2 validated returns of an earlier order
def transaction(id_: str, number: str, customer: str, **kw) -> dict:
    return {
        "id": id_,
        "transaction_number": number,
        "customer_id": customer,
        "type": "Order",
        "status": "Complete",
        "subtotal": "90.00",
        "tax_amount": "9.50",
        "total": "99.50",
        "total_qty": "3",
        "lines": [{"id": f"{id_}1", "sku": "MUG-01", "qty": "2"}, {"id": f"{id_}2", "sku": "TEE-01", "qty": "1"}],
        **kw,
    }


def seed_invoices(stack: LocalStack) -> Plan:
    nn, ip = stack.ninetynine, stack.ipaas
    for n in (1, 2, 3):  # customers transferred earlier: in 99minds and linked in iPaaS.com
        nn.customers[f"customer_inv{n}"] = {"id": f"customer_inv{n}", "email": f"buyer{n}@example.com", "store_ref_id": STORE}
        ip.set_link(SYS, "customer", f"buyer{n}", f"customer_inv{n}")
    ip.put("transactions", transaction("8000", "SO-8000", "buyer1"))  # the original order of the returns
    nn.executions["SO-8000"] = {"id": "execution_so8000", "idempotent_id": "SO-8000", "trigger": "order_paid"}
    records = {}
    for n in range(1, 11):
        id_ = f"80{n:02d}"
        records[id_] = ip.put(
            "transactions", transaction(id_, f"SO-{id_}", f"buyer{n % 3 + 1}", total=f"{100 + n}.00", subtotal=f"{90 + n}.00")
        )
    for id_ in ("8011", "8012"):
        records[id_] = ip.put(
            "transactions",
            transaction(
                id_,
                f"RT-{id_}",
                "buyer1",
                type="Validated Return",
                transaction_parent_id="8000",
                subtotal="-30.00",
                total="-33.17",
                total_qty="1",
                lines=[{"id": f"{id_}1", "sku": "MUG-01", "qty": "1"}],
            ),
        )
    killed = "8001"
    return Plan(
        notifications=[note("transaction/created", id_) for id_ in records if id_ != killed],
        kills=[
            Kill(
                note("transaction/created", killed),
                NinetyNineMindsClient,
                "execute_workflow",
                key="SO-8001",
                applied=lambda s: "SO-8001" in s.ninetynine.executions,
            )
        ],
        records=records,
    )


def verify_invoices(stack: LocalStack, plan: Plan, run: Run) -> None:
    nn = stack.ninetynine
    for id_, rec in plan.records.items():
        number = rec["transaction_number"]
        execution = nn.executions.get(number)
        assert execution is not None, f"transaction {number}: no workflow execution"
        is_return = rec["type"] == "Validated Return"
        assert execution["trigger"] == ("order_refunded" if is_return else "order_paid"), number
        assert execution["customer_id"] == f"customer_inv{'1' if is_return else int(id_[2:]) % 3 + 1}", number
        if is_return:
            assert (execution["refund_amount"], execution["original_order_id"]) == (33.17, "SO-8000"), number
        else:
            assert execution["total_price"] == float(rec["total"]), number
        assert stack.ipaas.link(SYS, "transaction", id_) == execution["id"], f"transaction {number}: link"
    assert len(nn.executions) == len(plan.records) + 1  # and SO-8000
    # 99minds de-duplicates on IdempotentId; a POST it answered with the existing execution must be explained by an
    # earlier POST whose answer was lost, never by a double send that 99minds' de-duplication hid
    posts = Counter(r.body["idempotent_id"] for r in nn.calls("POST", WORKFLOW, status=200))
    lost = run.lost_answers(nn, "POST", WORKFLOW, lambda body: body.get("idempotent_id"))
    for rec in plan.records.values():
        number = rec["transaction_number"]
        assert posts[number] - 1 <= lost[number], f"{number}: {posts[number]} POSTs applied, {lost[number]} answers lost"


# gift cards: 5 new (issued, then reloaded and redeemed), 6 already in 99minds; one dies after its issue, one after a
# reload, one after a redemption; one more dies after a reload and is then spent at the till before the redelivery,
# and one dies while its reload is on the way and the card is then reloaded at the till by the same amount
def activity(id_: str, type_: str, amount: str, day: int) -> dict:
    return {
        "id": id_,
        "activity_type": type_,
        "amount": amount,
        "timestamp": f"2025-04-{day:02d}T10:00:00Z",
        "transaction_reference_id": f"REF-{id_}",
    }


NEW_CARDS = ("9001", "9002", "9003", "9004", "9005")


def seed_giftcards(stack: LocalStack) -> Plan:
    nn, ip = stack.ninetynine, stack.ipaas
    records = {}
    for n in range(1, 6):  # new: Issue (covered by the issue), Reload, Redeem listed out of order
        id_ = f"90{n:02d}"
        original, reload, redeem = Decimal(20 + n), Decimal(10 + n), Decimal("7.25")
        records[id_] = ip.put(
            "giftcards",
            {
                "id": id_,
                "number": f"GC-{id_}",
                "type": "Gift Card",
                "status": "Active",
                "original_amount": str(original),
                "balance": str(original + reload - redeem),
                "activities": [
                    activity(f"{id_}-3", "Redeem", str(redeem), 3),
                    activity(f"{id_}-1", "Issue", str(original), 1),
                    activity(f"{id_}-2", "Reload", str(reload), 2),
                ],
            },
        )
    for n in range(6, 10):  # already issued in 99minds with 10.00 and linked in iPaaS.com
        id_ = f"90{n:02d}"
        records[id_] = ip.put(
            "giftcards",
            {
                "id": id_,
                "number": f"GC-{id_}",
                "type": "Gift Card",
                "status": "Active",
                "original_amount": "10.00",
                "balance": "27.50",
                "activities": [
                    activity(f"{id_}-1", "Reload", "30.00", 1),
                    activity(f"{id_}-2", "Redeem", "5.00", 2),
                    activity(f"{id_}-3", "Redeem", "7.50", 3),
                ],
            },
        )
        ip.set_link(SYS, "Gift Card", id_, nn.add_giftcard(f"GC-{id_}", "10.00")["id"])
    # the two cases the card balance cannot tell apart (docs/giftcards.md): the card's history, by reference, does
    spent, reloaded = "9010", "9011"  # reload applied, invocation killed, then 5.00 spent at the till / reload
    records[spent] = ip.put(
        "giftcards",
        {  # never reached 99minds, then a till
            "id": spent,
            "number": f"GC-{spent}",
            "type": "Gift Card",
            "status": "Active",
            "original_amount": "10.00",
            "balance": "35.00",
            "activities": [activity(f"{spent}-1", "Reload", "30.00", 1)],
        },
    )  # reload of the same amount
    records[reloaded] = ip.put(
        "giftcards",
        {
            "id": reloaded,
            "number": f"GC-{reloaded}",
            "type": "Gift Card",
            "status": "Active",
            "original_amount": "10.00",
            "balance": "70.00",
            "activities": [activity(f"{reloaded}-1", "Reload", "30.00", 1)],
        },
    )
    for id_ in (spent, reloaded):
        ip.set_link(SYS, "Gift Card", id_, nn.add_giftcard(f"GC-{id_}", "10.00")["id"])

    def history(number: str) -> list:
        return nn.giftcard(number)["history"] if nn.giftcard(number) else []

    killed = {"9001": "issue_giftcard", "9006": "reload_giftcard", "9007": "redeem_giftcard"}
    kinds = {"issue_giftcard": "issue", "reload_giftcard": "reload", "redeem_giftcard": "redeem"}
    kills = [
        Kill(
            note("giftcard/updated", id_),
            NinetyNineMindsClient,
            method,
            key=f"GC-{id_}",
            applied=lambda s, id_=id_, kind=kinds[method]: any(h[0] == kind for h in history(f"GC-{id_}")),
        )
        for id_, method in killed.items()
    ]
    kills.append(
        Kill(
            note("giftcard/updated", spent),
            NinetyNineMindsClient,
            "reload_giftcard",
            key=f"GC-{spent}",
            applied=lambda s: [h[0] for h in history(f"GC-{spent}")] == ["reload"],
            then=lambda s: s.ninetynine.use_card(f"GC-{spent}", "redeem", "5.00"),
        )
    )
    kills.append(
        Kill(
            note("giftcard/updated", reloaded),
            NinetyNineMindsClient,
            "reload_giftcard",
            key=f"GC-{reloaded}",
            applies=False,
            applied=lambda s: history(f"GC-{reloaded}") == [],
            then=lambda s: s.ninetynine.use_card(f"GC-{reloaded}", "reload", "30.00"),
        )
    )
    return Plan(
        notifications=[
            note("giftcard/created" if id_ in NEW_CARDS else "giftcard/updated", id_)
            for id_ in records
            if id_ not in killed and id_ not in (spent, reloaded)
        ],
        kills=kills,
        records={
            "cards": records,
            "till": {spent: [(1, ("redeem", Decimal("5.00")))], reloaded: [(0, ("reload", Decimal("30.00")))]},
        },
    )


def expected_history(record: dict, *, issued_here: bool, till: list | None = None) -> list[tuple]:
    """What 99minds' card history must hold: the issue (if issued here), each activity once with its reference,
    in timestamp order, and the uses at the till (position, (kind, amount)) with the till's own reference."""
    card = IpaasGiftCard.model_validate(record)
    references = {a.link_id: mapping.activity_reference(a) for a in mapping.plan_activities(card).to_apply}
    acts = sorted(record["activities"], key=lambda a: a["timestamp"])
    kinds = {"Reload": "reload", "Redeem": "redeem"}
    history = [
        (kinds[a["activity_type"]], Decimal(a["amount"]), references[a["id"]]) for a in acts if a["activity_type"] in kinds
    ]
    for position, (kind, amount) in till or []:
        history.insert(position, (kind, amount, "till"))
    return ([("issue", Decimal(record["original_amount"]), None)] if issued_here else []) + history


def verify_giftcards(stack: LocalStack, plan: Plan, run: Run) -> None:
    nn = stack.ninetynine
    tills = plan.records["till"]
    for id_, rec in plan.records["cards"].items():
        card = nn.giftcard(rec["number"])
        assert card is not None, f"gift card {id_}: not in 99minds"
        history = [(kind, amount, "till" if str(ref).startswith("till_") else ref) for kind, amount, ref in card["history"]]
        # every activity applied exactly once, in timestamp order, and the balance is iPaaS.com's: never applied twice
        # (9010: the card was spent after the lost answer) and never lost (9011: reloaded elsewhere meanwhile)
        assert history == expected_history(rec, issued_here=id_ in NEW_CARDS, till=tills.get(id_)), f"gift card {id_}: {history}"
        assert card["balance"] == Decimal(rec["balance"]), f"gift card {id_}: {card['balance']} != {rec['balance']}"
        assert stack.ipaas.link(SYS, "Gift Card", id_) == card["id"], f"gift card {id_}: link"
        for act in rec["activities"]:
            if act["activity_type"] != "Issue":
                assert stack.ipaas.link(SYS, "Gift Card Activity", act["id"]), f"activity {act['id']}: not linked"
    # the uncertain outcomes were judged from a paged card history, read past page 1
    history = nn.calls("GET", "/api/v1/giftcards/transactions", status=200)
    assert any(call.query.get("page_no") == ["2"] for call in history), "the card history was never read past page 1"
    issued = Counter(r.body["giftcard_number"] for r in nn.calls("POST", ISSUE, status=200))
    assert issued == {f"GC-{id_}": 1 for id_ in NEW_CARDS}, issued
    assert stack.outcomes("mismatch") == []


def giftcard_faults(nn: SandboxServer) -> None:
    for path in (ISSUE, RELOAD, REDEEM):
        at_writes(nn, path)
    nn.faults.slow(2, seconds=SLOW, path="/api/v1/giftcards/GC-")  # looking a card up by number
    nn.faults.slow(1, seconds=SLOW, path="/api/v1/giftcards/transactions")  # the card-history lookup
    # the card history in pages of one entry, page 1 empty ("total n, next page 2"): absence is proof only once every
    # page was read
    nn.history_paging(1, empty_pages=1)


# -- Makini ---------------------------------------------------------------------------------------------------------
SALES_ORDERS, PRODUCTS = "/api/wms/sales-orders", "/api/wms/products"


# sales orders: 10 completed orders of customers already in Makini (one dies after its create), 2 already there and
# linked (a changed order: updates)
def seed_sales_orders(stack: LocalStack) -> Plan:
    mk, ip = stack.makini, stack.ipaas
    products = {sku: mk.add_product(sku)["key"] for sku in ("MUG-01", "TEE-01")}
    buyers = {}
    for n in (1, 2, 3):  # customers transferred earlier: in Makini and linked in iPaaS.com
        buyers[f"buyer{n}"] = mk.add_customer(f"C-B{n}", name=f"Buyer {n}")["key"]
        ip.set_link(MAKINI_SYSTEM_ID, "customer", f"buyer{n}", buyers[f"buyer{n}"])
    records = {}
    for n in range(1, 13):
        id_ = f"82{n:02d}"
        records[id_] = ip.put(
            "transactions",
            transaction(id_, f"SO-{id_}", f"buyer{n % 3 + 1}", total=f"{100 + n}.00", subtotal=f"{90 + n}.00")
            | {
                "lines": [
                    {"sku": "MUG-01", "qty": "2", "unit_price": "20.00"},
                    {"sku": "TEE-01", "qty": "1", "unit_price": f"{n}.50"},
                ]
            },
        )
    linked = ("8211", "8212")
    for id_ in linked:  # the same order, once with one line only
        key = mk.new_key()
        mk.sales_orders[key] = {"key": key, "code": f"SO-{id_}", "orderNumber": f"SO-{id_}", "lines": []}
        ip.set_link(MAKINI_SYSTEM_ID, "transaction", id_, key)
    killed = "8201"
    return Plan(
        notifications=[
            note("transaction/updated" if id_ in linked else "transaction/created", id_, MAKINI_SYSTEM_ID)
            for id_ in records
            if id_ != killed
        ],
        kills=[
            Kill(
                note("transaction/created", killed, MAKINI_SYSTEM_ID),
                MakiniClient,
                "create_sales_order",
                key=f"SO-{killed}",
                applied=lambda s: bool(s.makini.find("sales_orders", "code", f"SO-{killed}")),
            )
        ],
        records={"orders": records, "products": products, "buyers": buyers, "linked": {id_: True for id_ in linked}},
    )


def verify_sales_orders(stack: LocalStack, plan: Plan, run: Run) -> None:
    mk, products = stack.makini, plan.records["products"]
    for id_, rec in plan.records["orders"].items():
        number = rec["transaction_number"]
        found = mk.find("sales_orders", "code", number)
        assert len(found) == 1, f"transaction {number}: {len(found)} Makini sales orders"
        order = found[0]
        assert stack.ipaas.link(MAKINI_SYSTEM_ID, "transaction", id_) == order["key"], f"transaction {number}: link"
        assert order["customerKey"] == plan.records["buyers"][rec["customer_id"]], number
        assert [(line["productKey"], line["quantity"], line["lineTotalValue"]) for line in order["lines"]] == [
            (products["MUG-01"], "2", "40"),
            (products["TEE-01"], "1", rec["lines"][1]["unit_price"].rstrip("0")),
        ], number
    assert len(mk.sales_orders) == len(plan.records["orders"])
    # Makini is asked by code before a create: a second create of one order is explained only by a lost answer
    posts = Counter(r.body["code"] for r in mk.calls("POST", SALES_ORDERS, status=200))
    lost = run.lost_answers(mk, "POST", SALES_ORDERS, lambda body: body.get("code"))
    for id_, rec in plan.records["orders"].items():
        number = rec["transaction_number"]
        first = 0 if id_ in plan.records["linked"] else 1  # a linked order is updated (PUT), never created
        assert posts[number] - first <= lost[number], f"{number}: {posts[number]} POSTs applied, {lost[number]} answers lost"


def sales_order_faults(mk: SandboxServer) -> None:
    at_writes(mk, SALES_ORDERS)
    mk.faults.slow(1, seconds=SLOW, path=PRODUCTS)  # finding a line's product by SKU


# -- the cases: customers at every destination, and each other entity's own ----------------------------------------
SPECIFIC = {
    (NINETYNINE_MINDS.platform, "transaction"): EntityCase(
        NINETYNINE_MINDS, "transaction", seed_invoices, verify_invoices, lambda nn: at_writes(nn, WORKFLOW)
    ),
    (NINETYNINE_MINDS.platform, "giftcard"): EntityCase(
        NINETYNINE_MINDS, "giftcard", seed_giftcards, verify_giftcards, giftcard_faults
    ),
    (MAKINI.platform, "transaction"): EntityCase(
        MAKINI, "transaction", seed_sales_orders, verify_sales_orders, sales_order_faults
    ),
}
CASES = [
    customer_case(d) if entity == "customer" else SPECIFIC[(d.platform, entity)]
    for d in REGISTRY
    for entity in d.entities
    if entity == "customer" or (d.platform, entity) in SPECIFIC
]
GIFTCARDS_99MINDS = SPECIFIC[(NINETYNINE_MINDS.platform, "giftcard")]


def test_every_flow_has_a_fault_case():
    """Every (destination, entity) of the registry runs through the fault suite: customers by the generic case,
    any other entity by its own case in SPECIFIC."""
    assert [case.id for case in CASES] == [f"{d.platform}-{entity}" for d in REGISTRY for entity in d.entities]


# -- the iPaaS.com side, the same for every destination ------------------------------------------------------------------
def ipaas_faults(ip: SandboxServer, entity: str) -> None:
    """Aimed at the entity's area of iPaaS.com: its record read, its link lookup and its link write."""
    area = f"{entity}s"  # customers, transactions, giftcards
    record = f"/{area}/v2/{AREAS[area][0]}/"
    ip.faults.slow(2, seconds=SLOW, path=f"/{area}/v2/External/LookupExternal/")
    ip.faults.slow(1, seconds=SLOW, path=record)
    ip.faults.reset(2)
    ip.faults.malformed(1, path=record)
    ip.faults.malformed(1, path=f"/{area}/v2/External/LookupExternal/")
    ip.faults.apply_then_hang(1, seconds=SLOW, path=f"/{area}/v2/External/UpdateExternalId")


def throttle_burst(*sandboxes: SandboxServer) -> None:
    for sandbox in sandboxes:
        sandbox.faults.throttle(3, retry_after=1)


# -- the suite ---------------------------------------------------------------------------------------------------------
def kill_after_side_effect(stack: LocalStack, case: EntityCase, kill: Kill, monkeypatch) -> None:
    """One delivery of `kill.body` dies right after the partner applied the write; it comes back after the
    visibility timeout (here retry_delay) as SQS would bring it back."""
    sqs = boto3.client("sqs")
    url, arn = stack.queue_url(case.queue), stack.deployment.physical[case.queue]["Arn"]
    sent = sqs.send_message(QueueUrl=url, MessageBody=json.dumps(kill.body))["MessageId"]
    message = receive(sqs, url, sent, visibility=stack.retry_delay)
    original = getattr(kill.client, kill.method)

    def applied_then_timed_out(self, *args, **kwargs):
        if kill.applies:
            original(self, *args, **kwargs)
        raise LambdaTimedOut(f"{kill.method} {'applied' if kill.applies else 'on its way'}, then the invocation ran out of time")

    with monkeypatch.context() as patch:
        patch.setattr(kill.client, kill.method, applied_then_timed_out)
        with pytest.raises(LambdaTimedOut):
            stack.handlers[case.function](sqs_event([message], arn), LambdaContext(case.function, KILLED_INVOCATION_SECONDS))
    assert kill.applied(stack), f"{case.entity} {kill.body['id']}: the write did not reach the destination"
    if kill.then:
        kill.then(stack)


def receive(sqs, url: str, message_id: str, *, visibility: int, attempts: int = 20) -> dict:
    """Receive the message `message_id` from a queue that may hold others (earlier kills whose visibility timeout
    ran out come back): any other message is made visible again at once, as if never received."""
    for _ in range(attempts):
        ours = None
        for message in sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=visibility,
            WaitTimeSeconds=1,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", []):
            if message["MessageId"] == message_id:
                ours = message
            else:
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
        if ours is not None:
            return ours
    raise AssertionError(f"message {message_id} not received from {url} in {attempts} attempts")


def final_outcomes(stack: LocalStack, entity: str) -> list[dict]:
    return [o for o in stack.outcomes() if o["entity"] == entity and o["status"] in FINAL]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_no_transfer_is_lost_or_doubled_under_faults(case: EntityCase, make_stack, monkeypatch):
    monkeypatch.setattr(http, "READ_TIMEOUT", READ_TIMEOUT)
    monkeypatch.setattr(pending, "IN_FLIGHT_SECONDS", IN_FLIGHT)
    stack = make_stack(**case.stack_options())
    partner = case.partner(stack)
    run = Run(stack)
    plan = case.seed(stack)

    # 1. Lambda timeouts after the side effect (one delivery of each; before any other fault, so each kill is exact)
    for kill in plan.kills:
        kill_after_side_effect(stack, case, kill, monkeypatch)
        run.kills[kill.key] += 1

    # 2. the faults, on both sandboxes; a second burst of 429s comes mid-run
    for sandbox in (stack.ipaas, partner):
        throttle_burst(sandbox)
    case.faults(partner)
    ipaas_faults(stack.ipaas, case.entity)
    partner.faults.error_rate(0.3, seed=PARTNER_SEED)
    stack.ipaas.faults.error_rate(0.3, seed=IPAAS_SEED)
    second_burst = threading.Event()

    def mid_run(stats):
        if stats.invocations >= 10 and not second_burst.is_set():
            second_burst.set()
            throttle_burst(stack.ipaas, partner)

    # 3. every message three times: the hook request posted three times (iPaaS.com retrying it); a killed delivery
    #    was the first of its three
    for n in range(DELIVERIES):
        answer = stack.post_hook(plan.notifications, key=case.kit.webhook_key, hook_id=f"{case.entity}-hook", attempt=n + 1)
        assert answer.status_code == 202, answer.text
    for kill in plan.kills:
        for _ in range(DELIVERIES - 1):
            stack.send(case.queue, kill.body)
    first = stack.drain(max_seconds=DRAIN_SECONDS, on_batch=mid_run)
    assert first.errors == []

    # 4. the faults stop; the DLQ goes back as it is (nothing was fixed), and the queues drain again
    for sandbox in (stack.ipaas, partner):
        sandbox.faults.clear()
    replayer = Replayer()
    replayed = replayer.replay(stack.queue_url(case.dlq)) if replayer.depth(stack.queue_url(case.dlq)) else None
    assert replayed is None or replayed.errors == []
    second = stack.drain(max_seconds=DRAIN_SECONDS)
    assert second.errors == []

    # the faults did happen (a suite whose faults never fired proves nothing)
    for sandbox in (partner, stack.ipaas):
        kinds = {"error_rate", "throttle", "slow", "reset", "malformed", "apply_then_hang"}
        assert kinds <= set(sandbox.faults.injected), (sandbox.name, sandbox.faults.injected)

    # zero lost: every delivery has exactly one final outcome; queues empty; the DLQ holds only what is named
    assert stack.messages(case.queue) == [], f"{case.queue} not empty"
    left = [
        {k: v["StringValue"] for k, v in m.get("MessageAttributes", {}).items()} | {"body": json.loads(m["Body"])}
        for m in stack.messages(case.dlq)
    ]
    run.dlq_left[case.dlq] = left
    unexpected = [
        (m["body"]["id"], m.get("ipaas.error"), m.get("ipaas.reason"))
        for m in left
        if m["body"]["id"] not in plan.parked or m.get("ipaas.error") != plan.parked[m["body"]["id"]][0]
    ]
    assert unexpected == [], f"{case.dlq}: unexpected messages left after the replay"
    # what is left is exactly the named ones, every delivery of them, and they did go through the replay
    assert Counter(m["body"]["id"] for m in left) == {id_: DELIVERIES for id_ in plan.parked}, (
        f"{case.dlq}: expected to keep only {plan.parked}"
    )
    if plan.parked:
        assert replayed is not None and replayed.moved >= DELIVERIES * len(plan.parked)
    outcomes = final_outcomes(stack, case.entity)
    assert len(outcomes) == DELIVERIES * len(plan.bodies) - len(left), (
        f"{case.entity}: {len(outcomes)} final outcomes for {DELIVERIES * len(plan.bodies)} deliveries, "
        f"{len(left)} parked: {Counter(o['status'] for o in outcomes)}"
    )
    delivered = Counter(o["record_id"] for o in outcomes)
    for body in plan.bodies:
        expected = 0 if body["id"] in plan.parked else DELIVERIES
        assert delivered[body["id"]] == expected, f"{case.entity} {body['id']}: {delivered[body['id']]} outcomes"
    wrong = [
        (o["record_id"], o["status"], o.get("reason"))
        for o in outcomes
        if o["status"] not in DONE and not (o["status"] == "skipped" and o["record_id"] in plan.may_skip)
    ]
    assert wrong == [], case.entity

    # exactly once, at the destination and in iPaaS.com
    case.verify(stack, plan, run)


@pytest.mark.parametrize("applied", [True, False], ids=["applied-then-spent", "not-applied-then-reloaded"])
def test_without_a_card_history_a_lost_answer_is_parked_and_settled_by_its_steps(make_stack, monkeypatch, applied):
    """The same two cases on a subscription whose 99minds offers no card-history lookup: nothing can prove what the
    killed invocation did, so every delivery is parked as UncertainOutcome, never guessed; the steps in its reason,
    followed as an operator would, then end with the right balance."""
    monkeypatch.setattr(pending, "IN_FLIGHT_SECONDS", 0.0)
    stack = make_stack(subscription_overrides={"NinetyNineMindsSubscriptionSecret": {"Gift Card History Path": ""}})
    nn, ip = stack.ninetynine, stack.ipaas
    case = GIFTCARDS_99MINDS
    record = ip.put(
        "giftcards",
        {
            "id": "9020",
            "number": "GC-9020",
            "type": "Gift Card",
            "status": "Active",
            "original_amount": "10.00",
            "balance": "35.00" if applied else "70.00",
            "activities": [activity("9020-1", "Reload", "30.00", 1)],
        },
    )
    card = nn.add_giftcard("GC-9020", "10.00")
    ip.set_link(SYS, "Gift Card", "9020", card["id"])
    kill = Kill(
        note("giftcard/updated", "9020"),
        NinetyNineMindsClient,
        "reload_giftcard",
        key="GC-9020",
        applies=applied,
        applied=lambda s: len(card["history"]) == (1 if applied else 0),
        then=lambda s: s.ninetynine.use_card("GC-9020", *(("redeem", "5.00") if applied else ("reload", "30.00"))),
    )
    kill_after_side_effect(stack, case, kill, monkeypatch)
    stack.send(case.queue, kill.body)  # a second delivery (iPaaS.com retried the hook)
    time.sleep(KILLED_INVOCATION_SECONDS + 0.5)  # the killed invocation's idempotency lock has expired
    assert stack.drain(max_seconds=DRAIN_SECONDS).errors == []
    parked = [{k: v["StringValue"] for k, v in m["MessageAttributes"].items()} for m in stack.messages(case.dlq)]
    assert [m["ipaas.error"] for m in parked] == ["permanent:UncertainOutcome"] * 2
    assert card["balance"] == Decimal("35.00" if applied else "40.00")  # nothing applied after the kill
    assert len(nn.calls("POST", RELOAD, status=200)) == (1 if applied else 0)
    reason = parked[0]["ipaas.reason"]
    assert "setting 'Gift Card History Path' is blank" in reason and "balance before it 10.00" in reason, reason

    # the operator looks the reference up in 99minds and follows the reason's steps, then replays
    ref = mapping.activity_reference(mapping.plan_activities(IpaasGiftCard.model_validate(record)).to_apply[0])
    assert f"with reference '{ref}'" in reason
    if any(r == ref for _, _, r in card["history"]):
        external = reason.split("to external id '", 1)[1].split("'", 1)[0]
        ip.set_link(SYS, "Gift Card Activity", "9020-1", external)
    else:
        key = reason.split("delete item '", 1)[1].split("'", 1)[0]
        boto3.client("dynamodb").delete_item(
            TableName=stack.deployment.physical["IdempotencyTable"]["Ref"], Key={"id": {"S": key}}
        )
    assert Replayer().replay(stack.queue_url(case.dlq)).errors == []
    assert stack.drain(max_seconds=DRAIN_SECONDS).errors == []
    assert stack.messages(case.dlq) == [] and stack.messages(case.queue) == []
    assert card["balance"] == Decimal(record["balance"])
    assert len(nn.calls("POST", RELOAD, status=200)) == 1  # applied exactly once, by whichever delivery
    assert ip.link(SYS, "Gift Card Activity", "9020-1")


# -- a partner outage ------------------------------------------------------------------------------------------------
# The retry schedule and the circuit scaled down (the same code): steps of 0.25 s, waits of at most 2 s, hops of at most
# 1 s (SQS's 900 s), a probe a second. The local poller shows a failed message again after 1 s (the queue's visibility
# timeout in AWS: 180 s), so five receives' worth is 5 s here: before issue 26 every record still failing then was
# parked in its DLQ on its fifth receive.
OUTAGE = {
    "RetryStepSeconds": 0.25,
    "RetryMaxDelaySeconds": 2,
    "RetryWindowSeconds": 600,
    "CircuitFailureThreshold": 3,
    "CircuitProbeSeconds": 1,
}
OUTAGE_SECONDS = 15  # 99minds down this long while the queues drain: three times five receives' worth
MAX_RECEIVES = 5  # the queues' MaxReceiveCount


def test_a_partner_outage_longer_than_five_receives_is_ridden_out(make_stack, monkeypatch):
    """99minds down (503s and connection resets on every call) for three times five receives' worth, then back: every
    gift card activity delivered three times (iPaaS.com retrying its hook), none parked, each applied exactly once."""
    monkeypatch.setenv("RETRY_MAX_HOP_SECONDS", "1")
    monkeypatch.setattr(pending, "IN_FLIGHT_SECONDS", IN_FLIGHT)
    case = GIFTCARDS_99MINDS
    stack = make_stack(parameters=OUTAGE)
    nn = stack.ninetynine
    plan = case.seed(stack)  # the cards; the kills of the fault case are not used here: only the outage
    cards = {n["id"]: plan.records["cards"][n["id"]] for n in plan.notifications}
    for _ in range(5000):  # 503 and reset in turn, far more than the outage's calls (the probes': 4 requests each)
        nn.faults.fail(1, status=503, path="/api/v1/")
        nn.faults.reset(1, path="/api/v1/")
    for n in range(DELIVERIES):
        answer = stack.post_hook(plan.notifications, key=case.kit.webhook_key, hook_id="outage-hook", attempt=n + 1)
        assert answer.status_code == 202, answer.text

    def waited() -> list[dict]:
        return [o for o in stack.outcomes("retrying") if o["entity"] == "giftcard"]

    def ridden_out() -> bool:  # more tries and waits than five receives, some of them held back by the open circuit
        tries = Counter(o["record_id"] for o in waited())
        return bool(tries) and max(tries.values()) > MAX_RECEIVES and any(o["details"].get("held_back") for o in waited())

    # the queues do not drain while 99minds is down: OUTAGE_SECONDS, and on until a record was sent back more often
    # than five receives (a state, not a time: a loaded machine gets there later), bounded
    assert stack.drain(max_seconds=OUTAGE_SECONDS).errors == []
    assert drain_until(stack, ridden_out, max_seconds=90).errors == []
    waited = waited()
    tries = Counter(o["record_id"] for o in waited)
    # more tries and waits than the five receives that parked a record before; nothing parked, nothing transferred
    assert tries and max(tries.values()) > MAX_RECEIVES, tries
    assert any(o["details"].get("held_back") for o in waited)  # the circuit opened: records wait without a call
    assert stack.messages(case.dlq) == [] and stack.outcomes("dead-lettered") == []
    assert nn.calls("POST", RELOAD, status=200) == [] and nn.calls("POST", ISSUE, status=200) == []

    nn.faults.clear()  # 99minds is back
    assert stack.drain(max_seconds=DRAIN_SECONDS).errors == []

    assert stack.messages(case.dlq) == [] and stack.messages(case.queue) == []
    outcomes = final_outcomes(stack, "giftcard")
    assert Counter(o["record_id"] for o in outcomes) == {id_: DELIVERIES for id_ in cards}
    assert [o for o in outcomes if o["status"] not in DONE] == []
    for id_, rec in cards.items():  # every activity once, in order; the balance is iPaaS.com's
        card = nn.giftcard(rec["number"])
        assert card is not None, f"gift card {id_}: not in 99minds"
        history = [(kind, amount, ref) for kind, amount, ref in card["history"]]
        assert history == expected_history(rec, issued_here=id_ in NEW_CARDS), f"gift card {id_}: {history}"
        assert card["balance"] == Decimal(rec["balance"]), f"gift card {id_}: {card['balance']} != {rec['balance']}"
        assert stack.ipaas.link(SYS, "Gift Card", id_) == card["id"], f"gift card {id_}: link"
    issued = Counter(r.body["giftcard_number"] for r in nn.calls("POST", ISSUE, status=200))
    assert issued == {f"GC-{id_}": 1 for id_ in cards if id_ in NEW_CARDS}, issued
