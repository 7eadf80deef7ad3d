"""A mapping collection as data: the model a user writes (JSON), the default collections each destination ships
(destinations/<package>/collections/*.json) and a subscription's overrides laid over them.

A collection (docs/mappings.md has the walkthrough):

    {"name": "99minds Invoice From iPaaS", "destination": "99minds", "source": "transaction",
     "target": "order_workflow", "status": "Enabled",
     "subject": "'transaction ' + coalesce(transaction_number, id)",
     "inputs": {"linked_customer_id": "string", ...},       # values the transfer resolves (not the user's to set)
     "source_fields": {"location": "string"},               # extra record fields the collection reads
     "required": ["transaction_number", ...],               # source fields that must be present (one error names all)
     "filter": {"formula": "...", "reason": "..."},         # false -> the record is skipped with the reason
     "error_filter": {"formula": "..."},                    # a text -> the record is dead-lettered with that text
     "lookups": {"stores": {"rows": {"Main St": "store_1"}, "default": null}},
     "fields": [{"to": "idempotent_id", "kind": "field", "source": "transaction_number", "type": "string"},
                {"to": "trigger", "kind": "formula", "formula": "...", "type": "string"},
                {"to": "channel", "kind": "static", "value": "pos"},
                {"to": "store_ref_id", "kind": "lookup", "table": "stores", "source": "location"},
                {"to": "line_items", "kind": "child", "source": "lines", "fields": [...]}],
     "tests": [{"name": "...", "record": {...}, "inputs": {...}, "expect": {...} | "expect_skip": true}]}

An override (one per subscription, overrides.py keeps them) changes only what it names:

    {"collections": [{"extends": "99minds Invoice From iPaaS", "filter": {...},
                      "fields": [{"to": "loyalty_points_claimed", ...}, {"to": "refund_amount", "remove": true}],
                      "lookups": {...}, "status": "Disabled"},
                     {...a whole new collection...}]}
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..core.errors import ConfigurationError

FieldType = Literal["string", "number", "money", "decimal", "integer", "boolean", "date", "datetime", "any"]
# the destination packages whose collections/ folder holds default collections
PACKAGES = ("ninetynine_minds", "stamped", "makini")
DESTINATIONS = Path(__file__).resolve().parent.parent / "destinations"  # files on disk, in the layer as in a checkout


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Filter(_Strict):
    formula: str
    reason: str = "excluded by the mapping filter"
    reason_formula: str | None = None  # a formula giving the reason (names what failed), instead of `reason`


class ErrorFilter(_Strict):
    formula: str  # gives None (the record goes on) or the text of the error (the record is dead-lettered)


class Lookup(_Strict):
    rows: dict[str, Any] = Field(default_factory=dict)
    default: Any = None  # the default row: what a key without a row translates to


class FieldMapping(_Strict):
    to: str = Field(min_length=1)
    kind: Literal["static", "field", "formula", "lookup", "child"]
    type: FieldType = "any"
    value: Any = None  # static
    source: str | None = None  # field, lookup (the key), child (the list field)
    formula: str | None = None  # formula
    table: str | None = None  # lookup
    required: bool = False  # None is an error naming the field (else None is left out of the payload)
    label: str | None = None  # the name a "missing required field" error uses (default: `to`)
    fields: list[FieldMapping] = Field(default_factory=list)  # child
    required_fields: list[str] = Field(default_factory=list)  # child: line fields that must be present

    @model_validator(mode="after")
    def _kind_has_its_parts(self) -> FieldMapping:
        need = {"field": ("source",), "formula": ("formula",), "lookup": ("table", "source"), "child": ("source",)}
        missing = [p for p in need.get(self.kind, ()) if getattr(self, p) in (None, "")]
        if missing:
            raise ValueError(f"field '{self.to}': a {self.kind} mapping needs '{missing[0]}'")
        return self


class Collection(_Strict):
    name: str = Field(min_length=1)
    destination: str = Field(min_length=1)
    source: str = Field(min_length=1)
    target: str = Field(min_length=1)
    status: Literal["Enabled", "Disabled"] = "Enabled"
    description: str = ""
    subject: str = "id"
    inputs: dict[str, str] = Field(default_factory=dict)
    source_fields: dict[str, str] = Field(default_factory=dict)
    required: list[str] = Field(default_factory=list)
    filter: Filter | None = None
    error_filter: ErrorFilter | None = None
    lookups: dict[str, Lookup] = Field(default_factory=dict)
    fields: list[FieldMapping]
    tests: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def enabled(self) -> bool:
        return self.status == "Enabled"


def parse(document: Any, where: str) -> Collection:
    """One collection from its JSON document; ConfigurationError naming where it came from and what is wrong."""
    try:
        return Collection.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        at = ".".join(str(p) for p in first["loc"])
        name = document.get("name") if isinstance(document, dict) else None
        raise ConfigurationError(f"mapping collection '{name or where}': {at}: {first['msg']}") from None


def load_defaults(packages: Iterable[str] = PACKAGES) -> list[Collection]:
    """Every default collection shipped in destinations/<package>/collections/, in file-name order."""
    out: list[Collection] = []
    for package in packages:
        for item in sorted((DESTINATIONS / package / "collections").glob("*.json")):
            out.append(parse(json.loads(item.read_text(encoding="utf-8")), f"{package}/collections/{item.name}"))
    return out


# -- overrides --------------------------------------------------------------------------------------------------
def _merge_fields(base: list[FieldMapping], changes: list[dict[str, Any]], where: str) -> list[FieldMapping]:
    """Each change replaces the field with the same `to` (keeping its place), removes it (`"remove": true`),
    changes a child's fields (a child change without `kind`), or is added at the end."""
    out = list(base)
    for change in changes:
        to = change.get("to") if isinstance(change, dict) else None
        if not to:
            raise ConfigurationError(f"{where}: every field change needs 'to'")
        index = next((i for i, f in enumerate(out) if f.to == to), None)
        if change.get("remove"):
            if index is None:
                raise ConfigurationError(f"{where}: field '{to}' cannot be removed: the collection has no such field")
            del out[index]
            continue
        if index is not None and out[index].kind == "child" and "kind" not in change:
            child = out[index]
            merged = _merge_fields(child.fields, change.get("fields", []), f"{where}, field '{to}'")
            out[index] = child.model_copy(update={"fields": merged})
            continue
        try:
            field = FieldMapping.model_validate(change)
        except ValidationError as exc:
            raise ConfigurationError(f"{where}, field '{to}': {exc.errors()[0]['msg']}") from None
        if index is None:
            out.append(field)
        else:
            out[index] = field
    return out


_OVERRIDABLE = {"extends", "status", "filter", "error_filter", "fields", "lookups", "subject", "source_fields", "tests"}


def apply_overrides(defaults: list[Collection], override: Any, where: str = "override") -> list[Collection]:
    """The subscription's collections: the defaults with its override laid over them (see the module doc)."""
    if override in (None, {}):
        return list(defaults)
    if not isinstance(override, dict) or not isinstance(override.get("collections"), list):
        raise ConfigurationError(f'{where}: an override is {{"collections": [...]}}')
    by_name = {c.name: c for c in defaults}
    added: list[Collection] = []
    for i, change in enumerate(override["collections"]):
        if not isinstance(change, dict):
            raise ConfigurationError(f"{where}: collections[{i}] is not an object")
        if "extends" not in change:
            added.append(parse(change, f"{where}: collections[{i}]"))
            continue
        name = change["extends"]
        base = by_name.get(name)
        label = f"mapping collection '{name}' ({where})"
        if base is None:
            raise ConfigurationError(f"{label}: extends a collection that does not exist (known: {', '.join(sorted(by_name))})")
        unknown = sorted(set(change) - _OVERRIDABLE)
        if unknown:
            raise ConfigurationError(
                f"{label}: '{unknown[0]}' cannot be overridden ({', '.join(sorted(_OVERRIDABLE - {'extends'}))} can)"
            )
        document = base.model_dump()
        for key in ("status", "subject", "filter", "error_filter"):
            if key in change:
                document[key] = change[key]
        document["source_fields"] = {**base.source_fields, **change.get("source_fields", {})}
        document["lookups"] = {**document["lookups"], **change.get("lookups", {})}
        document["fields"] = [f.model_dump() for f in _merge_fields(base.fields, change.get("fields", []), label)]
        if "tests" in change:  # the subscription's own expectations replace the default's (which its change may break)
            document["tests"] = change["tests"]
        by_name[name] = parse(document, label)
    return [by_name[c.name] for c in defaults] + added
