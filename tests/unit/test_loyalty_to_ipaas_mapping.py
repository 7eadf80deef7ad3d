"""99minds -> iPaaS.com mapping, field by field (destinations/ninetynine_minds/to_ipaas/loyalty_mapping.py,
destinations/ninetynine_minds/to_ipaas/customer_mapping.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ipaas_sync.core.errors import InvalidRecord, PermanentError
from ipaas_sync.core.settings import parse_subscription, parse_webhook_keys
from ipaas_sync.destinations.ninetynine_minds.mapping.customer import same_content
from ipaas_sync.destinations.ninetynine_minds.to_ipaas import customer_mapping as cm
from ipaas_sync.destinations.ninetynine_minds.to_ipaas import loyalty_mapping as lt

S = "99minds loyalty transaction transaction_a3c44bd1f3bf8b1c2f"
TID = "transaction_a3c44bd1f3bf8b1c2f"
NAMES = {"points_field": "Points", "type_field": "Type", "card_field": "Card"}


def raw(**kw) -> dict:
    return {
        "id": TID,
        "transaction_amount": "150",
        "transaction_type": "earn",
        "customer_id": "customer_1",
        "card_id": "loyaltycard_9",
        "client_order_id": "SO-1001",
        **kw,
    }


# -- loyalty transaction: reading --------------------------------------------------------------------------------
def test_each_field_is_read_from_its_99minds_key():
    txn = lt.parse(raw(), S, TID)
    assert txn == lt.LoyaltyTransaction(
        id=TID, amount=Decimal("150"), type="earn", customer_id="customer_1", card_id="loyaltycard_9", client_order_id="SO-1001"
    )


def test_alternative_keys_are_read_when_the_first_is_absent():
    txn = lt.parse({"amount": 5, "type": "adjustment", "loyalty_card_id": "c", "order_id": "SO-2"}, S, TID)
    assert (txn.amount, txn.type, txn.card_id, txn.client_order_id, txn.customer_id) == (
        Decimal(5),
        "adjustment",
        "c",
        "SO-2",
        None,
    )


@pytest.mark.parametrize(
    "missing, named", [("transaction_amount", "'TransactionAmount'"), ("transaction_type", "'TransactionType'")]
)
def test_amount_and_type_are_required_and_named(missing, named):
    with pytest.raises(InvalidRecord, match=f"missing required field {named}"):
        lt.parse({k: v for k, v in raw().items() if k != missing}, S, TID)


def test_both_missing_are_named_together():
    with pytest.raises(InvalidRecord, match="fields 'TransactionAmount', 'TransactionType'"):
        lt.parse({"id": TID, "transaction_type": "  "}, S, TID)


@pytest.mark.parametrize("value", ["ten", True, "NaN", "Infinity"])
def test_a_non_numeric_amount_is_rejected(value):
    with pytest.raises(InvalidRecord, match="TransactionAmount"):
        lt.parse(raw(transaction_amount=value), S, TID)


@pytest.mark.parametrize(
    "value, points", [(0.1, "0.1"), ("-40", "-40"), (150, "150"), ("12.50", "12.5"), ("1E+2", "100"), ("-0", "0")]
)
def test_points_go_to_ipaas_as_plain_text(value, points):
    assert lt.wire_points(lt.parse(raw(transaction_amount=value), S, TID).amount) == points


def test_a_reply_about_another_transaction_is_refused():
    with pytest.raises(PermanentError, match="instead"):
        lt.parse(raw(id="transaction_other"), S, TID)


@pytest.mark.parametrize(
    "body", [{"data": {"transaction": raw()}}, {"data": {"loyalty_transaction": raw()}}, {"data": raw()}, raw()]
)
def test_the_reply_envelope(body):
    assert lt.record_from_reply(body, S)["id"] == TID


# -- loyalty transaction: formulas --------------------------------------------------------------------------------
def test_transaction_number_is_the_word_99minds_followed_by_the_id():
    assert lt.transaction_number(TID, "99minds", "") == "99mindstransaction_a3c44bd1f3bf8b1c2f"
    assert lt.transaction_number(TID, "99minds", "-") == "99minds-transaction_a3c44bd1f3bf8b1c2f"


def test_custom_fields_carry_points_type_and_card_and_leave_empty_values_out():
    txn = lt.parse(raw(), S, TID)
    assert lt.custom_fields(txn, **NAMES) == [
        {"custom_field_name": "Points", "value": "150"},
        {"custom_field_name": "Type", "value": "earn"},
        {"custom_field_name": "Card", "value": "loyaltycard_9"},
    ]
    no_card = lt.parse(raw(card_id=""), S, TID)
    assert [f["custom_field_name"] for f in lt.custom_fields(no_card, **NAMES)] == ["Points", "Type"]


def test_the_ticket():
    txn = lt.parse(raw(), S, TID)
    fields = lt.custom_fields(txn, **NAMES)
    assert lt.ticket(txn, number="99minds" + TID, status="Complete", customer_id="42", system_id="1001", fields=fields) == {
        "transaction_number": "99minds" + TID,
        "type": "Ticket",
        "status": "Complete",
        "customer_id": "42",
        "system_id": "1001",
        "custom_fields": fields,
        "external_ids": [{"system_id": "1001", "external_id": "99minds" + TID}],
    }


@pytest.mark.parametrize("kind", ["reversal", "Reversal", "REVERSED", "void"])
def test_reversals_are_skipped_with_the_reason(kind):
    txn = lt.parse(raw(transaction_type=kind), S, TID)
    assert "not transferred" in lt.skip_reason(txn, ("reversal", "reversed", "void"), S)


def test_an_earn_is_not_skipped():
    assert lt.skip_reason(lt.parse(raw(), S, TID), ("reversal",), S) is None


def test_custom_fields_are_merged_into_the_record_exactly_as_read():
    record = {
        "id": "9001",
        "total": "120.00",
        "lines": [{"id": "1", "qty": "2"}],
        "custom_fields": [
            {"id": 5, "custom_field_name": "Gift Wrap", "value": "yes"},
            {"id": 6, "custom_field_name": "Points", "value": "10"},
        ],
    }
    merged = lt.with_custom_fields(
        record, [{"custom_field_name": "Points", "value": "150"}, {"custom_field_name": "Type", "value": "earn"}]
    )
    assert merged == {
        **record,
        "custom_fields": [
            {"id": 5, "custom_field_name": "Gift Wrap", "value": "yes"},
            {"id": 6, "custom_field_name": "Points", "value": "150"},
            {"custom_field_name": "Type", "value": "earn"},
        ],
    }
    assert record["custom_fields"][1]["value"] == "10"  # the input is not changed
    assert lt.with_custom_fields(merged, [{"custom_field_name": "Points", "value": "150"}]) == merged
    assert lt.has_values(merged, [{"custom_field_name": "Points", "value": "150"}])
    assert not lt.has_values(record, [{"custom_field_name": "Points", "value": "150"}])


@pytest.mark.parametrize(
    "read",
    [
        {"A": "1", "Points": "10"},  # a plain object
        [{"name": "A", "value": "1"}, {"name": "Points", "value": "10"}],  # {name, value}
        [{"Name": "A", "Value": "1"}, {"Name": "Points", "Value": "10"}],
    ],
)
def test_custom_fields_read_in_an_older_shape_are_written_back_in_the_published_one(read):
    """iPaaS.com's nested write takes [{custom_field_name, value}] (custom_field_name required): a record read in
    another shape goes back in that one, every field kept."""
    merged = lt.with_custom_fields({"id": "1", "custom_fields": read}, [{"custom_field_name": "Points", "value": "150"}])
    assert merged == {
        "id": "1",
        "custom_fields": [{"custom_field_name": "A", "value": "1"}, {"custom_field_name": "Points", "value": "150"}],
    }
    assert lt.has_values({"custom_fields": read}, [{"custom_field_name": "Points", "value": "10"}])
    assert not lt.has_values({"custom_fields": read}, [{"custom_field_name": "Points", "value": "150"}])


# -- customer -----------------------------------------------------------------------------------------------------
C = "99minds customer customer_35b4d7776af9ac875a"
CID = "customer_35b4d7776af9ac875a"
CARD_NAMES = {"card_field": "Card", "points_field": "Balance"}


def test_the_new_customer_field_by_field():
    raw_customer = {
        "id": CID,
        "email": " Ada@Example.com ",
        "first_name": " Ada",
        "last_name": "Lovelace ",
        "customer_number": "C-1",
        "phone": "+1 (555) 010-0000",
    }
    fields = [{"custom_field_name": "Card", "value": "lc_1"}]
    assert cm.new_customer(raw_customer, ninetynine_id=CID, system_id="1001", fields=fields, subject=C) == {
        "customer_number": "C-1",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email_address": "ada@example.com",
        "phone_number": "+15550100000",
        "custom_fields": fields,
        "external_ids": [{"system_id": "1001", "external_id": CID}],
    }


def test_without_a_customer_number_the_99minds_id_is_used_and_no_phone_is_left_out():
    body = cm.new_customer(
        {"email": "a@b.co", "first_name": "A", "last_name": "B"}, ninetynine_id=CID, system_id="1001", fields=[], subject=C
    )
    assert body["customer_number"] == CID and "phone_number" not in body and "custom_fields" not in body


@pytest.mark.parametrize("missing, message", [("email", "'email'"), ("first_name", "'first_name'"), ("last_name", "'last_name'")])
def test_email_and_names_are_required(missing, message):
    raw_customer = {"email": "a@b.co", "first_name": "A", "last_name": "B"}
    with pytest.raises(InvalidRecord, match=f"{C}: missing required field {message}"):
        cm.new_customer({**raw_customer, missing: " "}, ninetynine_id=CID, system_id="1", fields=[], subject=C)


def test_an_invalid_email_is_named():
    with pytest.raises(InvalidRecord, match="field 'email' is not a valid email"):
        cm.new_customer(
            {"email": "nope", "first_name": "A", "last_name": "B"}, ninetynine_id=CID, system_id="1", fields=[], subject=C
        )


def test_loyalty_fields_from_the_card():
    assert cm.loyalty_fields({"id": "lc_1", "balance": "310.0"}, C, **CARD_NAMES) == [
        {"custom_field_name": "Card", "value": "lc_1"},
        {"custom_field_name": "Balance", "value": "310"},
    ]
    assert cm.loyalty_fields({"id": "lc_1", "points_balance": 5}, C, **CARD_NAMES)[1]["value"] == "5"
    assert cm.loyalty_fields({"id": "lc_1"}, C, **CARD_NAMES) == [{"custom_field_name": "Card", "value": "lc_1"}]
    assert cm.loyalty_fields(None, C, **CARD_NAMES) == []


@pytest.mark.parametrize(
    "body, card",
    [
        ({"data": {"loyaltycards": [{"id": "a"}, {"id": "b"}]}}, "a"),
        ({"data": {"loyalty_cards": []}}, None),
        ({"data": [{"id": "c"}]}, "c"),
    ],
)
def test_the_card_reply(body, card):
    found = cm.card_from_reply(body, C)
    assert (found or {}).get("id") == card


def test_a_card_reply_without_a_list_is_refused():
    with pytest.raises(PermanentError):
        cm.card_from_reply({"data": {"message": "x"}}, C)


def test_same_content_ignores_case_the_id_and_the_store():
    payload = {"email": "ada@example.com", "first_name": "Ada", "customer_number": "C-1", "store_ref_id": "s", "id": "customer_1"}
    assert same_content(payload, {"email": "Ada@Example.com", "first_name": "Ada", "customer_number": "C-1"})
    assert not same_content(payload, {"email": "ada@example.com", "first_name": "Augusta", "customer_number": "C-1"})
    assert not same_content(payload, {"email": "ada@example.com", "first_name": "Ada"})


# -- settings -------------------------------------------------------------------------------------------------------
BASE = {
    "Platform": "99minds",
    "Name": "n",
    "iPaaS System Id": "1",
    "iPaaS API Token": "t",
    "API Secret Key": "k",
    "Store Ref Id": "s",
}


def test_the_99minds_to_ipaas_settings_have_documented_defaults():
    sub = parse_subscription(BASE)
    # where a webhook carries key, event and record id: the 99minds webhook secret (the only one the ingress reads)
    hooks = parse_webhook_keys({"Platform": "99minds", "Name": "n", "iPaaS System Id": "1"})
    assert (hooks.webhook_key_location, hooks.webhook_event_location, hooks.webhook_record_id_location) == (
        "header:Authorization",
        "body:$.scope",
        "body:$.external_id",
    )
    assert hooks.customer_events == ("customer/created", "customer/updated", "customer/deleted")
    assert (sub.loyalty_transaction_number_prefix, sub.loyalty_transaction_number_separator, sub.loyalty_ticket_status) == (
        "99minds",
        "",
        "Complete",
    )


@pytest.mark.parametrize(
    "setting, value", [("Webhook Key Location", "cookie:x"), ("Loyalty Points Custom Field", "LoyaltyPointsClaimed")]
)
def test_bad_99minds_to_ipaas_settings_are_named(setting, value):
    from ipaas_sync.core.errors import ConfigurationError

    parse = parse_webhook_keys if setting.startswith("Webhook") else parse_subscription
    with pytest.raises(ConfigurationError, match=f"setting '{setting}'".replace("(", r"\(")):
        parse({**BASE, setting: value})
