"""The pure gift card pieces: amounts, statuses, campaign, activity plan and identity, bodies, replies and the
decision after an uncertain outcome."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ipaas_sync.core.errors import ConfigurationError, InvalidRecord, PermanentError, Skip
from ipaas_sync.core.models.ipaas import IpaasGiftCard
from ipaas_sync.destinations.ninetynine_minds.mapping import giftcard as m
from ipaas_sync.destinations.ninetynine_minds.settings import StoreRef

STORE = StoreRef(kind="store_ref_id", value="store_b81a893dc2bc6e1a5d")


def card(**kw):
    base = {"id": 77, "number": "GC-77", "original_amount": "50.00", "balance": "40.00", "status": "Active", "type": "Gift Card"}
    return IpaasGiftCard.model_validate({**base, **kw})


def act(type_="Redeem", amount="10.00", ts="2025-03-01T10:00:00Z", **kw):
    return {"activity_type": type_, "amount": amount, "timestamp": ts, **kw}


# -- amounts ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value, expected",
    [
        ("10", "10.00"),
        ("10.5", "10.50"),
        (" 7.25 ", "7.25"),
        (10, "10.00"),
        (Decimal("3.10"), "3.10"),
        (10.1, "10.10"),
        (0.1, "0.10"),
        ("0", "0.00"),
        ("-0", "0.00"),
        ("12.300", "12.30"),
        ("1E+2", "100.00"),
    ],
)
def test_amounts_parse_to_two_place_decimals(value, expected):
    amount = m.parse_amount(value, "gift card X", "amount")
    assert isinstance(amount, Decimal) and str(amount) == expected


@pytest.mark.parametrize(
    "value, reason",
    [
        ("-5", "is negative"),
        (-0.01, "is negative"),
        ("abc", "is not a number"),
        ("1,000.00", "is not a number"),
        ("NaN", "not a finite number"),
        ("Infinity", "not a finite number"),
        (float("inf"), "not a finite number"),
        (0.1 + 0.2, "more than 2 decimal places"),
        ("1.005", "more than 2 decimal places"),
        (True, "a boolean"),
        ([1], "a list"),
        ("1e40", "too large"),
        (None, "missing required field"),
    ],
)
def test_bad_amounts_are_rejected_naming_subject_and_field(value, reason):
    with pytest.raises(InvalidRecord) as err:
        m.parse_amount(value, "gift card GC-1 (id 1), activity 9", "amount")
    assert "gift card GC-1 (id 1), activity 9: " in err.value.message and "'amount'" in err.value.message
    assert reason in err.value.message


def test_balance_is_optional_but_validated():
    assert m.ipaas_balance(card(balance=None)) is None
    assert m.ipaas_balance(card(balance=12)) == Decimal("12.00")
    with pytest.raises(InvalidRecord, match="field 'balance' is not a number"):
        m.ipaas_balance(card(balance="lots"))


def test_wire_amounts_are_strings_never_floats():
    payload = m.activity_payload("GC-1", m.plan_activities(card(activities=[act("Reload", 5)])).to_apply[0], STORE, None)
    assert json.dumps(payload) == (
        '{"giftcard": {"data": [{"giftcard_number": "GC-1", "reload_amount": "5.00"}]}, '
        '"store_ref_id": "store_b81a893dc2bc6e1a5d"}'
    )


# -- statuses ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("status", ["Active", "Redeemed", None, "active"])
def test_active_and_redeemed_cards_go_through(status):
    m.check_status(card(status=status), linked=False)
    m.check_status(card(status=status), linked=True)


@pytest.mark.parametrize("status", ["Void", "Expired"])
def test_void_or_expired_is_skipped_when_not_in_99minds(status):
    with pytest.raises(Skip, match=f"status '{status}' and not in 99minds; nothing to issue"):
        m.check_status(card(status=status), linked=False)


@pytest.mark.parametrize("status", ["Void", "Expired"])
def test_void_or_expired_is_rejected_when_in_99minds(status):
    with pytest.raises(InvalidRecord, match=f"status '{status}' cannot be expressed .* by hand"):
        m.check_status(card(status=status), linked=True)


def test_pending_waits_until_active_and_unknown_status_is_rejected():
    with pytest.raises(Skip, match="'Pending'; it is issued in 99minds once it is Active"):
        m.check_status(card(status="Pending"), linked=False)
    m.check_status(card(status="Pending"), linked=True)
    with pytest.raises(InvalidRecord, match="unknown status 'Frozen'"):
        m.check_status(card(status="Frozen"), linked=True)


# -- campaign ----------------------------------------------------------------------------------------------------
def test_campaign_setting_is_used():
    assert m.campaign_for(card(), " campaign_1 ") == "campaign_1"


@pytest.mark.parametrize(
    "fields",
    [
        [{"id": 7, "custom_field_name": "Campaign Id", "value": "campaign_mapped"}],  # iPaaS.com's published read shape
        [{"name": "Campaign Id", "value": "campaign_mapped"}],
        [{"Name": "campaign_id", "Value": "campaign_mapped"}],
        {"Campaign Id": "campaign_mapped"},
    ],
)
def test_mapped_campaign_wins_over_the_setting(fields):
    assert m.campaign_for(card(custom_fields=fields), "campaign_setting") == "campaign_mapped"


def test_campaign_as_a_record_field():
    assert m.campaign_for(card(campaign_id="campaign_field"), None) == "campaign_field"


@pytest.mark.parametrize("setting", [None, "", "  "])
def test_missing_campaign_is_a_configuration_error_naming_the_setting(setting):
    with pytest.raises(ConfigurationError, match="gift card GC-77 \\(id 77\\): missing setting 'Campaign Id'"):
        m.campaign_for(card(custom_fields=[{"name": "Campaign Id", "value": ""}]), setting)


# -- activities ----------------------------------------------------------------------------------------------------
def test_activities_are_applied_in_timestamp_order_with_issue_covered():
    plan = m.plan_activities(
        card(
            activities=[
                act("Redeem", "5", "2025-03-03T00:00:00Z", id=3),
                act("Issue", "50", None, id=1),
                act("Reload", "20", "2025-03-02T00:00:00+02:00", id=2),  # 2025-03-01T22:00Z: before the redeem
                act("Redemption", "1", "2025-03-01T23:00:00", id=4),  # naive: read as UTC
            ]
        )
    )
    assert [(a.label, a.kind.value, str(a.amount)) for a in plan.to_apply] == [
        ("activity 2", "reload", "20.00"),
        ("activity 4", "redeem", "1.00"),
        ("activity 3", "redeem", "5.00"),
    ]
    assert [a.label for a in plan.covered_by_issue] == ["activity 1"]
    assert plan.to_apply[0].timestamp == datetime(2025, 3, 1, 22, tzinfo=UTC)


def test_equal_timestamps_keep_the_record_order():
    plan = m.plan_activities(card(activities=[act("Reload", "1", id="a"), act("Redeem", "1", id="b")]))
    assert [a.link_id for a in plan.to_apply] == ["a", "b"]


def test_identity_is_the_id_when_present_else_the_activity_fields():
    plan = m.plan_activities(
        card(
            activities=[
                act("Redeem", "10", id=9),
                act("Redeem", 10, transaction_reference_id="T-1"),
                act("redeem", "10.00", transaction_reference_id="T-1"),
            ]
        )
    )
    with_id, first, second = plan.to_apply
    assert with_id.identity == "GC-77|id=9" and with_id.link_id == "9"
    assert first.identity == "GC-77|2025-03-01T10:00:00+00:00|redeem|10.00|T-1"
    # the same fields listed twice without an id: a second, distinct activity, never merged into one
    assert second.identity == first.identity + "#2" and second.key != first.key
    assert first.link_id == f"77-{first.key}"


def test_identity_does_not_depend_on_amount_spelling_or_position():
    a = m.plan_activities(card(activities=[act("Reload", "5", "2025-01-01T00:00:00Z"), act("Reload", 10)]))
    b = m.plan_activities(card(activities=[act("reload", 10.0), act("RELOAD", "5.00", "2025-01-01T00:00:00+00:00")]))
    assert {x.identity for x in a.to_apply} == {x.identity for x in b.to_apply}


def test_unknown_activity_type_rejects_the_whole_card():
    with pytest.raises(InvalidRecord, match="gift card GC-77 \\(id 77\\), activity #2: unknown activity_type 'Void'"):
        m.plan_activities(card(activities=[act("Reload", "5"), act("Void", "5")]))


def test_bad_amount_on_any_activity_rejects_the_whole_card():
    with pytest.raises(InvalidRecord, match="activity 8: field 'amount' is negative"):
        m.plan_activities(card(activities=[act("Reload", "5", id=7), act("Redeem", "-5", id=8)]))


def test_reload_without_timestamp_is_rejected_and_zero_is_skipped():
    with pytest.raises(InvalidRecord, match="activity #1: missing required field 'timestamp'"):
        m.plan_activities(card(activities=[act("Reload", "5", None)]))
    plan = m.plan_activities(card(activities=[act("Reload", "0")]))
    assert plan.to_apply == [] and plan.skipped == ["activity #1: zero reload, nothing to apply"]


def test_card_number_is_required():
    with pytest.raises(InvalidRecord, match="gift card 77: missing required field 'number'"):
        m.plan_activities(card(number=" "))


@pytest.mark.parametrize(
    "text, kind",
    [
        ("Reload", "reload"),
        ("top-up", "reload"),
        ("Add Value", "reload"),
        ("REDEMPTION", "redeem"),
        ("debit", "redeem"),
        ("Activation", "issue"),
    ],
)
def test_activity_types(text, kind):
    assert m.kind_of(text).value == kind


# -- bodies ---------------------------------------------------------------------------------------------------------
def test_issue_payload():
    payload = m.issue_payload(
        card(customer_email="ada@example.com", expiration_date="2026-12-31T00:00:00Z"),
        campaign_id="campaign_1",
        store=StoreRef(kind="client_store_id", value="1"),
        customer_id="customer_abc",
    )
    assert payload == {
        "campaign_id": "campaign_1",
        "giftcard_number": "GC-77",
        "amount": "50.00",
        "client_store_id": "1",
        "customer_id": "customer_abc",
        "customer_email": "ada@example.com",
        "expiry_date": "2026-12-31",
    }


def test_issue_payload_needs_a_valid_original_amount():
    with pytest.raises(InvalidRecord, match="missing required field 'original_amount'"):
        m.issue_payload(card(original_amount=None), campaign_id="c", store=STORE, customer_id=None)
    with pytest.raises(InvalidRecord, match="'original_amount' is not a number"):
        m.issue_payload(card(original_amount="fifty"), campaign_id="c", store=STORE, customer_id=None)


def test_redeem_payload_follows_the_public_client_shape():
    [redeem] = m.plan_activities(card(activities=[act("Redeem", "2.5", transaction_reference_id="INV-1")])).to_apply
    assert m.activity_payload("GC-77", redeem, STORE, "reference_id") == {
        "giftcard": {"data": [{"giftcard_number": "GC-77", "redemption_amount": "2.50"}]},
        "store_ref_id": "store_b81a893dc2bc6e1a5d",
        "reference_id": m.activity_reference(redeem),
    }


def test_the_activity_reference_is_the_same_on_every_delivery_and_differs_per_activity():
    acts = [act("Redeem", "2.5", id="a1"), act("Redeem", "2.5", id="a2"), act("Reload", "2.5")]
    first = [m.activity_reference(a) for a in m.plan_activities(card(activities=acts)).to_apply]
    again = [m.activity_reference(a) for a in m.plan_activities(card(activities=list(reversed(acts)))).to_apply]
    assert sorted(first) == sorted(again) and len(set(first)) == 3
    assert all(r.startswith("ipaas-") and len(r) <= 40 for r in first)


def test_history_path_quotes_its_values():
    assert (
        m.history_path("/h?card_id={card_id}&n={card_number}&ref={reference}", card_id="a/b", number="GC 1", reference="ipaas-1")
        == "/h?card_id=a%2Fb&n=GC%201&ref=ipaas-1"
    )


# -- replies ---------------------------------------------------------------------------------------------------------
def test_reply_parsing():
    state = m.giftcard_from_reply(
        {
            "code": 200,
            "message": "success",
            "data": {"giftcard": {"id": "giftcard_1", "giftcard_number": "GC-77", "balance": "12.5"}},
        },
        "gift card GC-77",
    )
    assert state == m.CardState(card_id="giftcard_1", number="GC-77", balance=Decimal("12.50"))
    assert m.giftcard_from_reply({"data": {"giftcard": {"giftcard_number": "N", "balance": 3}}}, "x").card_id == "N"
    assert m.giftcard_from_reply({"data": {"giftcard": {"id": "g"}}}, "x", need_balance=False).balance is None


@pytest.mark.parametrize(
    "body, reason",
    [
        ({"code": 200, "data": {}}, "without data.giftcard"),
        (None, "without data.giftcard"),
        ({"data": {"giftcard": {"balance": "1"}}}, "without an id"),
        ({"data": {"giftcard": {"id": "g"}}}, "without a balance"),
        ({"data": {"giftcard": {"id": "g", "balance": "n/a"}}}, "not a number"),
    ],
)
def test_bad_replies_are_permanent_errors(body, reason):
    with pytest.raises(PermanentError, match=reason):
        m.giftcard_from_reply(body, "gift card GC-77")


# -- uncertain outcomes ------------------------------------------------------------------------------------------------
D = Decimal


RELOAD5 = m.plan_activities(card(activities=[act("Reload", "5.00", id="r5")])).to_apply[0]
REF = m.activity_reference(RELOAD5)


def history(*entries) -> dict:
    return {"code": 200, "message": "success", "data": {"transactions": list(entries)}}


@pytest.mark.parametrize(
    "body, decision, evidence",
    [
        (history(), m.Decision.NOT_APPLIED, "holds no reload 5.00"),
        (history({"reference_id": REF, "type": "reload", "amount": "5.00"}), m.Decision.APPLIED, "holds the reload 5.00"),
        (history({"reference_id": REF}), m.Decision.APPLIED, "holds the reload 5.00"),  # the reference alone proves it
        (history({"reference_id": REF, "type": "reload", "amount": 5}), m.Decision.APPLIED, "holds the reload"),
        (history({"reference_id": REF, "type": "redeem", "amount": "5.00"}), m.Decision.UNDECIDABLE, "not a reload 5.00"),
        (history({"reference_id": REF, "amount": "6.00"}), m.Decision.UNDECIDABLE, "not a reload 5.00"),
        (history({"reference_id": REF}, {"reference_id": REF}), m.Decision.UNDECIDABLE, "holds 2 activities"),
        # the lookup did not filter by reference (an unrelated till entry, or entries without one): nothing is proven
        (history({"reference_id": "till-1", "type": "reload", "amount": "5.00"}), m.Decision.UNDECIDABLE, "as assumed"),
        (history({"type": "reload", "amount": "5.00"}), m.Decision.UNDECIDABLE, "another or no reference_id"),
        ({"code": 200, "data": {"giftcard": {}}}, m.Decision.UNDECIDABLE, "without a data.transactions list"),
        ({"code": 200, "data": {"transactions": ["x"]}}, m.Decision.UNDECIDABLE, "without a data.transactions list"),
        ([], m.Decision.UNDECIDABLE, "without a data.transactions list"),
        (None, m.Decision.UNDECIDABLE, "HTTP 404"),
    ],
)
def test_judge_history(body, decision, evidence):
    verdict = m.judge_history(lambda page: body, reference=REF, reference_field="reference_id", activity=RELOAD5)
    assert verdict.decision is decision and evidence in verdict.evidence, verdict


def paged(*entries, **paging) -> dict:
    return {"code": 200, "message": "success", "data": {"transactions": list(entries), **paging}}


ENTRY = {"reference_id": REF, "type": "reload", "amount": "5.00"}


@pytest.mark.parametrize(
    "pages, decision, evidence",
    [
        # the audit's answer: page 1 empty, "total 1, next page 2": the reload is on page 2 (was "not applied")
        ([paged(total=1, next_page=2), paged(ENTRY, total=1, next_page=None)], m.Decision.APPLIED, "holds the reload"),
        ([paged(last_page=3), paged(last_page=3), paged(ENTRY, last_page=3)], m.Decision.APPLIED, "holds the reload"),
        ([{**paged(), "next_page": 2, "total": 1}, paged(ENTRY)], m.Decision.APPLIED, "holds the reload"),  # top level
        ([paged(has_more=True), paged(ENTRY, has_more=False)], m.Decision.APPLIED, "holds the reload"),
        ([paged(next_page=2), paged(ENTRY), paged(ENTRY)], m.Decision.APPLIED, "holds the reload"),  # page 3 never read
        ([paged(next_page=2, total=0), paged(total=0)], m.Decision.NOT_APPLIED, "holds no reload"),
        ([paged(ENTRY, next_page=2), paged(ENTRY)], m.Decision.UNDECIDABLE, "holds 2 activities"),
        # not read to its end: it proves nothing
        ([paged(total=1)], m.Decision.UNDECIDABLE, "says it holds 1 entries but its 1 page(s) listed 0"),
        ([paged(next_page=2)] * 50, m.Decision.UNDECIDABLE, f"within {m.MAX_HISTORY_PAGES} pages"),
        ([paged(next_page=2), {"code": 200}], m.Decision.UNDECIDABLE, "without a data.transactions list"),
        ([paged(next_page=2), None], m.Decision.UNDECIDABLE, "HTTP 404, page 2"),
    ],
)
def test_absence_in_a_paged_history_is_proof_only_once_every_page_was_read(pages, decision, evidence):
    asked: list[int] = []

    def fetch(page: int):
        asked.append(page)
        return pages[page - 1]

    verdict = m.judge_history(fetch, reference=REF, reference_field="reference_id", activity=RELOAD5)
    assert verdict.decision is decision and evidence in verdict.evidence, verdict
    assert asked == list(range(1, len(asked) + 1)) and len(asked) <= m.MAX_HISTORY_PAGES


def test_history_pages_are_asked_for_with_page_no():
    path = "/api/v1/giftcards/transactions?card_id=g&reference_id=r"
    assert m.history_page_path(path, 2).endswith("&page_no=2")
    assert m.history_page_path("/h", 3) == "/h?page_no=3"
