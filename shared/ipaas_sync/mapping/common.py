"""Small pure helpers shared by the mapping modules."""

from __future__ import annotations

import re
from typing import Any, TypeVar

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


def clean(payload: dict[str, Any]) -> dict[str, Any]:
    """Drop keys whose value is None so that an absent field never overwrites a destination value."""
    return {k: v for k, v in payload.items() if v is not None}
