"""docs/mappings.md's walkthrough, end to end against the local stack: each of the four changes (docs/examples/mappings/)
is tested (`ipaas-sync mapping test`), previewed against a sandbox iPaaS.com record, deployed, seen to take effect
through the real handler (what 99minds receives), and rolled back (the next record is mapped by the defaults again).
Deploy, rollback and preview are the CLI's commands; the handlers read the override from moto's Parameter Store."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.pipeline import transaction
from sandbox.stack import NINETYNINE_SYSTEM_ID

from .conftest import add_customer, notification
from .test_mapping_commands import run

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "mappings"
Q, GIFTCARD_Q = "TransactionNinetyNineMindsQueue", "GiftcardNinetyNineMindsQueue"
STORE = "store_b81a893dc2bc6e1a5d"  # the local 99minds subscription's one store (Store Ref Id)
SYS = NINETYNINE_SYSTEM_ID


@pytest.fixture
def stack(make_stack, monkeypatch):
    stack = make_stack()
    for key, value in stack.cli_environment().items():
        monkeypatch.setenv(key, value)
    add_customer(stack, "42")
    stack.ninetynine.customers["customer_42"] = {"id": "customer_42", "email": "ada42@example.com", "store_ref_id": STORE}
    stack.ipaas.set_link(SYS, "customer", "42", "customer_42")
    return stack


def order(stack, id_: str, **kw) -> dict:
    record = stack.ipaas.put("transactions", transaction(id_, f"SO-{id_}", "42", **kw))
    stack.ipaas.take_outbox()
    return record


def transfer(stack, id_: str) -> dict | None:
    """The record through the real InvoiceTransferFunction; what 99minds' order workflow received (None: nothing)."""
    stack.send(Q, notification(id_, scope="transaction/created"))
    stack.drain(functions=["InvoiceTransferFunction"])
    number = stack.ipaas.records["transactions"][id_]["transaction_number"]
    return stack.ninetynine.executions.get(number)


def change(stack, capsys, name: str, preview_id: str, *expected_in_preview: str) -> None:
    """Test the example, preview it against a sandbox record, deploy it; in effect for the next record."""
    path = str(EXAMPLES / name)
    before, versions_before = len(stack.ninetynine.requests), stack.mappings().history(SYS)[-1:]
    assert run("test", "--collection", path) == 0
    assert run("preview", "--destination", SYS, "--entity", "transaction", "--id", preview_id, "--collection", path) == 0
    out = capsys.readouterr().out
    for text in expected_in_preview:
        assert text in out, out
    assert [c.method for c in stack.ninetynine.requests[before:]] in ([], ["GET"])  # a preview writes nothing
    assert stack.ipaas.take_outbox() == [] and stack.mappings().history(SYS)[-1:] == versions_before
    assert run("deploy", "--destination", SYS, "--file", path, "--note", f"walkthrough: {name}") == 0
    stack.mapping_takes_effect()  # in AWS: within the 60-second cache age


def roll_back(stack, capsys) -> None:
    """`mapping rollback`: the version before (before the first change: the defaults), in effect for the next record."""
    assert run("rollback", "--destination", SYS) == 0
    assert "restored as version 2" in capsys.readouterr().out
    stack.mapping_takes_effect()


def test_1_orders_from_one_source_only(stack, capsys):
    order(stack, "7101", system_id="2002")
    order(stack, "7102", system_id="2005")
    change(
        stack, capsys, "web-orders-only.json", "7102", "candidate: '99minds Invoice From iPaaS' (99minds order_workflow): skipped"
    )
    assert transfer(stack, "7101")["trigger"] == "order_paid"  # from the web shop: sent
    assert transfer(stack, "7102") is None  # from another system: skipped with the filter's reason
    [skipped] = stack.outcomes("skipped")
    assert "not a completed order or validated return from the web shop" in skipped["reason"]
    roll_back(stack, capsys)
    order(stack, "7103", system_id="2005")
    assert transfer(stack, "7103")["trigger"] == "order_paid"  # the defaults: every source again


def test_2_loyalty_points_claimed_from_another_custom_field(stack, capsys):
    fields = [
        {"custom_field_name": "LoyaltyPointsClaimed", "value": "150"},
        {"custom_field_name": "PointsRedeemed", "value": "80"},
    ]
    for id_ in ("7201", "7202"):
        order(stack, id_, custom_fields=fields)
    change(
        stack, capsys, "loyalty-points-source.json", "7201", '-  "loyalty_points_claimed": 150', '+  "loyalty_points_claimed": 80'
    )
    assert transfer(stack, "7201")["loyalty_points_claimed"] == 80
    roll_back(stack, capsys)
    assert transfer(stack, "7202")["loyalty_points_claimed"] == 150


def test_3_the_refund_formula(stack, capsys):
    order(stack, "7300")  # the original order, in 99minds before its returns
    assert transfer(stack, "7300")["trigger"] == "order_paid"
    ret = {"type": "Validated Return", "transaction_parent_id": "7300", "subtotal": "-40.00", "total": "-40.25"}
    for id_ in ("7301", "7302"):
        order(stack, id_, total_qty="-1", shipping_amount="5.00", **ret)
    change(stack, capsys, "refund-formula.json", "7301", '-  "refund_amount": 40.25', '+  "refund_amount": 35.25')
    sent = transfer(stack, "7301")
    assert (sent["trigger"], sent["refund_amount"], sent["original_order_id"]) == ("order_refunded", 35.25, "SO-7300")
    roll_back(stack, capsys)
    assert transfer(stack, "7302")["refund_amount"] == 40.25


def test_4_a_store_per_physical_location_for_orders_and_gift_card_activities(stack, capsys):
    for id_ in ("7401", "7402"):
        order(stack, id_, location="Harbour")
    change(
        stack, capsys, "store-per-location.json", "7401", f'-  "store_ref_id": "{STORE}"', '+  "store_ref_id": "store_harbour"'
    )
    assert transfer(stack, "7401")["store_ref_id"] == "store_harbour"
    assert reload_store(stack, "74") == "store_harbour"  # a reload at the Harbour till
    roll_back(stack, capsys)
    assert transfer(stack, "7402")["store_ref_id"] == STORE
    assert reload_store(stack, "75") == STORE  # one store for all again


def reload_store(stack, id_: str) -> str:
    """A reload made at the Harbour location on a card already in 99minds: the store 99minds records it at."""
    card = {"id": id_, "number": f"GC-{id_}", "type": "Gift Card", "status": "Active", "original_amount": "0.00",
            "balance": "5.00", "activities": [{"id": f"{id_}-r", "activity_type": "Reload", "amount": "5.00",
                                               "timestamp": "2025-03-01T10:00:00Z", "location": "Harbour"}]}  # fmt: skip
    stack.ipaas.put("giftcards", card)
    existing = stack.ninetynine.add_giftcard(card["number"], "0.00")
    stack.ipaas.set_link(SYS, "Gift Card", id_, existing["id"])
    stack.send(GIFTCARD_Q, notification(id_, scope="giftcard/updated"))
    stack.drain(functions=["GiftCardTransferFunction"])
    [reload] = [
        c
        for c in stack.ninetynine.calls("POST", "/api/v1/giftcards/reload")
        if c.body["giftcard"]["data"][0]["giftcard_number"] == card["number"]
    ]
    return reload.body["store_ref_id"]
