"""The override files docs/mappings.md walks through (docs/examples/mappings/): each validates over the defaults and
changes exactly what the walkthrough says, by data alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ipaas_sync.core.errors import Skip
from ipaas_sync.core.models.ipaas import IpaasGiftCardActivity, IpaasTransaction
from ipaas_sync.mapping.collection import load_defaults
from ipaas_sync.mapping.evaluate import evaluate
from ipaas_sync.mapping.overrides import compile_with

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "mappings"
DEFAULTS = load_defaults()
INPUTS = {"linked_customer_id": "nn-1", "store_ref_id": "store_main", "transaction_types": ("Order", "Validated Return"),
          "transaction_status": "Complete", "excluded_transaction_suffixes": ("-D", "-GC")}  # fmt: skip


def collections(example: str | None):
    override = json.loads((EXAMPLES / example).read_text()) if example else None
    return compile_with(DEFAULTS, override, example or "defaults")


def invoice(example: str | None, **record):
    base = {"id": "7001", "transaction_number": "SO-7001", "customer_id": "501", "type": "Order", "status": "Complete",
            "subtotal": "90.00", "total": "99.50", "total_qty": "3", "system_id": "2002", "lines": []}  # fmt: skip
    txn = IpaasTransaction.model_validate({**base, **record})
    return evaluate(collections(example)[("99minds", "order_workflow")], txn, INPUTS)


def test_the_walkthrough_names_every_example():
    doc = (EXAMPLES.parents[2] / "docs" / "mappings.md").read_text()
    assert sorted(p.name for p in EXAMPLES.glob("*.json")) == [
        "loyalty-points-source.json", "refund-formula.json", "store-per-location.json", "web-orders-only.json"
    ]  # fmt: skip
    assert all(f"docs/examples/mappings/{p.name}" in doc for p in EXAMPLES.glob("*.json"))


def test_orders_from_one_source_only():
    assert invoice("web-orders-only.json")["idempotent_id"] == "SO-7001"
    with pytest.raises(Skip, match="not a completed order or validated return from the web shop"):
        invoice("web-orders-only.json", system_id="3003")
    assert invoice(None, system_id="3003")["idempotent_id"] == "SO-7001"  # the default takes every source


def test_loyalty_points_claimed_from_another_custom_field():
    fields = [
        {"custom_field_name": "LoyaltyPointsClaimed", "value": "150"},
        {"custom_field_name": "PointsRedeemed", "value": "40"},
    ]
    assert invoice(None, custom_fields=fields)["loyalty_points_claimed"] == 150
    assert invoice("loyalty-points-source.json", custom_fields=fields)["loyalty_points_claimed"] == 40


def test_refund_amount_without_shipping():
    record = {"type": "Validated Return", "total": "-40.25", "shipping_amount": "5.00"}
    assert invoice(None, **record)["refund_amount"] == 40.25
    assert invoice("refund-formula.json", **record)["refund_amount"] == 35.25


def test_store_per_physical_location_for_transactions_and_gift_card_activities():
    assert invoice("store-per-location.json", location="Harbour")["store_ref_id"] == "store_harbour"
    assert invoice("store-per-location.json", location="Airport")["store_ref_id"] == "store_main"  # no row: the one store
    assert invoice(None, location="Harbour")["store_ref_id"] == "store_main"  # default: one store for all
    activity = IpaasGiftCardActivity.model_validate(
        {"id": "a-1", "activity_type": "Reload", "amount": "5", "location": "Main Street"}
    )
    compiled = collections("store-per-location.json")[("99minds", "giftcard_activity")]
    assert evaluate(compiled, activity, {"store_ref_id": "store_main"}) == {"store_ref_id": "store_main_street"}
    client_only = evaluate(compiled, activity.model_copy(update={"location": "Airport"}), {"client_store_id": "7"})
    assert client_only == {"client_store_id": "7"}
