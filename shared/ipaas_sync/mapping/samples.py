"""A collection's own regression tests (`ipaas-sync mapping test`): sample records with the payload they must give.

Each entry of a collection's "tests": {"name", "record": {...}, "inputs": {...}, "tables": {...}, and one of
"expect": {payload}, "expect_skip": true, "expect_error": "text the error contains"}. The default collections ship
with theirs; a subscription's override may bring its own (they replace the default's, which its change may break).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..core.errors import PermanentError, Skip
from .evaluate import MappingFormulaCutOff, evaluate
from .validate import CompiledCollection


@dataclass(frozen=True)
class SampleResult:
    collection: str
    name: str
    ok: bool
    detail: str  # what differed, or what it gave


def _outcome(compiled: CompiledCollection, sample: dict[str, Any]) -> tuple[str, Any]:
    try:
        record = compiled.source.parse(sample.get("record", {}))
        return "payload", evaluate(compiled, record, sample.get("inputs"), tables=sample.get("tables"))
    except Skip as skip:
        return "skip", skip.reason
    except (PermanentError, MappingFormulaCutOff) as exc:  # a cut-off fails the sample too (this host was starved)
        return "error", str(exc)
    except ValueError as exc:  # the sample record does not parse as its source (pydantic)
        return "error", f"the sample record is not a valid {compiled.source.name}: {exc}"[:500]


def run_samples(compiled: CompiledCollection) -> list[SampleResult]:
    out = []
    for index, sample in enumerate(compiled.collection.tests):
        name = str(sample.get("name") or f"test #{index + 1}")
        kind, got = _outcome(compiled, sample)
        if "expect" in sample:
            ok = kind == "payload" and json.dumps(got) == json.dumps(sample["expect"])
            detail = "" if ok else f"expected {json.dumps(sample['expect'])}, got {kind}: {json.dumps(got, default=str)}"
        elif sample.get("expect_skip"):
            ok, detail = kind == "skip", "" if kind == "skip" else f"expected a skip, got {kind}: {json.dumps(got, default=str)}"
        else:
            want = str(sample.get("expect_error", ""))
            ok = kind == "error" and want in str(got)
            detail = "" if ok else f"expected an error containing {want!r}, got {kind}: {json.dumps(got, default=str)}"
        out.append(SampleResult(compiled.name, name, ok, detail))
    return out
