"""Validation at load: every collection of a subscription is parsed and type-checked before any record is mapped.

A problem is a ConfigurationError naming the collection, the field and the position in the formula: an unknown
field or function, a formula outside the language, a result of the wrong type for the destination field, a lookup
table that does not exist, or two enabled collections writing the same destination entity. The transfer parks
that subscription's records with this reason (every other subscription goes on).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import ConfigurationError
from .collection import Collection, FieldMapping, Lookup
from .expressions import ANY, NULL, Formula, FormulaSyntaxError, Types, compile_formula
from .sources import SOURCES, Source

# what each destination field type accepts from a formula (null is always accepted: the field is left out)
ACCEPTS: dict[str, Types] = {
    "string": frozenset({"string"}),
    "number": frozenset({"number"}),
    "money": frozenset({"number"}),
    "decimal": frozenset({"number"}),
    "integer": frozenset({"number"}),
    "boolean": frozenset({"boolean"}),
    "date": frozenset({"datetime", "string"}),
    "datetime": frozenset({"datetime", "string"}),
}
_PATH = re.compile(r"^(parent\.)?[A-Za-z_][A-Za-z0-9_]*$")
_CUSTOM = "custom_fields."


@dataclass(frozen=True)
class CompiledField:
    mapping: FieldMapping
    formula: Formula | None = None  # static fields have none
    child: CompiledChild | None = None


@dataclass(frozen=True)
class CompiledChild:
    list_field: str
    source: Source
    fields: list[CompiledField]
    required: list[str]


@dataclass(frozen=True)
class CompiledCollection:
    collection: Collection
    source: Source
    subject: Formula
    filter: Formula | None
    filter_reason: Formula | None
    error_filter: Formula | None
    fields: list[CompiledField]
    tables: Mapping[str, Lookup] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.collection.name


def path_formula(path: str) -> str:
    """A field mapping's source path as the formula it stands for: `total`, `parent.transaction_number`, or a custom
    field by name, `custom_fields.LoyaltyPointsClaimed` -> custom_field("LoyaltyPointsClaimed")."""
    if path.startswith(_CUSTOM) and len(path) > len(_CUSTOM):
        return f"custom_field({path[len(_CUSTOM) :]!r})"
    if not _PATH.match(path):
        raise FormulaSyntaxError(f"'{path}' is not a field path (a field, parent.<field> or custom_fields.<name>)")
    return path


def field_formula(mapping: FieldMapping) -> str | None:
    if mapping.kind == "formula":
        return mapping.formula
    if mapping.kind == "field":
        return path_formula(mapping.source or "")
    if mapping.kind == "lookup":
        return f"lookup({mapping.table!r}, {path_formula(mapping.source or '')})"
    return None


def _static_type(value: Any) -> Types:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return frozenset({"boolean"})
    if isinstance(value, (int, float)):
        return frozenset({"number"})
    if isinstance(value, str):
        return frozenset({"string"})
    return ANY


class _Context:
    def __init__(self, collection: Collection):
        self.collection = collection

    def error(self, reason: str, *, field: str | None = None, formula: str | None = None) -> ConfigurationError:
        where = f"mapping collection '{self.collection.name}'" + (f", field '{field}'" if field else "")
        shown = f" in formula `{formula}`" if formula is not None else ""
        return ConfigurationError(f"{where}: {reason}{shown}")

    def compile(self, text: str, names: Mapping[str, str], *, field: str, parent: Mapping[str, str] | None = None) -> Formula:
        try:
            return compile_formula(text, names, tables=self.collection.lookups, parent=parent)
        except FormulaSyntaxError as exc:
            raise self.error(str(exc), field=field, formula=text) from None


def _names(source: Source, collection: Collection) -> dict[str, str]:
    return {**source.fields, **collection.source_fields, **collection.inputs}


def _compile_fields(
    ctx: _Context, mappings: list[FieldMapping], names: Mapping[str, str], parent: Mapping[str, str] | None, prefix: str
) -> list[CompiledField]:
    out: list[CompiledField] = []
    seen: set[str] = set()
    for mapping in mappings:
        label = prefix + mapping.to
        if mapping.to in seen:
            raise ctx.error("is mapped twice", field=label)
        seen.add(mapping.to)
        if mapping.kind == "child":
            out.append(_compile_child(ctx, mapping, names, label))
            continue
        if mapping.kind == "lookup" and mapping.table not in ctx.collection.lookups:
            known = ", ".join(sorted(ctx.collection.lookups)) or "none"
            raise ctx.error(f"unknown lookup table '{mapping.table}' (tables: {known})", field=label)
        if mapping.kind == "static":
            result = _static_type(mapping.value)
            formula = None
        else:
            try:
                text = field_formula(mapping) or ""
            except FormulaSyntaxError as exc:
                raise ctx.error(str(exc), field=label) from None
            formula = ctx.compile(text, names, field=label, parent=parent)
            result = formula.result
        accepted = ACCEPTS.get(mapping.type)
        if accepted is not None and not ("any" in result or result - NULL <= accepted):
            wrong = " or ".join(sorted(result - NULL - accepted))
            raise ctx.error(
                f"gives {wrong} where the destination field is {mapping.type}",
                field=label,
                formula=formula.text if formula else repr(mapping.value),
            )
        out.append(CompiledField(mapping=mapping, formula=formula))
    return out


def _compile_child(ctx: _Context, mapping: FieldMapping, names: Mapping[str, str], label: str) -> CompiledField:
    parent_source = SOURCES[ctx.collection.source]
    child_name = parent_source.children.get(mapping.source or "")
    if child_name is None:
        known = ", ".join(sorted(parent_source.children)) or "none"
        raise ctx.error(f"'{mapping.source}' is not a list of lines of a {parent_source.name} (lists: {known})", field=label)
    child_source = SOURCES[child_name]
    child_names = {**child_source.fields, **ctx.collection.inputs}
    fields = _compile_fields(ctx, mapping.fields, child_names, names, f"{label}.")
    unknown = [f for f in mapping.required_fields if f not in child_source.fields]
    if unknown:
        raise ctx.error(f"required line field '{unknown[0]}' is not a field of a {child_name}", field=label)
    return CompiledField(
        mapping=mapping,
        child=CompiledChild(
            list_field=mapping.source or "", source=child_source, fields=fields, required=mapping.required_fields
        ),
    )


def compile_collection(collection: Collection) -> CompiledCollection:
    """One collection checked and compiled (ConfigurationError naming collection, field and position)."""
    ctx = _Context(collection)
    source = SOURCES.get(collection.source)
    if source is None:
        raise ctx.error(f"unknown source '{collection.source}' (sources: {', '.join(sorted(SOURCES))})")
    names = _names(source, collection)
    unknown = [f for f in collection.required if f not in names]
    if unknown:
        raise ctx.error(f"required field '{unknown[0]}' is not a field of a {source.name}", field="required")
    return CompiledCollection(
        collection=collection,
        source=source,
        subject=ctx.compile(collection.subject, names, field="subject"),
        filter=ctx.compile(collection.filter.formula, names, field="filter") if collection.filter else None,
        filter_reason=ctx.compile(collection.filter.reason_formula, names, field="filter.reason_formula")
        if collection.filter and collection.filter.reason_formula
        else None,
        error_filter=ctx.compile(collection.error_filter.formula, names, field="error_filter")
        if collection.error_filter
        else None,
        fields=_compile_fields(ctx, collection.fields, names, None, ""),
        tables=collection.lookups,
    )


def compile_all(collections: Iterable[Collection]) -> dict[tuple[str, str], CompiledCollection]:
    """A subscription's collections, each compiled; the enabled ones by (destination, target entity). Two enabled
    collections writing the same destination entity (the seed's "Conflicting Mappings") are a configuration error.
    Keyed by (destination, target): a target whose collection is disabled is absent (its records are skipped)."""
    writers: dict[tuple[str, str], str] = {}
    out: dict[tuple[str, str], CompiledCollection] = {}
    for collection in collections:
        compiled = compile_collection(collection)
        if not collection.enabled:
            continue
        key = (collection.destination, collection.target)
        if key in writers:
            raise ConfigurationError(
                f"mapping collections '{writers[key]}' and '{collection.name}' are both enabled and both write the "
                f"{collection.destination} {collection.target}: disable one (Conflicting Mappings)"
            )
        writers[key] = collection.name
        out[key] = compiled
    return out
