"""The collections in effect, as a transfer uses them: the default collections (loaded and validated once per cold
start) with the subscription's deployed override (overrides.py), by (destination platform, target entity).

    reason = skip_reason(sub, "order_workflow", txn)        # the mapping filter's verdict (None: it passes)
    payload = map_record(sub, "order_workflow", txn, {"linked_customer_id": ...})

A subscription whose override does not validate raises ConfigurationError naming the collection, field and position:
its records park in the DLQ with that reason; every other subscription goes on. MAPPING_PARAMETER_PREFIX (the stack
sets it: /<stack name>) says where the overrides are; without it only the defaults apply.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..core.errors import Skip

if TYPE_CHECKING:  # the engine (simpleeval, the collection models) loads with the first record, not at import:
    from .overrides import SubscriptionCollections  # a handler's cold start stays that of its imports (make bench)
    from .validate import CompiledCollection

_loader: SubscriptionCollections | None = None
_loading = threading.Lock()  # a batch's first records (threads) ask together: one loads, the others wait


def loader() -> SubscriptionCollections:
    global _loader
    if _loader is None:
        with _loading:
            if _loader is None:
                from .collection import load_defaults
                from .overrides import SubscriptionCollections

                _loader = SubscriptionCollections(load_defaults(), os.environ.get("MAPPING_PARAMETER_PREFIX") or None)
    return _loader


def reset() -> None:
    """Forget the loaded collections (tests; a new override is otherwise read within its cache age)."""
    global _loader
    _loader = None


def collection(sub: Any, target: str, destination: str | None = None) -> CompiledCollection | None:
    """The subscription's enabled collection writing this target entity (None: its collection is disabled).
    `destination`: the system written to, when not the subscription's platform ("ipaas": 99minds -> iPaaS.com)."""
    return loader().get(str(sub.platform), str(sub.system_id)).get((destination or str(sub.platform), target))


def _required(sub: Any, target: str, destination: str | None = None) -> CompiledCollection:
    found = collection(sub, target, destination)
    if found is None:
        where = destination or sub.platform
        raise Skip(f"the {where} {target} mapping collection is disabled for subscription {sub.system_id}")
    return found


def skip_reason(sub: Any, target: str, record: Any, resolved: Mapping[str, Any] | None = None) -> str | None:
    from .evaluate import settings_inputs, verdict

    compiled = _required(sub, target)
    return verdict(compiled, record, {**settings_inputs(compiled, sub), **(resolved or {})})


def source_skip_reason(sub: Any, source: str, record: Any) -> str | None:
    """The mapping filter of the subscription's enabled collection reading this kind of record (a transaction's:
    the order workflow's for 99minds, the sales order's for Makini); None when it passes or none filters."""
    from .evaluate import settings_inputs, verdict

    found = [
        c
        for (platform, _), c in loader().get(str(sub.platform), str(sub.system_id)).items()
        if platform == sub.platform and c.source.name == source
    ]
    for compiled in found:
        reason = verdict(compiled, record, settings_inputs(compiled, sub))
        if reason:
            return reason
    return None


def precheck(sub: Any, target: str, record: Any) -> None:
    """Everything the collection can check on the record alone (required fields, the error filter, every formula),
    before the transfer's lookups: a bad record fails without a call. Linked values are stand-ins here."""
    from .evaluate import evaluate, settings_inputs

    compiled = _required(sub, target)
    stand_ins = {name: f"<{name}>" for name in compiled.collection.inputs if name.startswith("linked_")}
    evaluate(compiled, record, {**settings_inputs(compiled, sub), **stand_ins})


def map_record(
    sub: Any,
    target: str,
    record: Any,
    resolved: Mapping[str, Any] | None = None,
    *,
    tables: Mapping[str, Any] | None = None,
    destination: str | None = None,
) -> dict[str, Any]:
    """The payload for this record: the subscription's settings and the values the transfer resolved as inputs."""
    from .evaluate import evaluate, settings_inputs

    compiled = _required(sub, target, destination)
    return evaluate(compiled, record, {**settings_inputs(compiled, sub), **(resolved or {})}, tables=tables)
