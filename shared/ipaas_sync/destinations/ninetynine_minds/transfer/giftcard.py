"""Gift card transfer: issue a card the destination does not have yet, then apply its activities, each once.

Gift cards are money, so every write is guarded three ways (README, "Gift cards"):
1. the iPaaS.com external-id links are the durable record: `Gift Card` (card -> 99minds card id) decides
   issue vs apply; `Gift Card Activity` marks each applied activity and is checked before applying it;
2. each write runs under Powertools idempotency keyed on (destination, card number, activity identity),
   never on the SQS messageId;
3. a pending marker (runtime/pending.py) written right before each non-idempotent POST: a retry after an
   uncertain outcome asks 99minds for proof before writing again: an issue by looking the card up by its
   number, a reload/redemption by looking its reference up in the card's history (docs/giftcards.md); without
   proof it stops (UncertainOutcome -> DLQ, with the evidence and the steps to settle it). Until the apply window
   has passed since the earlier attempt (pending.IN_FLIGHT_SECONDS) it does not check at all: the message is
   deferred back to its queue until then.
After applying, the 99minds balance is compared with the iPaaS.com balance; a difference is reported as a
"mismatch" outcome, never corrected.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ....core.errors import ConfigurationError, Deferred, PermanentError, UncertainOutcome
from ....core.models.ipaas import IpaasGiftCard
from ....core.models.notification import TransferMessage
from ....core.models.outcome import Outcome
from ....core.observability import logger
from ....ipaas.client import TABLE_CUSTOMER, TABLE_GIFT_CARD, TABLE_GIFT_CARD_ACTIVITY, IpaasClient
from ....runtime import pending
from ....runtime.env import TransferEnv
from ....runtime.idempotency import run_once
from ....runtime.pending import APPLIED, Marker, PendingJournal, default_journal
from ..client import NinetyNineMindsClient
from ..mapping import giftcard as m
from ..settings import NinetyNineMindsSettings

ENTITY = "giftcard"
APPLY_WINDOW_MARGIN = 1.0  # seconds after the window a deferred delivery comes back (SQS delays are whole seconds)


class _NinetyNineMindsCard:
    """One iPaaS.com gift card against one 99minds subscription."""

    def __init__(
        self, card: IpaasGiftCard, msg: TransferMessage, sub: NinetyNineMindsSettings, env: TransferEnv, journal: PendingJournal
    ):
        self.card, self.msg, self.sub = card, msg, sub
        self.client: NinetyNineMindsClient = env.partner(sub)
        self.ipaas: IpaasClient = env.ipaas(sub)
        self.journal = journal
        self.number = m.card_number(card)
        self.subject = m.subject_of(card)
        self.base = {"destination": sub.system_id, "platform": sub.platform, "entity": ENTITY, "card": self.number}

    # -- reading the card at 99minds ----------------------------------------------------------------------
    def balance(self, card_id: str) -> Decimal:
        body = self.client.get_giftcard(card_id, what=self.subject)
        if body is None:
            raise PermanentError(
                f"{self.subject}: linked to 99minds card '{card_id}', which 99minds does not "
                f"know (HTTP 404); check the 'Gift Card' link in iPaaS.com"
            )
        balance = m.giftcard_from_reply(body, self.subject).balance
        assert balance is not None  # narrowing: giftcard_from_reply (need_balance) raised for a card without one
        return balance

    # -- issue ---------------------------------------------------------------------------------------------------
    def issue(self) -> tuple[str, bool, dict[str, Any]]:
        """Issue the card once; returns (99minds card id, replayed, details) and writes the link back."""
        campaign = m.campaign_for(self.card, self.sub.campaign_id)
        customer_id = None
        if self.card.customer_id:
            customer_id = self.ipaas.lookup_external("customer", self.card.customer_id, TABLE_CUSTOMER)
        payload = m.issue_payload(self.card, campaign_id=campaign, store=self.sub.store, customer_id=customer_id)
        identity = {**self.base, "operation": "issue"}
        key = self.journal.key(identity)
        what = f"{self.subject} (issue)"

        def issue_once() -> dict[str, Any]:
            marker = self.journal.get(key)
            if marker is not None:
                self.journal.touch(key)  # kept while any delivery of this issue may still come back
                if marker.state == APPLIED and marker.card_id:
                    return {"card_id": marker.card_id, "recovered": True}
                _not_in_flight(marker, what)
                # an earlier attempt may have issued it: look the card up by its number before issuing again
                found = self.client.get_giftcard(self.number, what=what)
                if found is not None:
                    state = m.giftcard_from_reply(found, self.subject, need_balance=False)
                    self.journal.applied(key, after=state.balance, card_id=state.card_id)
                    logger.warning(
                        f"{self.subject}: an earlier issue attempt had issued the card; linked without issuing again",
                        extra={"card_id": state.card_id},
                    )
                    return {"card_id": state.card_id, "recovered": True}
            self.journal.begin(key, operation="issue", card=self.number, before=None)
            reply = self._write(key, self.client.issue_giftcard, payload, what)
            state = m.giftcard_from_reply(reply, self.subject, need_balance=False)
            self.journal.applied(key, after=state.balance, card_id=state.card_id)
            return {"card_id": state.card_id, "recovered": False}

        result, replayed = run_once(identity, issue_once)
        # after a replay too: a failure between the issue and the write-back is healed by the redelivery
        self.ipaas.update_external_id(ENTITY, TABLE_GIFT_CARD, self.card.id, result["card_id"], self.msg.tracking_guid)
        details = {
            "campaign_id": campaign,
            "original_amount": payload["amount"],
            "customer_linked": bool(customer_id) if self.card.customer_id else None,
            "issue_recovered": result.get("recovered") or None,
        }
        return result["card_id"], replayed, {k: v for k, v in details.items() if v is not None}

    # -- activities --------------------------------------------------------------------------------------------------
    def apply(self, card_id: str, act: m.PlannedActivity) -> str:
        """Apply one reload/redemption once. Returns 'applied', 'recovered' or 'already'."""
        identity = {**self.base, "activity": act.identity}
        key = self.journal.key(identity)
        what = f"{self.subject}, {act.label} ({act.kind.value} {m.wire_amount(act.amount)})"

        def apply_once() -> dict[str, Any]:
            if self.ipaas.lookup_external(ENTITY, act.link_id, TABLE_GIFT_CARD_ACTIVITY):
                return {"action": "linked"}  # applied by an earlier delivery; the record survives in iPaaS.com
            marker = self.journal.get(key)
            if marker is not None:
                self.journal.touch(key)  # kept while any delivery of this activity may still come back
            if marker is not None and marker.state == APPLIED:
                return {"action": "recovered", "balance": _text(marker.after)}
            if marker is not None:
                _not_in_flight(marker, what)
            now = self.balance(card_id)
            if marker is not None:
                verdict = self.judge(card_id, act, marker, now, key)
                if verdict.decision is m.Decision.APPLIED:
                    self.journal.applied(key, after=now, card_id=card_id)
                    logger.warning(
                        f"{what}: an earlier attempt had applied it ({verdict.evidence}); recorded without applying again"
                    )
                    return {"action": "recovered", "balance": str(now)}
                logger.info(f"{what}: an earlier attempt had not applied it ({verdict.evidence}); applying")
            self.journal.begin(key, operation=act.kind.value, card=self.number, before=now)
            post = self.client.reload_giftcard if act.kind is m.Kind.RELOAD else self.client.redeem_giftcard
            payload = m.activity_payload(self.number, act, self.sub.store, self.sub.reference_field)
            reply = self._write(key, post, payload, what)
            after = m.giftcard_from_reply(reply, self.subject, need_balance=False).balance
            self.journal.applied(key, after=after, card_id=card_id)
            return {"action": "applied", "balance": _text(after)}

        result, replayed = run_once(identity, apply_once)
        if result["action"] == "linked":
            return "already"
        # after a replay too (UpdateExternalId is idempotent): heals a failure between the write and the link
        self.ipaas.update_external_id(
            ENTITY, TABLE_GIFT_CARD_ACTIVITY, act.link_id, m.activity_external_id(card_id, act), self.msg.tracking_guid
        )
        return "already" if replayed else result["action"]

    def judge(self, card_id: str, act: m.PlannedActivity, marker: Marker, now: Decimal, key: str) -> m.Verdict:
        """Proof from 99minds of whether the earlier attempt was applied, or UncertainOutcome with the evidence and
        the steps to settle it by hand. Never the balance: it moves with every use of the card at the till."""
        reference, field = m.activity_reference(act), self.sub.reference_field
        what = f"{self.subject}, {act.label} ({act.kind.value} {m.wire_amount(act.amount)})"
        if field is None:
            verdict = m.Verdict(
                m.Decision.UNDECIDABLE,
                "the subscription sends no reference with reloads and "
                "redemptions (setting 'Gift Card Activity Reference Field' "
                "is blank), so 99minds cannot tell",
            )
        elif not self.sub.activity_history_path:
            verdict = m.Verdict(
                m.Decision.UNDECIDABLE,
                "the subscription has no card-history lookup (setting 'Gift Card History Path' is blank), so 99minds cannot tell",
            )
        else:
            path = m.history_path(self.sub.activity_history_path, card_id=card_id, number=self.number, reference=reference)

            def page(number: int) -> Any:
                return self.client.giftcard_history(path if number == 1 else m.history_page_path(path, number), what=what)

            try:
                verdict = m.judge_history(page, reference=reference, reference_field=field, activity=act)
            except PermanentError as exc:  # answered and refused (4xx): the lookup is not as assumed
                verdict = m.Verdict(m.Decision.UNDECIDABLE, f"the card-history lookup was refused ({exc.message[:200]})")
        if verdict.decision is m.Decision.UNDECIDABLE:
            expected = (
                f"; balance before it {marker.before}, now {now} (not proof: the card may have been used "
                f"meanwhile; {marker.before} if not applied and nothing else happened, "
                f"{m.expected_balance(marker.before, act.amount, act.kind)} if applied)"
                if marker.before is not None
                else f"; balance now {now}"
            )
            raise UncertainOutcome(
                f"{what}: an earlier attempt's answer was lost and 99minds cannot prove whether it was applied: "
                f"{verdict.evidence}{expected}. To settle it, find the {act.kind.value} of "
                f"{m.wire_amount(act.amount)} with reference '{reference}' on 99minds card '{card_id}' (number "
                f"{self.number}) in the 99minds dashboard. If it is there (applied): in iPaaS.com link table "
                f"'Gift Card Activity', internal id '{act.link_id}', to external id "
                f"'{m.activity_external_id(card_id, act)}'. If it is not there: delete item '{key}' from the "
                f"idempotency table ({self.journal.table_name}). Then replay this message"
            )
        return verdict

    def _write(self, key: str, post: Callable[..., Any], payload: dict[str, Any], what: str) -> Any:
        try:
            return post(payload, what=what)
        except (PermanentError, ConfigurationError):
            # 99minds answered and refused (4xx, 401/403): nothing was applied, so nothing is pending
            self.journal.clear(key)
            raise


def _not_in_flight(marker: Marker, what: str) -> None:
    """An earlier attempt's request may still be applied by 99minds, or not be listed in the card's history yet:
    judging the card now could see "not applied" just before it lands and apply it twice. Absence counts as proof only
    once the apply window has passed since that attempt: until then the message goes back to its queue (Deferred),
    delayed until the window ends; it is never slept out."""
    if marker.in_flight():
        raise Deferred(
            f"{what}: an earlier attempt's request left {marker.age():.0f}s ago and may still be applied at 99minds "
            f"(apply window {pending.IN_FLIGHT_SECONDS:.0f}s, GIFTCARD_APPLY_WINDOW_SECONDS); the card is checked "
            "once the window has passed",
            until=(marker.window_ends() or 0.0) + APPLY_WINDOW_MARGIN,
        )


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def transfer(card: IpaasGiftCard, msg: TransferMessage, sub: NinetyNineMindsSettings, env: TransferEnv) -> Outcome:
    # everything is validated before anything is sent: a bad activity rejects the whole record
    expected = m.ipaas_balance(card)
    plan = m.plan_activities(card)
    run = _NinetyNineMindsCard(card, msg, sub, env, default_journal())
    card_id = run.ipaas.lookup_external(ENTITY, card.id, TABLE_GIFT_CARD)
    m.check_status(card, linked=card_id is not None)

    details: dict[str, Any] = {}
    issued = issue_replayed = False
    if card_id is None:
        card_id, issue_replayed, issue_details = run.issue()
        issued = not issue_replayed
        details.update(issue_details)

    counts = {"applied": 0, "recovered": 0, "already": 0}
    for act in plan.to_apply:
        counts[run.apply(card_id, act)] += 1
    details.update(
        {
            "card_id": card_id,
            "activities_applied": counts["applied"] + counts["recovered"],
            "activities_already_applied": counts["already"],
        }
    )
    if counts["recovered"]:
        details["activities_recovered"] = counts["recovered"]
    if plan.covered_by_issue:
        details["covered_by_issue"] = [a.label for a in plan.covered_by_issue]
    if plan.skipped:
        details["skipped"] = plan.skipped

    changed = counts["applied"] + counts["recovered"]
    if issued:
        status, reason = "created", None
    elif changed:
        status, reason = "updated", None
    elif issue_replayed or counts["already"]:
        status, reason = "duplicate", f"{run.subject}: already transferred ({counts['already']} activities)"
    else:
        status, reason = "skipped", f"{run.subject}: in 99minds, no activities to apply"

    if issued or changed:
        balance = run.balance(card_id)
        details["balance_99minds"] = str(balance)
        if expected is not None:
            details["balance_ipaas"] = str(expected)
            if balance != expected:
                details["action"] = status
                status = "mismatch"
                reason = (
                    f"{run.subject}: balance in 99minds {balance} differs from iPaaS.com {expected} after "
                    f"{'issuing and ' if issued else ''}applying {changed} activit{'y' if changed == 1 else 'ies'}"
                    f"; not corrected"
                )
    return Outcome(
        status=status,
        entity=ENTITY,
        record_id=msg.id,
        destination=sub.system_id,
        platform=sub.platform,
        external_id=card_id,
        reason=reason,
        details=details,
    )
