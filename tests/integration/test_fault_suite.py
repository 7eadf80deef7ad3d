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

A destination brings its sandbox, its faults and one EntityCase per entity it serves: another destination is one
more entry in DESTINATIONS.
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
from ipaas_sync.destinations.ninetynine_minds.client import NinetyNineMindsClient
from ipaas_sync.destinations.ninetynine_minds.mapping import giftcard as mapping
from ipaas_sync.platform import http
from ipaas_sync.runtime import pending
from ipaas_sync.tools.replay import Replayer
from sandbox.destinations import TEST_LIMITS
from sandbox.local_aws import LambdaContext, sqs_event
from sandbox.server import LOST_ANSWER, SandboxServer
from sandbox.stack import NINETYNINE_SYSTEM_ID as SYS
from sandbox.stack import LocalStack

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
FINAL = {"created", "updated", "sent", "duplicate", "skipped", "mismatch"}


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
    entity: str
    queue: str
    dlq: str
    function: str
    seed: Callable[[LocalStack], Plan]
    verify: Callable[[LocalStack, Plan, Run], None]


@dataclass
class Destination:
    name: str
    stack_options: Callable[[], dict]  # make_stack(**options): sandboxes, limits, parameters
    partner: Callable[[LocalStack], SandboxServer]
    faults: Callable[[SandboxServer, int], None]  # the destination's own faults (paths), with a seed
    cases: list[EntityCase]


# -- 99minds ---------------------------------------------------------------------------------------------------------
CUSTOMERS = "/api/v1/ipaas/customers"
WORKFLOW = "/api/v1/ipaas/workflows/execute"
ISSUE, RELOAD, REDEEM = "/api/v1/giftcards/issue", "/api/v1/giftcards/reload", "/api/v1/giftcards/redeem"
STORE = "store_b81a893dc2bc6e1a5d"


def note(scope: str, id_: str) -> dict:
    return {"scope": scope, "id": id_, "destination": SYS, "tracking_guid": f"fault-{scope.split('/')[0]}-{id_}"}


# customers: 10 new (one dies after its create), 2 already linked (updates)
LINKED_CUSTOMERS = ("7111", "7112")


def seed_customers(stack: LocalStack) -> Plan:
    records = {}
    for n in range(1, 13):
        id_ = f"71{n:02d}"
        records[id_] = stack.ipaas.put(
            "customers",
            {
                "id": id_,
                "customer_number": f"C-{id_}",
                "first_name": f"First{n}",
                "last_name": f"Last{n}",
                "email_address": f"customer{id_}@example.com",
            },
        )
    for id_ in LINKED_CUSTOMERS:
        existing = {
            "id": f"customer_pre_{id_}",
            "email": records[id_]["email_address"],
            "first_name": "Old",
            "store_ref_id": STORE,
        }
        stack.ninetynine.customers[existing["id"]] = existing
        stack.ipaas.set_link(SYS, "customer", id_, existing["id"])
    killed = "7101"
    email = records[killed]["email_address"]
    return Plan(
        notifications=[
            note("customer/updated" if id_ in LINKED_CUSTOMERS else "customer/created", id_) for id_ in records if id_ != killed
        ],
        kills=[
            Kill(
                note("customer/created", killed),
                NinetyNineMindsClient,
                "upsert_customer",
                key=email,
                applied=lambda s: any(c["email"] == email for c in s.ninetynine.customers.values()),
            )
        ],
        records=records,
    )


def verify_customers(stack: LocalStack, plan: Plan, run: Run) -> None:
    nn = stack.ninetynine
    for id_, rec in plan.records.items():
        email = rec["email_address"]
        found = [c for c in nn.customers.values() if c["email"].lower() == email]
        assert len(found) == 1, f"customer {id_}: {len(found)} 99minds customers with {email}"
        assert stack.ipaas.link(SYS, "customer", id_) == found[0]["id"], f"customer {id_}: link"
        assert (found[0]["first_name"], found[0]["last_name"]) == (rec["first_name"], rec["last_name"])
    # creates (POSTs without an id) that reached 99minds, per email; 99minds answers a second create of the same
    # email with the existing customer (assumed, see destinations/ninetynine_minds/mapping/customer.py): only a lost answer may cause one
    creates = Counter(r.body["email"] for r in nn.calls("POST", CUSTOMERS, status=200) if "id" not in r.body)
    lost = run.lost_answers(nn, "POST", CUSTOMERS, lambda body: None if "id" in body else body.get("email"))
    for id_, rec in plan.records.items():
        email = rec["email_address"]
        first = 0 if id_ in LINKED_CUSTOMERS else 1  # a linked customer is updated, never created
        assert creates[email] - first <= lost[email], (
            f"customer {id_}: {creates[email]} creates reached 99minds, {lost[email]} answers lost"
        )


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
    issued = Counter(r.body["giftcard_number"] for r in nn.calls("POST", ISSUE, status=200))
    assert issued == {f"GC-{id_}": 1 for id_ in NEW_CARDS}, issued
    assert stack.outcomes("mismatch") == []


def ninetynine_stack() -> dict:
    # 99minds and iPaaS.com limits per 1 s windows here, so that the suite's 429 penalties (halving the rate for a few
    # windows) cost seconds, not minutes; the subscription's settings are the limits the sandboxes enforce
    return {
        "limits": TEST_LIMITS.replace(ninetynine=(40, 1), ipaas=(100, 1)),
        # small batches and 5 concurrent invocations per queue: copies of a message run concurrently, and a record
        # waiting out a fault holds up few others (the template's defaults are 10 and 2)
        "parameters": {"BatchSize": 2, "NinetyNineMindsConcurrency": 5},
    }


def ninetynine_faults(nn: SandboxServer, seed: int) -> None:
    for path in (CUSTOMERS, WORKFLOW, ISSUE, RELOAD, REDEEM):
        nn.faults.reset(1, path=path)
        nn.faults.malformed(1, path=path)
        nn.faults.apply_then_hang(1, seconds=SLOW, path=path)
        nn.faults.slow(1, seconds=SLOW, path=path)
    nn.faults.slow(2, seconds=SLOW, path="/api/v1/giftcards/GC-")  # looking a card up by number
    nn.faults.slow(1, seconds=SLOW, path="/api/v1/giftcards/transactions")  # the card-history lookup
    # the card history in pages of one entry, page 1 empty ("total n, next page 2"): absence is proof only once every
    # page was read
    nn.history_paging(1, empty_pages=1)
    nn.faults.error_rate(0.3, seed=seed)


NINETYNINE = Destination(
    name="99minds",
    stack_options=ninetynine_stack,
    partner=lambda s: s.ninetynine,
    faults=ninetynine_faults,
    cases=[
        EntityCase(
            "customer",
            "CustomerNinetyNineMindsQueue",
            "CustomerNinetyNineMindsDLQ",
            "CustomerTransferFunction",
            seed_customers,
            verify_customers,
        ),
        EntityCase(
            "transaction",
            "TransactionNinetyNineMindsQueue",
            "TransactionNinetyNineMindsDLQ",
            "InvoiceTransferFunction",
            seed_invoices,
            verify_invoices,
        ),
        EntityCase(
            "giftcard",
            "GiftcardNinetyNineMindsQueue",
            "GiftcardNinetyNineMindsDLQ",
            "GiftCardTransferFunction",
            seed_giftcards,
            verify_giftcards,
        ),
    ],
)

# A new destination (Stamped.io, Makini) is one more Destination with its sandbox, faults and entity cases.
DESTINATIONS = [NINETYNINE]


# -- the iPaaS.com side, the same for every destination ------------------------------------------------------------------
def ipaas_faults(ip: SandboxServer, seed: int) -> None:
    ip.faults.slow(2, seconds=SLOW, path="/customers/v2/External/LookupExternal/")
    ip.faults.slow(1, seconds=SLOW, path="/transactions/v2/Transaction/")
    ip.faults.reset(2)
    ip.faults.malformed(1, path="/customers/v2/Customer/")
    ip.faults.malformed(1, path="/giftcards/v2/External/LookupExternal/")
    ip.faults.apply_then_hang(1, seconds=SLOW, path="/giftcards/v2/External/UpdateExternalId")
    ip.faults.apply_then_hang(1, seconds=SLOW, path="/transactions/v2/External/UpdateExternalId")
    ip.faults.error_rate(0.3, seed=seed)


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


@pytest.mark.parametrize("destination", DESTINATIONS, ids=lambda d: d.name)
def test_no_transfer_is_lost_or_doubled_under_faults(destination: Destination, make_stack, monkeypatch):
    monkeypatch.setattr(http, "READ_TIMEOUT", READ_TIMEOUT)
    monkeypatch.setattr(pending, "IN_FLIGHT_SECONDS", IN_FLIGHT)
    stack = make_stack(**destination.stack_options())
    partner = destination.partner(stack)
    run = Run(stack)
    plans = {case.entity: case.seed(stack) for case in destination.cases}

    # 1. Lambda timeouts after the side effect (one delivery of each; before any other fault, so each kill is exact)
    for case in destination.cases:
        for kill in plans[case.entity].kills:
            kill_after_side_effect(stack, case, kill, monkeypatch)
            run.kills[kill.key] += 1

    # 2. the faults, on both sandboxes; a second burst of 429s comes mid-run
    for sandbox in (stack.ipaas, partner):
        throttle_burst(sandbox)
    destination.faults(partner, PARTNER_SEED)
    ipaas_faults(stack.ipaas, IPAAS_SEED)
    second_burst = threading.Event()

    def mid_run(stats):
        if stats.invocations >= 10 and not second_burst.is_set():
            second_burst.set()
            throttle_burst(stack.ipaas, partner)

    # 3. every message three times: the hook request posted three times (iPaaS.com retrying it); a killed delivery
    #    was the first of its three
    for case in destination.cases:
        plan = plans[case.entity]
        for n in range(DELIVERIES):
            answer = stack.post_hook(plan.notifications, hook_id=f"{case.entity}-hook", attempt=n + 1)
            assert answer.status_code == 202, answer.text
        for kill in plan.kills:
            for _ in range(DELIVERIES - 1):
                stack.send(case.queue, kill.body)
    first = stack.drain(max_seconds=DRAIN_SECONDS, on_batch=mid_run)
    assert first.errors == []

    # 4. the faults stop; every DLQ goes back as it is (nothing was fixed), and the queues drain again
    for sandbox in (stack.ipaas, partner):
        sandbox.faults.clear()
    replayer = Replayer()
    replayed = {
        case.dlq: replayer.replay(stack.queue_url(case.dlq))
        for case in destination.cases
        if replayer.depth(stack.queue_url(case.dlq))
    }
    assert all(report.errors == [] for report in replayed.values())
    second = stack.drain(max_seconds=DRAIN_SECONDS)
    assert second.errors == []

    # the faults did happen (a suite whose faults never fired proves nothing)
    for sandbox in (partner, stack.ipaas):
        kinds = {"error_rate", "throttle", "slow", "reset", "malformed", "apply_then_hang"}
        assert kinds <= set(sandbox.faults.injected), (sandbox.name, sandbox.faults.injected)
    if partner is stack.ninetynine:  # the uncertain outcomes were judged from a paged card history, read past page 1
        history = partner.calls("GET", "/api/v1/giftcards/transactions", status=200)
        assert any(call.query.get("page_no") == ["2"] for call in history), "the card history was never read past page 1"

    # zero lost: every delivery has exactly one final outcome; queues empty; DLQs hold only what is named
    for case in destination.cases:
        plan = plans[case.entity]
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
            assert replayed[case.dlq].moved >= DELIVERIES * len(plan.parked)
        outcomes = final_outcomes(stack, case.entity)
        assert len(outcomes) == DELIVERIES * len(plan.bodies) - len(left), (
            f"{case.entity}: {len(outcomes)} final outcomes for {DELIVERIES * len(plan.bodies)} deliveries, "
            f"{len(left)} parked: {Counter(o['status'] for o in outcomes)}"
        )
        delivered = Counter(o["record_id"] for o in outcomes)
        for body in plan.bodies:
            expected = 0 if body["id"] in plan.parked else DELIVERIES
            assert delivered[body["id"]] == expected, f"{case.entity} {body['id']}: {delivered[body['id']]} outcomes"
        assert {o["status"] for o in outcomes} <= {"created", "updated", "sent", "duplicate"}, (
            case.entity,
            [
                (o["record_id"], o["status"], o.get("reason"))
                for o in outcomes
                if o["status"] not in {"created", "updated", "sent", "duplicate"}
            ],
        )

    # exactly once, at the destination and in iPaaS.com
    for case in destination.cases:
        case.verify(stack, plans[case.entity], run)


@pytest.mark.parametrize("applied", [True, False], ids=["applied-then-spent", "not-applied-then-reloaded"])
def test_without_a_card_history_a_lost_answer_is_parked_and_settled_by_its_steps(make_stack, monkeypatch, applied):
    """The same two cases on a subscription whose 99minds offers no card-history lookup: nothing can prove what the
    killed invocation did, so every delivery is parked as UncertainOutcome, never guessed; the steps in its reason,
    followed as an operator would, then end with the right balance."""
    monkeypatch.setattr(pending, "IN_FLIGHT_SECONDS", 0.0)
    stack = make_stack(subscription_overrides={"NinetyNineMindsSubscriptionSecret": {"Gift Card History Path": ""}})
    nn, ip = stack.ninetynine, stack.ipaas
    case = next(c for c in NINETYNINE.cases if c.entity == "giftcard")
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
