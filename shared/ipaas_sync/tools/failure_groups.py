"""One grouping of failure reasons for the operator: `ipaas-sync report` (the ledger) and `ipaas-sync dlq list`
(the DLQs) count like failures together under the same `[kind:Class] reason` line, with the ids taken out.

An id is: any id the caller knows for the record (record id, tracking guid, message ids), a UUID, an email
address, or a word that carries a digit (record ids and numbers such as 509, SO-2007, customer_35b4d77...).
A word with a digit stays when it is a name, not an id: a platform name (99minds), an HTTP status after "HTTP",
an API version (v2), a duration (30s, 1.5m). A hyphenated word (a queue name such as ...-customer-99minds-dlq)
is an id only when one of its parts is. Hand-written: no library groups log-like messages by template.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..destinations import PLATFORMS

ID = "<id>"
MAX_GROUP = 160  # characters of the reason in a group line
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE)
_WORD = re.compile(r"[\w@+-]+(?:\.[\w@+-]+)*")
# a part of a word that has a digit and is not an id
_NOT_AN_ID = re.compile(r"v\d+|\d+(?:\.\d+)?(?:ms|s|m|h|d)", re.IGNORECASE)
_NAMES = frozenset(p.lower() for p in PLATFORMS)


def _is_id(word: str, before: str) -> bool:
    if "@" in word:
        return True  # an email address
    if len(word) == 3 and word.isdigit() and before.endswith("HTTP "):
        return False  # an HTTP status
    return any(
        any(c.isdigit() for c in part) and part.lower() not in _NAMES and not _NOT_AN_ID.fullmatch(part)
        for part in word.split("-")
    )


def without_ids(reason: str, ids: Iterable[str | None] = ()) -> str:
    """`reason` with every id replaced by <id>."""
    for known in sorted({i for i in ids if i and len(i) > 1}, key=len, reverse=True):
        reason = re.sub(rf"(?<![\w-]){re.escape(known)}(?![\w-])", ID, reason)
    reason = _UUID.sub(ID, reason)
    return _WORD.sub(lambda m: ID if _is_id(m.group(0), reason[max(0, m.start() - 5) : m.start()]) else m.group(0), reason)


def failure_group(kind: str | None, error_class: str | None, reason: str | None, ids: Iterable[str | None] = ()) -> str:
    """`[kind:Class] reason without ids`: the one line like failures are counted under, in `report` and `dlq list`."""
    return f"[{kind or '?'}:{error_class or '?'}] {without_ids(reason or '', ids)[:MAX_GROUP]}"
