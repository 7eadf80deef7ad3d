"""Equivalence: every default mapping collection against today's Python mapping, on every record of events/ and on
variants built around the seed's cases (types, signs, missing fields, custom field shapes, amounts, stores).

Outcomes compared: the exact wire bytes (json.dumps of the payload, key order included) when both map, or the
same verdict when they do not (skipped by the filter / rejected: dead-lettered). Where a rejection's wording
differs (a formula error names the collection, field and formula) only the verdict is compared.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from ipaas_sync.core.errors import PermanentError, Skip
from ipaas_sync.core.models.ipaas import IpaasCustomer, IpaasGiftCard, IpaasTransaction
from ipaas_sync.core.settings import TransactionFilter
from ipaas_sync.destinations.makini.mapping import customer as customer_makini
from ipaas_sync.destinations.makini.mapping import transaction as sales_order_makini
from ipaas_sync.destinations.makini.settings import MakiniSettings
from ipaas_sync.destinations.ninetynine_minds.mapping import customer as customer_99minds
from ipaas_sync.destinations.ninetynine_minds.mapping import giftcard as giftcard_99minds
from ipaas_sync.destinations.ninetynine_minds.mapping import transaction as invoice_99minds
from ipaas_sync.destinations.ninetynine_minds.settings import NinetyNineMindsSettings
from ipaas_sync.destinations.ninetynine_minds.to_ipaas import customer_mapping as customer_99minds_to_ipaas
from ipaas_sync.destinations.ninetynine_minds.to_ipaas import loyalty_mapping as loyalty_transaction_to_ipaas
from ipaas_sync.destinations.stamped.mapping import customer as customer_stamped
from ipaas_sync.mapping import expressions
from ipaas_sync.mapping.collection import load_defaults
from ipaas_sync.mapping.evaluate import evaluate, verdict
from ipaas_sync.mapping.transaction_filter import rejection
from ipaas_sync.mapping.validate import compile_all

ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS = compile_all(load_defaults())


@pytest.fixture(autouse=True)
def _no_wall_clock(monkeypatch):
    """What is compared here is what each side maps, not how fast: the formulas' wall-clock budget (1 s each, the
    engine's safety net) stands still, so a test process descheduled for a second on a loaded machine cannot turn a
    payload into "rejected" (it did once, in a fresh-clone `make test` beside two other suites). The budget has its own
    test (test_mapping_engine.py)."""
    monkeypatch.setattr(expressions, "_clock", lambda: 0.0)


STORES = [("store_b81a893dc2bc6e1a5d", None), (None, "1"), (" store_x ", "2"), ("  ", " 7 ")]


def event_records(scope_prefix: str) -> list[dict]:
    out = []
    for path in sorted((ROOT / "events").glob("*.json")):
        for message in json.loads(path.read_text()).get("Records", []):
            try:
                body = json.loads(message["body"])
            except (json.JSONDecodeError, KeyError):
                continue
            if isinstance(body, dict) and str(body.get("scope", "")).startswith(scope_prefix) and "record" in body:
                out.append(body["record"])
    assert out, f"no {scope_prefix} record in events/"
    return out


def outcome(run, *args, **kwargs) -> str:
    try:
        return "payload " + json.dumps(run(*args, **kwargs))
    except Skip as skip:
        return f"skipped: {skip.reason}"  # the filter's reason too: the ledger and the logs show it
    except PermanentError:
        return "rejected"


def store_of(ref, client):
    return NinetyNineMindsSettings.store.fget(SimpleNamespace(store_ref_id=ref, client_store_id=client))  # the real rule


# -- transactions -> 99minds order workflow ----------------------------------------------------------------------
def transactions() -> list[dict]:
    base = event_records("transaction/")
    variants = []
    for type_, status, number, total in itertools.product(
        ["Order", "Validated Return", "Quote", None],
        ["Complete", "Pending"],
        ["SO-1", "SO-1-D", "SO-1-GC", None],
        ["99.50", "-40.25", "0", None, "12345678901234.56", "0.1"],
    ):
        variants.append(
            {"id": "9001", "transaction_number": number, "customer_id": "42", "type": type_, "status": status,
             "subtotal": "90.00", "total": total, "total_qty": "3",
             "lines": [{"id": 1, "sku": " MUG-01 ", "qty": "2"}, {"id": 2, "sku": None, "qty": 1.5}]}
        )  # fmt: skip
    good = {"id": "1", "transaction_number": " SO-2 ", "customer_id": "42", "type": "Order", "status": "Complete",
            "subtotal": "0.30", "total": "0.3", "total_qty": "1", "lines": []}  # fmt: skip
    for custom in (
        [{"custom_field_name": "LoyaltyPointsClaimed", "value": "150"}],
        [{"name": "LoyaltyPointsClaimed", "value": " 12.5 "}],
        {"LoyaltyPointsClaimed": "-50"},
        {"LoyaltyPointsClaimed": ""},
        {"LoyaltyPointsClaimed": "abc"},
        {"LoyaltyPointsClaimed": "NaN"},
        [{"Name": "Other", "Value": "1"}],
        None,
    ):
        variants.append({**good, "custom_fields": custom})
    for missing in ("transaction_number", "customer_id", "subtotal", "total_qty"):
        variants.append({**good, missing: None})
    variants.append({**good, "lines": [{"sku": "A", "qty": "1"}, {"id": "9", "qty": None}]})
    variants.append({**good, "subtotal": "-12345678901234.56", "total_qty": "-2"})
    return base + variants


@pytest.mark.parametrize("raw", transactions(), ids=lambda r: f"{r.get('type')}/{r.get('transaction_number')}/{r.get('total')}")
def test_invoice_collection_is_the_python_mapping(raw):
    txn = IpaasTransaction.model_validate(raw)
    collection = COLLECTIONS[("99minds", "order_workflow")]
    for (ref, client), (customer_id, original), rule in itertools.product(STORES, [("c-1", "SO-0"), ("", None)], FILTERS):
        inputs = {"linked_customer_id": customer_id or None, "original_order_id": original, "store_ref_id": ref,
                  "client_store_id": client, **filter_inputs(rule)}  # fmt: skip
        expected = outcome(python_invoice, txn, customer_id, original, store_of(ref, client), rule)
        assert outcome(evaluate, collection, txn, inputs) == expected, (ref, client, customer_id, rule)


FILTERS = [
    TransactionFilter(),
    TransactionFilter(types=("Order",), status="Pending", excluded_suffixes=()),
    TransactionFilter(types=("Order", "Quote"), excluded_suffixes=("-D", "-X", "-GC")),
]


def filter_inputs(rule: TransactionFilter) -> dict:
    return {
        "transaction_types": rule.types,
        "transaction_status": rule.status,
        "excluded_transaction_suffixes": rule.excluded_suffixes,
    }


def python_invoice(txn, customer_id, original, store, rule):
    reason = rejection(txn, rule)
    if reason:
        raise Skip(reason)
    return invoice_99minds.map_invoice(txn, customer_id=customer_id, original_order_id=original, store=store)


@pytest.mark.parametrize("raw", transactions(), ids=lambda r: f"{r.get('type')}/{r.get('transaction_number')}/{r.get('total')}")
def test_sales_order_collection_is_the_python_mapping(raw):
    extra = {"created_datetime": "2025-03-01T10:00:00Z", "lines": [
        {"id": 1, "sku": "MUG-01", "qty": "2", "unit_price": "4.50", "discount_amount": "1.00"},
        {"id": 2, "sku": "TEE-01", "qty": "1", "unit_price": "19.990", "extended_price": "18.00"},
        {"id": 3, "sku": "MUG-01", "qty": "0.5", "unit_price": "0.1", "discount_amount": "0"},
    ]}  # fmt: skip
    for record in (raw, {**raw, **extra}):
        txn = IpaasTransaction.model_validate(record)
        for rule in (TransactionFilter(types=("Order",)), *FILTERS):  # Makini's default: Orders only
            assert outcome(collection_sales_order, txn, rule) == outcome(python_sales_order, txn, rule)


PRODUCTS = {"MUG-01": "p-mug", "TEE-01": "p-tee"}


def python_sales_order(txn, rule):
    reason = rejection(txn, rule)
    if reason:
        raise Skip(reason)
    sales_order_makini.required_skus(txn)  # kept in Python: what the transfer looks up before mapping
    return sales_order_makini.map_sales_order(txn, customer_key="ck-1", product_keys=PRODUCTS)


def collection_sales_order(txn, rule):
    compiled = COLLECTIONS[("makini", "sales_order")]
    reason = verdict(compiled, txn, filter_inputs(rule))
    if reason:
        raise Skip(reason)
    sales_order_makini.required_skus(txn)
    return evaluate(compiled, txn, {"linked_customer_key": "ck-1", **filter_inputs(rule)}, tables={"products": PRODUCTS})


# -- customers ------------------------------------------------------------------------------------------------------
def customers() -> list[dict]:
    base = event_records("customer/")
    good = {"id": "501", "first_name": " Ada ", "last_name": "Lovelace ", "email_address": " Ada@Example.COM ",
            "customer_number": " C-501 ", "company": " Analytical "}  # fmt: skip
    variants = [good]
    for change in (
        {"email_address": "not-an-email"},
        {"email_address": None},
        {"first_name": " "},
        {"first_name": None, "last_name": None},
        {"first_name": None, "last_name": None, "company": None},
        {"customer_number": 501},
        {"customer_number": None},
        {"company": "  "},
        {"phone_number": "(555) 010-0199"},
        {"phone_number": "0044 20 7946 0958"},
        {"phone_number": "12ab"},
        {
            "phone_number": None,
            "addresses": [{"phone_number": "5550100"}, {"is_primary_billing": True, "phone_number": "5550199"}],
        },
    ):
        variants.append({**good, **change})
    return base + variants


@pytest.mark.parametrize("raw", customers(), ids=lambda r: str(r.get("email_address")))
def test_99minds_customer_collection_is_the_python_mapping(raw):
    customer = IpaasCustomer.model_validate(raw)
    collection = COLLECTIONS[("99minds", "customer")]
    for ref, client in STORES:
        expected = outcome(customer_99minds.map_customer, customer, store_of(ref, client))
        assert outcome(evaluate, collection, customer, {"store_ref_id": ref, "client_store_id": client}) == expected


@pytest.mark.parametrize("raw", customers(), ids=lambda r: str(r.get("email_address")))
def test_stamped_customer_collection_is_the_python_mapping(raw):
    customer = IpaasCustomer.model_validate(raw)
    collection = COLLECTIONS[("stamped", "customer")]
    assert outcome(evaluate, collection, customer) == outcome(customer_stamped.map_customer, customer)


@pytest.mark.parametrize("raw", customers(), ids=lambda r: str(r.get("email_address")))
@pytest.mark.parametrize("company_key", ["ck-1", None, "", " ck-2 "])
def test_makini_customer_collection_is_the_python_mapping(raw, company_key):
    customer = IpaasCustomer.model_validate(raw)
    collection = COLLECTIONS[("makini", "customer")]
    company = MakiniSettings.company.fget(SimpleNamespace(company_key=company_key))  # what the transfer passes today
    expected = outcome(customer_makini.map_customer, customer, company)
    assert outcome(evaluate, collection, customer, {"company_key": company_key}) == expected


@pytest.mark.parametrize(
    "raw",
    [
        {
            "id": "n-1",
            "email": " Bo@Example.com",
            "first_name": " Bo ",
            "last_name": "Li",
            "customer_number": None,
            "phone": "555 0100",
        },
        {"id": "n-2", "email": "bo@example.com", "first_name": "Bo", "last_name": "Li", "customer_number": " 77 "},
        {"id": "n-3", "email": "bad", "first_name": "Bo", "last_name": "Li"},
        {"id": "n-4", "email": "bo@example.com", "first_name": "", "last_name": None},
        {"id": "n-5", "email": "bo@example.com", "first_name": "Bo", "last_name": "Li", "phone": "x1"},
    ],
)
@pytest.mark.parametrize("fields", [[], [{"custom_field_name": "99minds Points", "value": "50"}]])
def test_99minds_customer_to_ipaas_collection_is_the_python_mapping(raw, fields):
    subject = f"99minds customer {raw['id']}"
    collection = COLLECTIONS[("ipaas", "customer")]
    expected = outcome(
        customer_99minds_to_ipaas.new_customer, raw, ninetynine_id=raw["id"], system_id="1001", fields=fields, subject=subject
    )
    inputs = {"ninetynine_id": raw["id"], "loyalty_custom_fields": fields,
              "external_ids": [{"system_id": "1001", "external_id": raw["id"]}]}  # fmt: skip
    assert outcome(evaluate, collection, raw, inputs) == expected


# -- gift cards ----------------------------------------------------------------------------------------------------
def giftcards() -> list[dict]:
    base = event_records("giftcard/")
    good = {"id": "77", "number": "GC-77", "original_amount": "50.00", "status": "Active", "customer_email": " a@b.c ",
            "expiration_date": "2027-01-31T00:00:00Z"}  # fmt: skip
    variants = [good]
    for change in (
        {"original_amount": 0.1},
        {"original_amount": 25},
        {"original_amount": "12345678901234.56"},
        {"original_amount": "1.234"},
        {"original_amount": "-1"},
        {"original_amount": None},
        {"original_amount": True},
        {"original_amount": "NaN"},
        {"number": " "},
        {"number": None},
        {"customer_email": None, "expiration_date": None},
    ):
        variants.append({**good, **change})
    return base + variants


@pytest.mark.parametrize("raw", giftcards(), ids=lambda r: f"{r.get('number')}/{r.get('original_amount')}")
def test_giftcard_issue_collection_is_the_python_mapping(raw):
    card = IpaasGiftCard.model_validate(raw)
    collection = COLLECTIONS[("99minds", "giftcard")]
    for (ref, client), customer_id in itertools.product(STORES, ["nn-5", None]):
        store = store_of(ref, client)
        expected = outcome(giftcard_99minds.issue_payload, card, campaign_id="camp-1", store=store, customer_id=customer_id)
        inputs = {"campaign_id": "camp-1", "linked_customer_id": customer_id, "store_ref_id": ref, "client_store_id": client}
        assert outcome(evaluate, collection, card, inputs) == expected


@pytest.mark.parametrize("raw", giftcards(), ids=lambda r: f"{r.get('number')}/{r.get('original_amount')}")
def test_giftcard_activity_store_collection_is_the_python_store(raw):
    card = IpaasGiftCard.model_validate(raw)
    collection = COLLECTIONS[("99minds", "giftcard_activity")]
    for ref, client in STORES:
        store = store_of(ref, client)
        for activity in card.activities or [None]:
            record = activity if activity is not None else {"id": "a-1", "activity_type": "Reload", "amount": "5"}
            assert evaluate(collection, record, {"store_ref_id": ref, "client_store_id": client}) == {store.kind: store.value}


# -- 99minds loyalty transactions -> iPaaS.com Tickets --------------------------------------------------------------
@pytest.mark.parametrize("amount, type_, card", [("50", "earn", "card_1"), ("-12.5", "redeem", None), ("0.1", "adjust", "c")])
@pytest.mark.parametrize("prefix, separator, status", [("99minds", "", "Complete"), ("LOY", "-", "Pending")])
def test_loyalty_ticket_collection_is_the_python_mapping(amount, type_, card, prefix, separator, status):
    raw = {
        "id": "transaction_9",
        "transaction_amount": amount,
        "transaction_type": type_,
        "customer_id": "cust_1",
        "card_id": card,
    }
    txn = loyalty_transaction_to_ipaas.parse(raw, "99minds loyalty transaction transaction_9", "transaction_9")
    number = loyalty_transaction_to_ipaas.transaction_number(txn.id, prefix, separator)
    fields = loyalty_transaction_to_ipaas.custom_fields(txn, points_field="Points", type_field="Type", card_field="Card")
    expected = loyalty_transaction_to_ipaas.ticket(
        txn, number=number, status=status, customer_id="501", system_id="1001", fields=fields
    )
    inputs = {"loyalty_transaction_number_prefix": prefix, "loyalty_transaction_number_separator": separator,
              "loyalty_ticket_status": status, "linked_customer_id": "501", "system_id": "1001", "loyalty_custom_fields": fields,
              "external_ids": [{"system_id": "1001", "external_id": number}]}  # fmt: skip
    collection = COLLECTIONS[("ipaas", "loyalty_ticket")]
    assert outcome(evaluate, collection, txn, inputs) == "payload " + json.dumps(expected)
