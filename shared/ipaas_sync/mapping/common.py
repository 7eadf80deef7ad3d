"""Small pure helpers shared by the mapping modules."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any, Literal, TypeVar, overload

from ..core.errors import InvalidRecord

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE_PUNCTUATION = re.compile(r"[\s\-().]")
T = TypeVar("T")


def require(record: Any, subject: str, fields: tuple[str, ...]) -> None:
    """Raise InvalidRecord naming every required field that is missing or blank."""
    missing = [
        f
        for f in fields
        if getattr(record, f, None) in (None, "") or (isinstance(getattr(record, f), str) and not getattr(record, f).strip())
    ]
    if missing:
        names = ", ".join(f"'{f}'" for f in missing)
        raise InvalidRecord(f"{subject}: missing required field{'s' if len(missing) > 1 else ''} {names}")


def present(value: T | None, subject: str, field: str) -> T:
    """A required field's value once `require` (or the like) has checked it: present from here on (typed so), and
    should a caller skip the check, the record is rejected naming the field rather than failing on None."""
    if value is None:
        raise InvalidRecord(f"{subject}: missing required field '{field}'")
    return value


def valid_email(value: str, subject: str, field: str = "email_address") -> str:
    value = value.strip()
    if not _EMAIL.match(value):
        raise InvalidRecord(f"{subject}: field '{field}' is not a valid email address")
    return value.lower()


def normalize_phone(raw: str | None, subject: str, field: str = "phone_number") -> str | None:
    """Digits only, or '+' and digits (international). Anything else is rejected with the reason."""
    if raw is None or not str(raw).strip():
        return None
    text = _PHONE_PUNCTUATION.sub("", str(raw).strip())
    if text.startswith("00"):
        text = "+" + text[2:]
    international = text.startswith("+")
    digits = text[1:] if international else text
    if not digits.isdigit():
        raise InvalidRecord(f"{subject}: field '{field}' must be digits or +international digits (found other characters)")
    if not 7 <= len(digits) <= 15:
        raise InvalidRecord(f"{subject}: field '{field}' must have 7 to 15 digits (found {len(digits)})")
    return f"+{digits}" if international else digits


def finite_decimal(value: Any, error: Callable[[str], Exception]) -> Decimal:
    """A JSON number or text as an exact Decimal (a float through its shortest text: no binary noise). Otherwise
    raises error("is not a number") or error("is not a finite number"), the caller's exception naming the value."""
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation:
        raise error("is not a number") from None
    if not number.is_finite():
        raise error("is not a finite number")
    return number


def clean(payload: dict[str, Any]) -> dict[str, Any]:
    """Drop keys whose value is None so that an absent field never overwrites a destination value."""
    return {k: v for k, v in payload.items() if v is not None}


# -- money amounts: the one parser (gift card amounts, the formula language's amount()) -----------------------------
CURRENCY_PLACES = 2
CENT = Decimal(1).scaleb(-CURRENCY_PLACES)  # 0.01


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
        rounded = amount.quantize(CENT, rounding=ROUND_DOWN)
    except InvalidOperation:
        raise InvalidRecord(f"{subject}: field '{field}' is too large") from None
    if rounded != amount:
        raise InvalidRecord(
            f"{subject}: field '{field}' has more than {CURRENCY_PLACES} decimal places ({amount}); not rounded on a guess"
        )
    amount = rounded
    return amount.copy_abs() if amount == 0 else amount
