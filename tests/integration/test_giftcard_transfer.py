"""The real GiftCardTransferFunction against moto and the iPaaS.com / 99minds sandboxes: money moves once."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import boto3
import pytest

from ipaas_sync.core.models.ipaas import IpaasGiftCard
from ipaas_sync.destinations.ninetynine_minds.mapping import giftcard as mapping
from ipaas_sync.platform import http
from ipaas_sync.runtime import pending
from ipaas_sync.runtime.pending import PendingJournal
from sandbox.local_aws import sqs_event
from sandbox.stack import NINETYNINE_SYSTEM_ID as SYS

from .conftest import dlq_reasons, json_lines, notification

Q, DLQ, FN = "GiftcardNinetyNineMindsQueue", "GiftcardNinetyNineMindsDLQ", "GiftCardTransferFunction"


@pytest.fixture(autouse=True)
def decide_at_once(monkeypatch):
    """These tests are about what a retry decides from the card; the wait while an earlier request may still be in
    flight (pending.IN_FLIGHT_SECONDS, 120 s) has its own test below."""
    monkeypatch.setattr(pending, "IN_FLIGHT_SECONDS", 0.0)


ISSUE, RELOAD, REDEEM = "/api/v1/giftcards/issue", "/api/v1/giftcards/reload", "/api/v1/giftcards/redeem"


def act(type_, amount, ts, **kw):
    return {"activity_type": type_, "amount": amount, "timestamp": ts, **kw}


def put_card(stack, id_, *, activities=(), balance="0.00", original="0.00", status="Active", **kw) -> dict:
    record = {
        "id": id_,
        "number": f"GC-{id_}",
        "type": "Gift Card",
        "status": status,
        "original_amount": original,
        "balance": balance,
        "activities": list(activities),
        **kw,
    }
    stack.ipaas.put("giftcards", record)
    return record


def linked_card(stack, id_, balance_99minds: str, **kw) -> tuple[dict, dict]:
    """A card already issued in 99minds and linked in iPaaS.com (table 'Gift Card')."""
    record = put_card(stack, id_, **kw)
    existing = stack.ninetynine.add_giftcard(record["number"], balance_99minds)
    stack.ipaas.set_link(SYS, "Gift Card", id_, existing["id"])
    return record, existing


def note(id_, scope="giftcard/updated", **kw):
    return notification(id_, scope=scope, **kw)


def writes(stack, path):
    """Writes 99minds accepted (the sandbox records a request that timed out on our side as accepted too)."""
    return stack.ninetynine.calls("POST", path, status=200)


def final(stack):
    return [o for o in stack.outcomes() if o["status"] not in ("failed", "retrying")]


def activity_link(stack, link_id):
    return stack.ipaas.link(SYS, "Gift Card Activity", link_id)


# -- issue ------------------------------------------------------------------------------------------------------
def test_issue_with_campaign_and_store_links_the_card_and_applies_later_activities(stack):
    stack.ipaas.set_link(SYS, "customer", "c-9", "customer_99")
    put_card(
        stack,
        "1",
        original="50.00",
        balance="40.00",
        customer_id="c-9",
        activities=[
            act("Issue", "50.00", "2025-03-01T09:00:00Z", id="a1"),
            act("Redeem", "10.00", "2025-03-01T10:00:00Z", id="a2", transaction_reference_id="INV-7"),
        ],
    )
    stack.send(Q, note("1", scope="giftcard/created"))
    stack.drain()
    [issue] = writes(stack, ISSUE)
    assert issue.body == {
        "campaign_id": "campaign_local",
        "giftcard_number": "GC-1",
        "amount": "50.00",
        "store_ref_id": "store_b81a893dc2bc6e1a5d",
        "customer_id": "customer_99",
    }
    [redeem] = writes(stack, REDEEM)
    # every reload/redemption carries its activity reference (the same on every delivery): what 99minds' history proves
    assert redeem.body == {
        "giftcard": {"data": [{"giftcard_number": "GC-1", "redemption_amount": "10.00"}]},
        "store_ref_id": "store_b81a893dc2bc6e1a5d",
        "reference_id": reference(stack, "1", "a2"),
    }
    [outcome] = stack.outcomes()
    card = stack.ninetynine.giftcard("GC-1")
    assert outcome["status"] == "created" and outcome["external_id"] == card["id"]
    assert card["balance"] == Decimal("40.00") and card["campaign_id"] == "campaign_local"
    assert stack.ipaas.link(SYS, "Gift Card", "1") == card["id"]
    assert activity_link(stack, "a2") == f"{card['id']}:redeem:{outcome_key(stack, '1', 'a2')}"
    assert activity_link(stack, "a1") is None  # covered by the issue itself, never applied separately
    assert outcome["details"]["balance_99minds"] == outcome["details"]["balance_ipaas"] == "40.00"
    assert stack.messages(DLQ) == []


def outcome_key(stack, card_id, activity_id):
    record = IpaasGiftCard.model_validate(stack.ipaas.records["giftcards"][card_id])
    return next(a.key for a in mapping.plan_activities(record).to_apply if a.link_id == activity_id)


def test_issue_with_client_store_id_and_a_mapped_campaign(make_stack):
    stack = make_stack(
        subscription_overrides={"NinetyNineMindsSubscriptionSecret": {"Store Ref Id": None, "Client Store Id": "7"}}
    )
    put_card(stack, "2", original="25", balance="25", custom_fields=[{"name": "Campaign Id", "value": "campaign_x"}])
    stack.send(Q, note("2", scope="giftcard/created"))
    stack.drain()
    [issue] = writes(stack, ISSUE)
    assert issue.body["client_store_id"] == "7" and "store_ref_id" not in issue.body
    assert issue.body["campaign_id"] == "campaign_x" and issue.body["amount"] == "25.00"
    assert [o["status"] for o in stack.outcomes()] == ["created"]


def test_missing_campaign_is_a_configuration_error_kept_in_the_dlq_and_not_retried(make_stack):
    stack = make_stack(subscription_overrides={"NinetyNineMindsSubscriptionSecret": {"Campaign Id": None}})
    put_card(stack, "3", original="10", balance="10")
    linked_card(stack, "4", "0.00", balance="5.00", activities=[act("Reload", "5", "2025-03-01T10:00:00Z", id="r")])
    stack.send(Q, note("3", scope="giftcard/created"))
    stack.send(Q, note("4"))
    stack.drain()
    [msg] = dlq_reasons(stack, DLQ)
    assert msg["ipaas.error"] == "configuration:ConfigurationError" and msg["ipaas.attempts"] == "1"
    assert "gift card GC-3 (id 3): missing setting 'Campaign Id'" in msg["ipaas.reason"]
    assert json.loads(msg["body"])["id"] == "3"
    assert writes(stack, ISSUE) == [] and stack.ipaas.link(SYS, "Gift Card", "3") is None
    # a card that is already issued needs no campaign: its reload goes through
    assert [o["record_id"] for o in stack.outcomes("updated")] == ["4"]


@pytest.mark.parametrize(
    "override, reason",
    [
        ({"Client Store Id": "1"}, "set exactly one of 'Store Ref Id' or 'Client Store Id', not both"),
        ({"Store Ref Id": None}, "missing setting 'Store Ref Id' or 'Client Store Id'"),
    ],
)
def test_both_or_neither_store_id_is_a_configuration_error(make_stack, override, reason):
    stack = make_stack(subscription_overrides={"NinetyNineMindsSubscriptionSecret": override})
    put_card(stack, "5", original="10", balance="10")
    stack.send(Q, note("5", scope="giftcard/created"))
    stack.drain()
    [msg] = dlq_reasons(stack, DLQ)
    assert msg["ipaas.error"] == "configuration:ConfigurationError" and reason in msg["ipaas.reason"]
    assert stack.ninetynine.requests == []


# -- exactly once ---------------------------------------------------------------------------------------------------
def two_activities(stack, id_):
    return linked_card(
        stack,
        id_,
        "0.00",
        balance="30.00",
        activities=[
            act("Reload", "50.00", "2025-03-01T10:00:00Z", id=f"{id_}-r"),
            act("Redeem", "20.00", "2025-03-01T11:00:00Z", id=f"{id_}-d"),
        ],
    )


def test_duplicate_delivery_of_the_same_message_applies_once(stack):
    _, existing = two_activities(stack, "6")
    body = json.dumps(note("6"))
    arn = stack.deployment.physical[Q]["Arn"]
    event = sqs_event([{"MessageId": "msg-6", "ReceiptHandle": "rh-6", "Body": body}], arn)
    assert stack.invoke(FN, event) == {"batchItemFailures": []}
    assert stack.invoke(FN, event) == {"batchItemFailures": []}  # SQS at-least-once: delivered again
    assert len(writes(stack, RELOAD)) == 1 and len(writes(stack, REDEEM)) == 1
    assert stack.ninetynine.giftcard(existing["id"])["balance"] == Decimal("30.00")
    assert [o["status"] for o in stack.outcomes()] == ["updated", "duplicate"]
    assert stack.outcomes("duplicate")[0]["details"]["activities_already_applied"] == 2


def test_redelivery_with_a_new_message_id_applies_once_and_iPaaS_links_outlive_our_table(stack):
    _, existing = two_activities(stack, "7")
    stack.send(Q, note("7"))
    stack.drain()
    stack.send(Q, note("7"))  # replayed from the DLQ or sent twice: a new messageId
    stack.drain()
    assert activity_link(stack, "7-r") and activity_link(stack, "7-d")
    # our idempotency records expire (7 days); the iPaaS.com activity links still say what was applied
    ddb = boto3.client("dynamodb")
    table = stack.deployment.physical["IdempotencyTable"]["Ref"]
    for item in ddb.scan(TableName=table)["Items"]:
        ddb.delete_item(TableName=table, Key={"id": item["id"]})
    stack.send(Q, note("7"))
    stack.drain()
    assert len(writes(stack, RELOAD)) == 1 and len(writes(stack, REDEEM)) == 1
    assert stack.ninetynine.giftcard(existing["id"])["balance"] == Decimal("30.00")
    assert [o["status"] for o in final(stack)] == ["updated", "duplicate", "duplicate"]


@pytest.mark.parametrize("path", [RELOAD, REDEEM])
def test_first_attempt_timed_out_after_99minds_applied_it(stack, monkeypatch, path):
    monkeypatch.setattr(http, "READ_TIMEOUT", 1.0)
    _, existing = two_activities(stack, "8")
    stack.ninetynine.faults.apply_then_hang(1, seconds=3, path=path)
    stack.send(Q, note("8"))
    stack.drain()
    assert len(writes(stack, RELOAD)) == 1 and len(writes(stack, REDEEM)) == 1
    assert stack.ninetynine.giftcard(existing["id"])["balance"] == Decimal("30.00")
    failed, done = stack.outcomes()
    assert failed["status"] == "retrying" and failed["failure_kind"] == "transient"
    assert "did not answer in time" in failed["reason"] or "connection failed" in failed["reason"]
    assert done["status"] == "updated" and done["details"]["activities_recovered"] == 1
    assert activity_link(stack, "8-r") and activity_link(stack, "8-d")
    assert stack.messages(DLQ) == []


def test_issue_timed_out_after_99minds_issued_it_is_linked_not_issued_again(stack, monkeypatch):
    monkeypatch.setattr(http, "READ_TIMEOUT", 1.0)
    put_card(stack, "9", original="20.00", balance="20.00")
    stack.ninetynine.faults.apply_then_hang(1, seconds=3, path=ISSUE)
    stack.send(Q, note("9", scope="giftcard/created"))
    stack.drain()
    assert len(writes(stack, ISSUE)) == 1 and len(stack.ninetynine.giftcards) == 1
    card = stack.ninetynine.giftcard("GC-9")
    assert stack.ipaas.link(SYS, "Gift Card", "9") == card["id"]
    assert [o["status"] for o in final(stack)] == ["created"]
    assert final(stack)[0]["details"]["issue_recovered"] is True


def test_a_request_still_in_flight_is_waited_for_not_applied_twice(stack, monkeypatch):
    """99minds applies the reload 3 s after it arrived, past our read timeout (1 s). A retry that read the card before
    it landed would see "not applied" and apply it again; inside the in-flight window the retry waits instead."""
    monkeypatch.setattr(http, "READ_TIMEOUT", 1.0)
    monkeypatch.setattr(pending, "IN_FLIGHT_SECONDS", 3.5)
    _, existing = linked_card(
        stack, "15", "0.00", balance="50.00", activities=[act("Reload", "50.00", "2025-03-01T10:00:00Z", id="15-r")]
    )
    stack.ninetynine.faults.slow(1, seconds=3, path=RELOAD)
    stack.send(Q, note("15"))
    stack.drain()
    assert len(writes(stack, RELOAD)) == 1 and existing["balance"] == Decimal("50.00")
    [failed] = stack.outcomes("retrying")
    assert "did not answer in time" in failed["reason"]
    waits = [o["reason"] for o in stack.outcomes("deferred")]  # waited out on the queue, never as a failed attempt
    assert waits and all("may still be applied at 99minds (apply window 4s" in r for r in waits), waits
    [done] = final(stack)
    assert done["status"] == "updated" and done["details"]["activities_recovered"] == 1
    assert activity_link(stack, "15-r") and stack.messages(DLQ) == []


def test_5xx_before_applying_is_retried_and_applied_once(stack):
    _, existing = two_activities(stack, "10")
    stack.ninetynine.faults.fail(1, status=503, path=RELOAD)
    stack.send(Q, note("10"))
    stack.drain()
    assert len(writes(stack, RELOAD)) == 1 and len(stack.ninetynine.calls("POST", RELOAD, status=503)) == 1
    assert stack.ninetynine.giftcard(existing["id"])["balance"] == Decimal("30.00")
    assert [o["status"] for o in stack.outcomes()] == ["retrying", "updated"]


def planned(stack, card_id, activity_id) -> tuple[IpaasGiftCard, mapping.PlannedActivity]:
    record = IpaasGiftCard.model_validate(stack.ipaas.records["giftcards"][card_id])
    return record, next(a for a in mapping.plan_activities(record).to_apply if a.link_id == activity_id)


def reference(stack, card_id, activity_id) -> str:
    return mapping.activity_reference(planned(stack, card_id, activity_id)[1])


def journal_and_key(stack, card_id, activity_id):
    record, activity = planned(stack, card_id, activity_id)
    identity = {
        "destination": SYS,
        "platform": "99minds",
        "entity": "giftcard",
        "card": record.number,
        "activity": activity.identity,
    }
    return PendingJournal(stack.deployment.physical["IdempotencyTable"]["Ref"]), PendingJournal.key(identity)


def test_lambda_timeout_after_the_side_effect_is_recognised_at_99minds(stack):
    """The invocation died after 99minds applied the reload: our lock expired, only a pending marker is left."""
    _, existing = linked_card(
        stack, "11", "5.00", balance="55.00", activities=[act("Reload", "50.00", "2025-03-01T10:00:00Z", id="11-r")]
    )
    journal, key = journal_and_key(stack, "11", "11-r")
    journal.begin(key, operation="reload", card="GC-11", before=Decimal("5.00"))
    stack.ninetynine.use_card("GC-11", "reload", "50.00", reference(stack, "11", "11-r"))  # what the lost request did
    stack.send(Q, note("11"))
    stack.drain()
    assert writes(stack, RELOAD) == []
    assert [o["status"] for o in stack.outcomes()] == ["updated"]
    assert existing["balance"] == Decimal("55.00") and activity_link(stack, "11-r")


@pytest.mark.parametrize("lost_request_applied", [True, False], ids=["applied-then-spent", "not-applied-then-reloaded"])
def test_the_card_history_not_the_balance_decides_a_lost_answer(stack, lost_request_applied):
    """A reload of 5.00 whose answer was lost, then the card is used at the till for 5.00 before the redelivery:
    spent (the balance looks unchanged) after it was applied, or reloaded (the balance looks applied) when it was not.
    The balance would apply it twice or never; the reference in the card's history applies it exactly once."""
    _, existing = linked_card(
        stack,
        "16",
        "10.00",
        balance="10.00" if lost_request_applied else "20.00",
        activities=[act("Reload", "5.00", "2025-03-01T10:00:00Z", id="16-r")],
    )
    journal, key = journal_and_key(stack, "16", "16-r")
    journal.begin(key, operation="reload", card="GC-16", before=Decimal("10.00"))
    if lost_request_applied:
        stack.ninetynine.use_card("GC-16", "reload", "5.00", reference(stack, "16", "16-r"))
        stack.ninetynine.use_card("GC-16", "redeem", "5.00")  # at the till
    else:
        stack.ninetynine.use_card("GC-16", "reload", "5.00")  # at the till: an unrelated reload of the same amount
    stack.send(Q, note("16"))
    stack.drain()
    assert len(writes(stack, RELOAD)) == (0 if lost_request_applied else 1)
    assert existing["balance"] == Decimal("10.00" if lost_request_applied else "20.00")
    assert [o["status"] for o in stack.outcomes()] == ["updated"] and activity_link(stack, "16-r")


@pytest.mark.parametrize(
    "override, evidence",
    [
        ({"Gift Card History Path": ""}, "setting 'Gift Card History Path' is blank"),
        ({"Gift Card Activity Reference Field": ""}, "setting 'Gift Card Activity Reference Field' is blank"),
        ({"Gift Card History Path": "/api/v1/nowhere?ref={reference}"}, "the card-history lookup was refused (HTTP 404)"),
        (
            {"Gift Card History Path": "/api/v1/giftcards/transactions?card_id={card_id}&ref={reference}"},  # not a filter
            "it does not look activities up by reference as assumed",
        ),
    ],
    ids=["no-lookup", "no-reference", "lookup-404", "lookup-ignores-reference"],
)
def test_without_proof_from_99minds_a_lost_answer_goes_to_the_dlq_and_is_never_guessed(make_stack, override, evidence):
    stack = make_stack(subscription_overrides={"NinetyNineMindsSubscriptionSecret": override})
    _, existing = linked_card(
        stack, "12", "77.00", balance="50.00", activities=[act("Redeem", "50.00", "2025-03-01T10:00:00Z", id="12-d")]
    )
    stack.ninetynine.use_card("GC-12", "reload", "1.00")  # something in the card's history that is not ours
    journal, key = journal_and_key(stack, "12", "12-d")
    journal.begin(key, operation="redeem", card="GC-12", before=Decimal("100.00"))
    stack.send(Q, note("12"))
    stack.drain()
    [msg] = dlq_reasons(stack, DLQ)
    assert msg["ipaas.error"] == "permanent:UncertainOutcome"
    reason = msg["ipaas.reason"]
    assert evidence in reason, reason
    # the evidence, and the exact steps to settle it
    assert "balance before it 100.00, now 78.00" in reason and "100.00 if not applied" in reason, reason
    ref = reference(stack, "12", "12-d")
    assert f"with reference '{ref}' on 99minds card '{existing['id']}'" in reason
    assert "internal id '12-d'" in reason and f"external id '{existing['id']}:redeem:" in reason
    assert key in reason and writes(stack, REDEEM) == []
    assert existing["balance"] == Decimal("78.00") and activity_link(stack, "12-d") is None


# -- order, mismatch, bad input ---------------------------------------------------------------------------------------
def test_activities_apply_in_timestamp_order_and_a_stale_snapshot_is_a_duplicate(stack):
    _, existing = linked_card(
        stack,
        "13",
        "0.00",
        balance="20.00",
        activities=[
            act("Redeem", "30.00", "2025-03-01T12:00:00Z", id="13-d"),  # listed first, happened last
            act("Reload", "50.00", "2025-03-01T10:00:00Z", id="13-r"),
        ],
    )
    stale = note(
        "13",
        record={
            "id": "13",
            "number": "GC-13",
            "status": "Active",
            "balance": "50.00",
            "activities": [act("Reload", "50.00", "2025-03-01T10:00:00Z", id="13-r")],
        },
    )
    stack.send(Q, note("13"))
    stack.drain()
    stack.send(Q, stale)  # an older notification arrives late
    stack.drain()
    assert [h[0] for h in existing["history"]] == ["reload", "redeem"]
    assert existing["balance"] == Decimal("20.00")
    assert [o["status"] for o in stack.outcomes()] == ["updated", "duplicate"]


def test_balance_mismatch_is_reported_not_corrected(stack, log_output):
    _, existing = linked_card(
        stack, "14", "10.00", balance="50.00", activities=[act("Reload", "50.00", "2025-03-01T10:00:00Z", id="14-r")]
    )
    stack.send(Q, note("14"))
    stack.drain()
    [outcome] = stack.outcomes()
    assert outcome["status"] == "mismatch"
    assert outcome["reason"] == (
        "gift card GC-14 (id 14): balance in 99minds 60.00 differs from iPaaS.com 50.00 after applying 1 activity; not corrected"
    )
    assert outcome["details"]["balance_99minds"] == "60.00" and outcome["details"]["balance_ipaas"] == "50.00"
    assert existing["balance"] == Decimal("60.00") and len(writes(stack, RELOAD)) == 1
    assert stack.messages(DLQ) == [] and stack.messages(Q) == []  # the transfer happened: message deleted
    [line] = [ln for ln in json_lines(log_output) if ln.get("outcome", {}).get("status") == "mismatch"]
    assert line["level"] == "WARNING" and line["tracking_guid"] == "guid-14"


def test_bad_amounts_types_and_statuses_are_rejected_before_anything_is_sent(stack):
    ts = "2025-03-01T10:00:00Z"
    cases = {
        "20": [act("Reload", "5.00", ts, id="ok"), act("Redeem", "-5.00", ts, id="neg")],
        "21": [act("Reload", "five", ts, id="txt")],
        "22": [act("Reload", "NaN", ts, id="nan")],
        "23": [act("Reload", "Infinity", ts, id="inf")],
        "24": [act("Redeem", "1.005", ts, id="frac")],
        "25": [act("Reload", "5.00", ts, id="ok"), act("Transfer", "5.00", ts, id="what")],
    }
    for id_, activities in cases.items():
        linked_card(stack, id_, "10.00", balance="10.00", activities=activities)
        stack.send(Q, note(id_))
    # a JSON float with binary noise, inline: 0.1 + 0.2
    linked_card(stack, "26", "10.00")
    noisy = json.dumps(
        note(
            "26",
            record={
                "id": "26",
                "number": "GC-26",
                "status": "Active",
                "activities": [{"id": "noise", "activity_type": "Reload", "amount": 0.1 + 0.2, "timestamp": ts}],
            },
        )
    )
    assert '"amount": 0.30000000000000004' in noisy
    stack.send(Q, noisy)
    linked_card(stack, "27", "10.00", status="Void", activities=[act("Redeem", "1.00", ts, id="v")])
    put_card(stack, "28", status="Expired", original="10")
    stack.send(Q, note("27"))
    stack.send(Q, note("28", scope="giftcard/created"))
    stack.send(Q, note("29", scope="giftcard/deleted"))
    stack.drain()
    reasons = {json.loads(m["body"])["id"]: m["ipaas.reason"] for m in dlq_reasons(stack, DLQ)}
    assert reasons == {
        "20": "gift card GC-20 (id 20), activity neg: field 'amount' is negative (-5.00)",
        "21": "gift card GC-21 (id 21), activity txt: field 'amount' is not a number",
        "22": "gift card GC-22 (id 22), activity nan: field 'amount' is not a finite number (NaN or Infinity)",
        "23": "gift card GC-23 (id 23), activity inf: field 'amount' is not a finite number (NaN or Infinity)",
        "24": "gift card GC-24 (id 24), activity frac: field 'amount' has more than 2 decimal places (1.005); "
        "not rounded on a guess",
        "25": reasons["25"],
        "26": reasons["26"],
        "27": reasons["27"],
    }
    assert reasons["25"].startswith("gift card GC-25 (id 25), activity what: unknown activity_type 'Transfer'")
    assert reasons["26"] == (
        "gift card GC-26 (id 26), activity noise: field 'amount' has more than 2 decimal "
        "places (0.30000000000000004); not rounded on a guess"
    )
    assert reasons["27"].startswith("gift card GC-27 (id 27): status 'Void' cannot be expressed")
    assert writes(stack, RELOAD) == [] and writes(stack, REDEEM) == [] and writes(stack, ISSUE) == []
    skipped = {o["record_id"]: o["reason"] for o in stack.outcomes("skipped")}
    assert skipped["28"].startswith("gift card GC-28 (id 28): status 'Expired' and not in 99minds; nothing to issue")
    assert skipped["29"].startswith("gift card deletes are not transferred to 99minds")


def test_redeem_beyond_the_balance_is_rejected_and_a_replay_applies_only_what_is_missing(stack):
    _, existing = linked_card(
        stack,
        "30",
        "0.00",
        balance="0.00",
        activities=[
            act("Reload", "10.00", "2025-03-01T10:00:00Z", id="30-r"),
            act("Redeem", "50.00", "2025-03-01T11:00:00Z", id="30-d"),
        ],
    )
    stack.send(Q, note("30"))
    stack.drain()
    [msg] = dlq_reasons(stack, DLQ)
    assert msg["ipaas.error"] == "permanent:PermanentError" and "insufficient balance" in msg["ipaas.reason"]
    assert activity_link(stack, "30-r") and activity_link(stack, "30-d") is None
    existing["balance"] += Decimal("40.00")  # the operator fixes the card in 99minds, then replays
    stack.send(Q, json.loads(msg["body"]))
    stack.drain()
    assert len(writes(stack, RELOAD)) == 1 and len(writes(stack, REDEEM)) == 1
    assert existing["balance"] == Decimal("0.00") and activity_link(stack, "30-d")
    assert final(stack)[-1]["status"] == "updated"


# -- the sample events (`sam local invoke GiftCardTransferFunction -e events/...`) -------------------------------------
def test_sample_events_transfer_as_documented(stack):
    root = Path(__file__).resolve().parents[2] / "events"
    created = json.loads((root / "giftcard_created.json").read_text())
    assert stack.invoke(FN, created) == {"batchItemFailures": []}
    existing = stack.ninetynine.add_giftcard("GC-602", "20.00")  # the updated card is already in 99minds
    stack.ipaas.set_link(SYS, "Gift Card", "602", existing["id"])
    updated = json.loads((root / "giftcard_updated.json").read_text())
    assert stack.invoke(FN, updated) == {"batchItemFailures": []}
    assert [o["status"] for o in stack.outcomes()] == ["created", "updated"]
    assert stack.ninetynine.giftcard("GC-601")["balance"] == Decimal("50.00")
    assert [h[0] for h in existing["history"]] == ["reload", "redeem"] and existing["balance"] == Decimal("42.50")


# -- paged history and the apply window (issue 22) ----------------------------------------------------------------
def reload_answer_lost(stack, monkeypatch, id_: str) -> dict:
    """A linked card with one reload of 5.00 to apply, whose first attempt 99minds applies but never answers."""
    monkeypatch.setattr(http, "READ_TIMEOUT", 1.0)
    _, existing = linked_card(
        stack, id_, "10.00", balance="15.00", activities=[act("Reload", "5.00", "2025-03-01T10:00:00Z", id=f"{id_}-r")]
    )
    stack.ninetynine.faults.apply_then_hang(1, seconds=3, path=RELOAD)
    return existing


def test_an_empty_history_page_that_says_more_follow_is_not_proof_the_reload_is_read_on_the_next_page(stack, monkeypatch):
    """The audit's reproduction: the history answers "total 1, next page 2" with no entry on page 1. Reading page 1
    alone, the product took absence as proof and reloaded again (two 5.00 reloads, balance 20.00)."""
    existing = reload_answer_lost(stack, monkeypatch, "31")
    stack.ninetynine.history_paging(1, empty_pages=1)
    stack.send(Q, note("31"))
    stack.drain()
    assert len(writes(stack, RELOAD)) == 1 and existing["balance"] == Decimal("15.00")
    [done] = final(stack)
    assert done["status"] == "updated" and done["details"]["activities_recovered"] == 1
    pages = [c for c in stack.ninetynine.calls("GET", "/api/v1/giftcards/transactions") if c.query.get("page_no") == ["2"]]
    assert pages, "page 2 of the card history was never read"
    assert activity_link(stack, "31-r") and stack.messages(DLQ) == []


def test_a_history_that_cannot_be_read_to_its_end_is_no_proof_and_parks_uncertain(stack, monkeypatch):
    existing = reload_answer_lost(stack, monkeypatch, "32")
    stack.ninetynine.history_paging(1, empty_pages=10_000)  # "more follow", page after page
    stack.send(Q, note("32"))
    stack.drain()
    assert len(writes(stack, RELOAD)) == 1 and existing["balance"] == Decimal("15.00")
    [parked] = dlq_reasons(stack, DLQ)
    assert parked["ipaas.error"] == "permanent:UncertainOutcome"
    assert f"could not be read to its end within {mapping.MAX_HISTORY_PAGES} pages" in parked["ipaas.reason"]
    history_reads = stack.ninetynine.calls("GET", "/api/v1/giftcards/transactions")
    assert len(history_reads) <= mapping.MAX_HISTORY_PAGES * 3  # bounded (each delivery reads at most that many)


def test_absence_counts_only_after_the_apply_window_a_history_that_lists_the_reload_late_is_waited_out(stack, monkeypatch):
    """99minds applied the reload (its answer was lost) but lists it in the card history only 2 s later. A retry that
    looked before then saw "not applied" and reloaded again. Inside the apply window (6 s here, 120 s by default) the
    retry does not look: it is deferred back to its queue until the window has passed, then finds the reload. (The
    retry comes back about 2 s after the request left: the window leaves 4 s for a loaded machine.)"""
    monkeypatch.setattr(pending, "IN_FLIGHT_SECONDS", 6.0)
    existing = reload_answer_lost(stack, monkeypatch, "33")
    stack.ninetynine.history_lag(2.0)
    stack.send(Q, note("33"))
    stack.drain()
    assert len(writes(stack, RELOAD)) == 1 and existing["balance"] == Decimal("15.00")
    deferred = stack.outcomes("deferred")
    assert deferred and all("apply window 6s" in o["reason"] for o in deferred), deferred
    [done] = final(stack)
    assert done["status"] == "updated" and done["details"]["activities_recovered"] == 1
    # the lost answer is one failed try, retried on the schedule (issue 26); the wait cost no try
    assert [o["details"]["attempts"] for o in stack.outcomes("retrying")] == [1] and stack.outcomes("failed") == []


def test_the_apply_window_is_a_setting_with_a_conservative_default(monkeypatch):
    import importlib

    monkeypatch.delenv("GIFTCARD_APPLY_WINDOW_SECONDS", raising=False)
    assert importlib.reload(pending).IN_FLIGHT_SECONDS == pending.DEFAULT_APPLY_WINDOW_SECONDS == 120.0
    monkeypatch.setenv("GIFTCARD_APPLY_WINDOW_SECONDS", "300")
    assert importlib.reload(pending).IN_FLIGHT_SECONDS == 300.0
    monkeypatch.delenv("GIFTCARD_APPLY_WINDOW_SECONDS")
    importlib.reload(pending)
