"""iPaaS.com gift card -> 99minds gift card issue / reload / redeem. Pure: no I/O, no settings lookups.

Published (support.ipaas.com 99minds API endpoints, the seed): `GET /api/v1/giftcards/{card_id}`,
`POST /api/v1/giftcards/issue` (Campaign Id required), `POST /api/v1/giftcards/reload`,
`POST /api/v1/giftcards/redeem`; every write carries a store (Store Ref Id or Client Store Id); public
client code reads replies as `{code, message, data}` with the card in `data.giftcard.{giftcard_number,
balance}`, and one public client posts redemptions as
`{"giftcard": {"data": [{"giftcard_number", "redemption_amount"}]}}`.

NOT published, assumed here (THE one place to adjust; the README repeats the list):
- issue body: `campaign_id`, `giftcard_number` (the iPaaS.com card number, so both systems share it),
  `amount` (the card's `original_amount`), the store key (`store_ref_id` or `client_store_id`), and
  optionally `customer_id` (the 99minds customer linked to the card's iPaaS.com customer),
  `customer_email`, `expiry_date` (YYYY-MM-DD).
- reload body: the redeem envelope with `reload_amount`:
  `{"giftcard": {"data": [{"giftcard_number", "reload_amount"}]}, <store key>, <reference field>}`.
- redeem body: the public client's envelope plus the store key and the reference field.
- the reference: 99minds keeps the value of the subscription's `Gift Card Activity Reference Field` (default
  `reference_id`) with the reload/redemption, and the card's history (`Gift Card History Path`) looks activities up
  by it and answers them as `data.transactions[]`, each carrying that field, and where given `type` and `amount`.
  We send `activity_reference()`: one value per activity, the same on every delivery, so the history can prove
  whether an attempt whose answer was lost was applied (`judge_history`). The card balance proves nothing (the
  card may be used at the till meanwhile) and is kept only as evidence.
- amounts on the wire are decimal strings with two places ("25.00"), never binary floats.
- the 99minds card id is `data.giftcard.id` (else `data.giftcard.giftcard_id`, else the giftcard number);
  `GET /api/v1/giftcards/{card_id}` also finds a card by its giftcard number (used to check whether an
  issue whose answer was lost happened).
- iPaaS.com activity types are not published either: the sets below say which types are reloads,
  redemptions, or the card's issue (covered by the issue itself); any other type is rejected.

Policies (decided here, documented in the README):
- amounts: Decimal end to end; str/int/Decimal accepted, a JSON float only through its shortest repr
  (so 0.1 stays 0.1 and 0.30000000000000004 is rejected); negative, non-numeric, NaN/Infinity and more
  than two decimal places are rejected naming the card and the activity. A zero reload/redemption is
  skipped (nothing to apply).
- card status: Void and Expired cannot be expressed through the published API (no void/expire endpoint).
  Not yet in 99minds -> skipped (nothing to issue). Already in 99minds -> rejected to the DLQ: the card
  stays spendable there and someone must void/expire it by hand; its activities are not applied half-way.
  Pending and not yet in 99minds -> skipped (issued when it becomes Active). Unknown statuses -> rejected.
- a record is validated completely (every activity) before anything is sent: a bad activity rejects the
  whole message, so nothing is ever sent half-right.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Literal, overload
from urllib.parse import quote

from ....core.errors import ConfigurationError, InvalidRecord, PermanentError, Skip
from ....core.models.ipaas import IpaasGiftCard, IpaasGiftCardActivity
from ....ipaas.custom_fields import custom_field_values
from ....mapping.common import clean
from ..settings import StoreRef

CURRENCY_PLACES = 2
_QUANTUM = Decimal(1).scaleb(-CURRENCY_PLACES)  # 0.01


def _norm(text: str | None) -> str:
    return "".join(ch for ch in (text or "").lower() if ch.isalnum())


# iPaaS.com activity_type values (compared without case, spaces, dashes or underscores).
RELOAD_TYPES = frozenset({"reload", "load", "addvalue", "credit", "topup"})
REDEEM_TYPES = frozenset({"redeem", "redemption", "redeemed", "debit", "spend"})
ISSUE_TYPES = frozenset({"issue", "issued", "activate", "activated", "activation", "create", "created"})

STATUS_ACTIVE = frozenset({"active", "redeemed"})
STATUS_PENDING = "pending"
STATUS_INEXPRESSIBLE = frozenset({"void", "voided", "expired"})

# where a mapped campaign may come from on the record, before the Campaign Id setting
CAMPAIGN_FIELD_NAMES = frozenset({"campaignid", "99mindscampaignid"})


class Kind(StrEnum):
    ISSUE = "issue"
    RELOAD = "reload"
    REDEEM = "redeem"


class Decision(StrEnum):
    APPLIED = "applied"
    NOT_APPLIED = "not applied"
    UNDECIDABLE = "undecidable"


REFERENCE_PREFIX = "ipaas-"


# -- amounts --------------------------------------------------------------------------------------------
@overload
def parse_amount(value: Any, subject: str, field: str = "amount", *, required: Literal[True] = True) -> Decimal: ...


@overload
def parse_amount(value: Any, subject: str, field: str = "amount", *, required: bool) -> Decimal | None: ...


def parse_amount(value: Any, subject: str, field: str = "amount", *, required: bool = True) -> Decimal | None:
    """A non-negative currency amount as Decimal with two places, or InvalidRecord naming subject and field."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidRecord(f"{subject}: missing required field '{field}'")
        return None
    if isinstance(value, bool):
        raise InvalidRecord(f"{subject}: field '{field}' is not a number (a boolean)")
    try:
        if isinstance(value, Decimal):
            amount = value
        elif isinstance(value, int):
            amount = Decimal(value)
        elif isinstance(value, float):
            amount = Decimal(repr(value))  # the shortest text that round-trips: no binary noise added
        elif isinstance(value, str):
            amount = Decimal(value.strip())
        else:
            raise InvalidRecord(f"{subject}: field '{field}' is not a number (a {type(value).__name__})")
    except InvalidOperation:
        raise InvalidRecord(f"{subject}: field '{field}' is not a number") from None
    if not amount.is_finite():
        raise InvalidRecord(f"{subject}: field '{field}' is not a finite number (NaN or Infinity)")
    if amount < 0:
        raise InvalidRecord(f"{subject}: field '{field}' is negative ({amount})")
    try:
        rounded = amount.quantize(_QUANTUM, rounding=ROUND_DOWN)
    except InvalidOperation:
        raise InvalidRecord(f"{subject}: field '{field}' is too large") from None
    if rounded != amount:
        raise InvalidRecord(
            f"{subject}: field '{field}' has more than {CURRENCY_PLACES} decimal places ({amount}); not rounded on a guess"
        )
    amount = rounded
    return amount.copy_abs() if amount == 0 else amount


def wire_amount(amount: Decimal) -> str:
    return str(amount.quantize(_QUANTUM))


def balance_from_wire(value: Any, subject: str) -> Decimal:
    """A balance 99minds answered (string or number): Decimal, or a PermanentError naming the card."""
    try:
        amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation:
        raise PermanentError(f"{subject}: 99minds answered a balance that is not a number") from None
    if not amount.is_finite():
        raise PermanentError(f"{subject}: 99minds answered a balance that is not a finite number")
    return amount.quantize(_QUANTUM)


# -- the card -----------------------------------------------------------------------------------------------
def subject_of(card: IpaasGiftCard) -> str:
    return f"gift card {card.number} (id {card.id})" if card.number else f"gift card {card.id}"


def card_number(card: IpaasGiftCard) -> str:
    number = (card.number or "").strip()
    if not number:
        raise InvalidRecord(f"gift card {card.id}: missing required field 'number'")
    return number


def ipaas_balance(card: IpaasGiftCard) -> Decimal | None:
    """The iPaaS.com balance, to compare with 99minds after applying (None: not given, not compared)."""
    return parse_amount(card.balance, subject_of(card), "balance", required=False)


def check_status(card: IpaasGiftCard, *, linked: bool) -> None:
    """Raise Skip or InvalidRecord for statuses the published API cannot express (see the module doc)."""
    subject = subject_of(card)
    status = _norm(card.status)
    if not status or status in STATUS_ACTIVE:
        return
    if status in STATUS_INEXPRESSIBLE:
        if not linked:
            raise Skip(
                f"{subject}: status '{card.status}' and not in 99minds; nothing to issue (the published "
                f"99minds API cannot issue a {(card.status or '').lower()} card)"
            )
        raise InvalidRecord(
            f"{subject}: status '{card.status}' cannot be expressed through the published "
            f"99minds API (no void/expire endpoint); the card is still spendable in 99minds: "
            f"{(card.status or '').lower()} it there by hand. No activity was applied"
        )
    if status == STATUS_PENDING:
        if not linked:
            raise Skip(f"{subject}: status 'Pending'; it is issued in 99minds once it is Active")
        return
    raise InvalidRecord(f"{subject}: unknown status '{str(card.status)[:40]}' (known: Active, Redeemed, Pending, Void, Expired)")


def campaign_for(card: IpaasGiftCard, setting: str | None) -> str:
    """The campaign to issue from: a mapped value on the record first, else the Campaign Id setting."""
    mapped = _mapped_campaign(card)
    if mapped:
        return mapped
    if setting and setting.strip():
        return setting.strip()
    raise ConfigurationError(
        f"{subject_of(card)}: missing setting 'Campaign Id' (required to issue gift cards "
        f"in 99minds; set it on the subscription or map a 'Campaign Id' custom field)"
    )


def _mapped_campaign(card: IpaasGiftCard) -> str | None:
    extra = (card.model_extra or {}).get("campaign_id")
    if isinstance(extra, (str, int)) and str(extra).strip():
        return str(extra).strip()
    for name, value in custom_field_values(card.custom_fields).items():
        if _norm(str(name)) in CAMPAIGN_FIELD_NAMES and value is not None and str(value).strip():
            return str(value).strip()
    return None


# -- activities ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PlannedActivity:
    """One activity to apply, validated. `identity` is what makes two deliveries the same activity."""

    kind: Kind
    amount: Decimal
    timestamp: datetime | None
    reference: str | None
    identity: str
    key: str
    link_id: str
    label: str


@dataclass(frozen=True)
class Plan:
    to_apply: list[PlannedActivity]  # reloads and redemptions, in timestamp order
    covered_by_issue: list[PlannedActivity]  # the card's own issue/activation: never applied separately
    skipped: list[str]  # reasons (zero amounts)


def kind_of(activity_type: str | None) -> Kind | None:
    norm = _norm(activity_type)
    if norm in RELOAD_TYPES:
        return Kind.RELOAD
    if norm in REDEEM_TYPES:
        return Kind.REDEEM
    if norm in ISSUE_TYPES:
        return Kind.ISSUE
    return None


def _utc(ts: datetime | None) -> datetime | None:
    if ts is None:
        return None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def plan_activities(card: IpaasGiftCard) -> Plan:
    """Validate every activity, then order reloads/redemptions by timestamp (stable for equal ones)."""
    subject = subject_of(card)
    number = card_number(card)
    to_apply: list[tuple[datetime, int, PlannedActivity]] = []
    covered: list[PlannedActivity] = []
    skipped: list[str] = []
    seen: dict[str, int] = {}
    for index, act in enumerate(card.activities):
        label = _activity_label(act, index)
        where = f"{subject}, {label}"
        kind = kind_of(act.activity_type)
        if kind is None:
            raise InvalidRecord(
                f"{where}: unknown activity_type '{str(act.activity_type)[:40]}' (reloads: "
                f"{', '.join(sorted(RELOAD_TYPES))}; redemptions: {', '.join(sorted(REDEEM_TYPES))}; issue: "
                f"{', '.join(sorted(ISSUE_TYPES))}); nothing was applied"
            )
        amount = parse_amount(act.amount, where, "amount")
        ts = _utc(act.timestamp)
        if kind is not Kind.ISSUE and ts is None:
            raise InvalidRecord(f"{where}: missing required field 'timestamp' (activities are applied in timestamp order)")
        reference = (act.transaction_reference_id or "").strip() or None
        identity = _identity(number, act, kind, amount, ts, reference)
        seen[identity] = seen.get(identity, 0) + 1
        if seen[identity] > 1:  # the same activity listed twice without an id: a second, distinct one
            identity = f"{identity}#{seen[identity]}"
        key = hashlib.sha256(identity.encode()).hexdigest()[:32]
        link_id = str(act.id).strip() if act.id not in (None, "") else f"{card.id}-{key}"
        planned = PlannedActivity(
            kind=kind, amount=amount, timestamp=ts, reference=reference, identity=identity, key=key, link_id=link_id, label=label
        )
        if kind is Kind.ISSUE:
            covered.append(planned)
        elif amount == 0:
            skipped.append(f"{label}: zero {kind.value}, nothing to apply")
        else:
            assert ts is not None  # narrowing: every activity but the issue has a timestamp (InvalidRecord above)
            to_apply.append((ts, index, planned))
    to_apply.sort(key=lambda t: (t[0], t[1]))
    return Plan(to_apply=[p for _, _, p in to_apply], covered_by_issue=covered, skipped=skipped)


def _activity_label(act: IpaasGiftCardActivity, index: int) -> str:
    return f"activity {act.id}" if act.id not in (None, "") else f"activity #{index + 1}"


def _identity(
    number: str, act: IpaasGiftCardActivity, kind: Kind, amount: Decimal, ts: datetime | None, reference: str | None
) -> str:
    """Card number + the activity's id, else its timestamp, type, amount and transaction reference."""
    if act.id not in (None, ""):
        return f"{number}|id={str(act.id).strip()}"
    stamp = ts.isoformat() if ts else "-"
    return f"{number}|{stamp}|{_norm(act.activity_type)}|{wire_amount(amount)}|{reference or '-'}"


def activity_external_id(card_id: str, activity: PlannedActivity) -> str:
    """What the Gift Card Activity link points at: 99minds publishes no transaction id for reload/redeem."""
    return f"{card_id}:{activity.kind.value}:{activity.key}"


# -- bodies (assumed wire formats, see the module doc) --------------------------------------------------------------
def issue_payload(card: IpaasGiftCard, *, campaign_id: str, store: StoreRef, customer_id: str | None) -> dict[str, Any]:
    subject = subject_of(card)
    amount = parse_amount(card.original_amount, subject, "original_amount")
    expiry = card.expiration_date
    return clean(
        {
            "campaign_id": campaign_id,
            "giftcard_number": card_number(card),
            "amount": wire_amount(amount),
            store.kind: store.value,
            "customer_id": customer_id,
            "customer_email": (card.customer_email or "").strip() or None,
            "expiry_date": (expiry.date() if isinstance(expiry, datetime) else expiry).isoformat()
            if isinstance(expiry, (datetime, date))
            else None,
        }
    )


def activity_reference(activity: PlannedActivity) -> str:
    """The activity's identity as 99minds keeps it: the same on every delivery, different for every activity."""
    return REFERENCE_PREFIX + activity.key


def activity_payload(number: str, activity: PlannedActivity, store: StoreRef, reference_field: str | None) -> dict[str, Any]:
    amount_key = {Kind.RELOAD: "reload_amount", Kind.REDEEM: "redemption_amount"}[activity.kind]
    body = {
        "giftcard": {"data": [{"giftcard_number": number, amount_key: wire_amount(activity.amount)}]},
        store.kind: store.value,
    }
    if reference_field:
        body[reference_field] = activity_reference(activity)
    return clean(body)


def history_path(template: str, *, card_id: str, number: str, reference: str) -> str:
    """The card-history lookup for one reference (the subscription's Gift Card History Path, values URL-quoted)."""
    return template.format(
        card_id=quote(card_id, safe=""), card_number=quote(number, safe=""), reference=quote(reference, safe="")
    )


# -- replies -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CardState:
    card_id: str
    number: str | None
    balance: Decimal | None


def giftcard_from_reply(body: Any, subject: str, *, need_balance: bool = True) -> CardState:
    """`{code, message, data: {giftcard: {...}}}` -> the card's id, number and balance."""
    data = body.get("data") if isinstance(body, dict) else None
    card = data.get("giftcard") if isinstance(data, dict) else None
    if isinstance(card, list) and len(card) == 1:
        card = card[0]
    if not isinstance(card, dict):
        raise PermanentError(f"{subject}: 99minds answered without data.giftcard")
    number = card.get("giftcard_number")
    card_id = card.get("id") or card.get("giftcard_id") or number
    if not card_id:
        raise PermanentError(f"{subject}: 99minds answered a gift card without an id or giftcard_number")
    raw_balance = card.get("balance")
    if raw_balance is None and need_balance:
        raise PermanentError(f"{subject}: 99minds answered a gift card without a balance")
    balance = balance_from_wire(raw_balance, subject) if raw_balance is not None else None
    return CardState(card_id=str(card_id), number=str(number) if number is not None else None, balance=balance)


# -- uncertain outcomes ----------------------------------------------------------------------------------------------
def expected_balance(before: Decimal, amount: Decimal, kind: Kind) -> Decimal:
    if kind is Kind.RELOAD:
        return before + amount
    if kind is Kind.REDEEM:
        return before - amount
    raise ValueError(f"no balance effect for {kind}")


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    evidence: str


# The card-history lookup may answer in pages. 99minds publishes no paging fields for it beyond `page_no` (its list
# endpoints' parameter): any of the usual signs that more follow is honoured (a `next_page`, a `last_page` /
# `total_pages` past this page, `has_more`), a `total` larger than what was read means "not read to its end", and the
# reading is bounded. Absence is proof only once every page was read.
HISTORY_PAGE_PARAM = "page_no"
MAX_HISTORY_PAGES = 20


@dataclass(frozen=True)
class HistoryPage:
    entries: list[dict[str, Any]] | None  # None: the answer is not the assumed shape
    more: bool  # the answer says more pages follow
    total: int | None  # how many entries the answer says the lookup holds, where it says


def history_page(body: Any, page: int) -> HistoryPage:
    """One page of the card-history lookup: `{code, message, data: {transactions: [...], <paging>}}` (paging fields
    read from `data` or the top level)."""
    data = body.get("data") if isinstance(body, dict) else None
    entries = data.get("transactions") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        entries = None
    places = [d for d in (data, body) if isinstance(d, dict)]

    def field(*names: str) -> Any:
        return next((d[n] for d in places for n in names if d.get(n) not in (None, "", False)), None)

    last = _count(field("last_page", "total_pages", "page_count"))
    more = field("next_page", "next_page_url", "next") is not None or field("has_more", "has_more_pages") is True
    return HistoryPage(entries, more or (last is not None and page < last), _count(field("total", "total_count")))


def history_page_path(path: str, page: int) -> str:
    """The lookup's path for page `page` (2, 3, ...)."""
    return f"{path}{'&' if '?' in path else '?'}{HISTORY_PAGE_PARAM}={page}"


def _count(value: Any) -> int | None:
    try:
        return int(str(value).strip()) if not isinstance(value, bool) else None
    except ValueError:
        return None


def judge_history(fetch: Callable[[int], Any], *, reference: str, reference_field: str, activity: PlannedActivity) -> Verdict:
    """judge_entries over every page of the card-history lookup: `fetch(page)` answers page 1, 2, ... (None: HTTP
    404). A lookup that cannot be read to its end (not the assumed shape, a `total` larger than what its pages hold,
    more than MAX_HISTORY_PAGES pages) proves nothing: undecidable."""
    entries: list[dict[str, Any]] = []
    for number in range(1, MAX_HISTORY_PAGES + 1):
        body = fetch(number)
        if body is None:
            where = "" if number == 1 else f", page {number}"
            return Verdict(Decision.UNDECIDABLE, f"the card-history lookup was refused (HTTP 404{where})")
        page = history_page(body, number)
        if page.entries is None:
            return Verdict(Decision.UNDECIDABLE, "the card-history lookup answered without a data.transactions list")
        entries.extend(page.entries)
        if not page.more:
            if page.total is not None and page.total > len(entries):
                return Verdict(
                    Decision.UNDECIDABLE,
                    f"the card-history lookup says it holds {page.total} entries but its {number} page(s) listed "
                    f"{len(entries)}: not read to its end",
                )
            return judge_entries(entries, reference=reference, reference_field=reference_field, activity=activity)
    return Verdict(Decision.UNDECIDABLE, f"the card-history lookup could not be read to its end within {MAX_HISTORY_PAGES} pages")


def judge_entries(entries: list[dict[str, Any]], *, reference: str, reference_field: str, activity: PlannedActivity) -> Verdict:
    """Did an attempt whose answer was lost apply? Only the card's history, looked up by the attempt's reference,
    can tell (the balance cannot: the card may be spent or reloaded elsewhere meanwhile).

    `entries`: every entry of every page of the lookup (read to its end). No entry -> not applied (apply it);
    exactly one entry, of this kind and amount where the entry says -> applied (record it, never apply again);
    anything else -> undecidable: park it, never guess. Entries with another (or no) reference (the lookup did not
    filter by reference as assumed, so an empty answer would not prove anything either) are undecidable too.
    """
    act = f"{activity.kind.value} {wire_amount(activity.amount)}"
    what = f"{act} with {reference_field} '{reference}'"
    others = [e for e in entries if str(e.get(reference_field, "")) != reference]
    if others:
        return Verdict(
            Decision.UNDECIDABLE,
            f"the card-history lookup answered {len(others)} entr{'y' if len(others) == 1 else 'ies'} with "
            f"another or no {reference_field}: it does not look activities up by reference as assumed",
        )
    if not entries:
        return Verdict(Decision.NOT_APPLIED, f"the card's history holds no {what}")
    if len(entries) > 1:
        return Verdict(
            Decision.UNDECIDABLE, f"the card's history holds {len(entries)} activities with {reference_field} '{reference}'"
        )
    entry = entries[0]
    kind = kind_of(str(entry["type"])) if entry.get("type") is not None else activity.kind
    amount = _entry_amount(entry.get("amount"))
    if kind is not activity.kind or (entry.get("amount") is not None and amount != activity.amount):
        return Verdict(
            Decision.UNDECIDABLE,
            f"the card's history holds an activity with {reference_field} "
            f"'{reference}' that is not a {act} (type "
            f"{str(entry.get('type'))[:20]}, amount {str(entry.get('amount'))[:20]})",
        )
    return Verdict(Decision.APPLIED, f"the card's history holds the {what}")


def _entry_amount(value: Any) -> Decimal | None:
    try:
        amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return amount.copy_abs().quantize(_QUANTUM) if amount.is_finite() else None
