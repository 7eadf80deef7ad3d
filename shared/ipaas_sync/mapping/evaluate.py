"""One record through one compiled collection: the filter's verdict, then the payload. Pure: no I/O.

- the mapping filter gives false -> Skip with the filter's reason (a deliberate skip, not a failure);
- a required source field is missing -> InvalidRecord naming every missing field;
- the error filter gives a text -> InvalidRecord with that text (the record is dead-lettered with it);
- a formula fails on this record -> MappingFormulaError naming the collection, the field and the formula: the
  record is dead-lettered, and no payload exists (never a partial one);
- an evaluation runs past its wall-clock budget -> MappingFormulaCutOff (transient, same message): the host was slow,
  the record is not at fault, so it is retried on the schedule rather than parked.
Money: formulas compute in Decimal; a `number` field goes out as a JSON number only when that number's text is
exactly the Decimal's (else the record is rejected, never rounded on a guess); `money` is a two-place decimal
string ("25.00") and `decimal` a decimal string without trailing zeros ("19.99").
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import SecretStr

from ..core.errors import InvalidRecord, PermanentError, Skip, TransientError
from .expressions import Formula, FormulaCutOff, FormulaRuntimeError, Parent, Scope, decimal_context
from .validate import CompiledChild, CompiledCollection, CompiledField

_CENT = Decimal("0.01")


class MappingFormulaError(PermanentError):
    """A formula failed on one record: the message names the record, the collection, the field and the formula."""


class MappingFormulaCutOff(TransientError):
    """A formula's evaluation ran past its wall-clock budget on one record (expressions.FormulaCutOff): retried."""


def _fail(
    compiled: CompiledCollection, subject: str, field: str, formula: str, exc: FormulaRuntimeError
) -> MappingFormulaError | MappingFormulaCutOff:
    kind = MappingFormulaCutOff if isinstance(exc, FormulaCutOff) else MappingFormulaError
    return kind(f"{subject}: mapping collection '{compiled.name}', field '{field}': formula `{formula}` failed: {exc}")


def subject_of(compiled: CompiledCollection, names: dict[str, Any], scope: Scope) -> str:
    try:
        value = scope.run(compiled.subject)
    except (FormulaRuntimeError, InvalidRecord):
        value = None
    return str(value) if value not in (None, "") else f"{compiled.source.name} {names.get('id')}"


def _missing(names: Mapping[str, Any], fields: list[str]) -> list[str]:
    return [f for f in fields if names.get(f) is None or (isinstance(names[f], str) and not names[f].strip())]


def _missing_message(subject: str, missing: list[str]) -> str:
    listed = ", ".join(f"'{m}'" for m in missing)
    return f"{subject}: missing required field{'s' if len(missing) > 1 else ''} {listed}"


def settings_inputs(compiled: CompiledCollection, settings: Any) -> dict[str, Any]:
    """The collection's inputs that are subscription settings, read from the settings by the same name (e.g.
    store_ref_id, campaign_id, transaction_types); a secret setting is never an input. The transfer adds the values
    it resolves (linked_customer_id, ...)."""
    out: dict[str, Any] = {}
    for name in compiled.collection.inputs:
        value = getattr(settings, name, None)
        if value is not None and not isinstance(value, SecretStr):
            out[name] = value
    return out


def verdict(compiled: CompiledCollection, record: Any, inputs: Mapping[str, Any] | None = None) -> str | None:
    """None when the record passes the collection's mapping filter, else the reason it is skipped."""
    try:
        evaluate(compiled, record, inputs, filter_only=True)
    except Skip as skip:
        return skip.reason
    return None


def evaluate(
    compiled: CompiledCollection,
    record: Any,
    inputs: Mapping[str, Any] | None = None,
    *,
    tables: Mapping[str, Mapping[str, Any]] | None = None,
    filter_only: bool = False,
) -> dict[str, Any]:
    """The destination payload for this record (see the module doc for what it raises). `inputs`: the values the
    transfer resolved (only the collection's declared inputs are read); `tables`: rows the transfer looked up for a
    lookup table the collection declares (e.g. Makini products by SKU)."""
    with decimal_context():
        return _evaluate(compiled, record, inputs, tables, filter_only)


def _evaluate(
    compiled: CompiledCollection,
    record: Any,
    inputs: Mapping[str, Any] | None,
    tables: Mapping[str, Mapping[str, Any]] | None,
    filter_only: bool,
) -> dict[str, Any]:
    collection = compiled.collection
    names = compiled.source.names(record, collection.source_fields)
    names.update(dict.fromkeys(collection.inputs, None))
    for key, value in (inputs or {}).items():
        if key in collection.inputs:  # a list input is a tuple to formulas (what `.endswith(...)` takes)
            names[key] = tuple(value) if collection.inputs[key] == "list" and isinstance(value, list) else value
    lookups = dict(compiled.tables)
    for name, rows in (tables or {}).items():
        if name in lookups:
            lookups[name] = lookups[name].model_copy(update={"rows": dict(rows)})
    scope = Scope(names, subject="", tables=lookups, custom_fields=names.get("custom_fields"))
    subject = scope.subject = subject_of(compiled, names, scope)

    def run(formula: Formula, field: str) -> Any:
        try:
            return scope.run(formula)
        except FormulaRuntimeError as exc:
            raise _fail(compiled, subject, field, formula.text, exc) from None

    if compiled.filter is not None and not run(compiled.filter, "filter"):
        reason = run(compiled.filter_reason, "filter.reason_formula") if compiled.filter_reason else None
        raise Skip(f"{subject}: {reason or (collection.filter.reason if collection.filter else '')}")
    if filter_only:
        return {}
    missing = _missing(names, collection.required)
    if missing:
        raise InvalidRecord(_missing_message(subject, missing))
    if compiled.error_filter is not None:
        message = run(compiled.error_filter, "error_filter")
        if message not in (None, "", False):
            raise InvalidRecord(f"{subject}: {message}")
    return _payload(compiled, compiled.fields, scope, subject, names, run)


def _payload(
    compiled: CompiledCollection,
    fields: list[CompiledField],
    scope: Scope,
    subject: str,
    names: dict[str, Any],
    run: Any,
    prefix: str = "",
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for compiled_field in fields:
        mapping = compiled_field.mapping
        label = prefix + mapping.to
        if compiled_field.child is not None:
            out[mapping.to] = _children(compiled, compiled_field.child, scope, subject, names, run, label)
            continue
        value = mapping.value if compiled_field.formula is None else run(compiled_field.formula, label)
        try:
            value = convert(value, mapping.type)
        except FormulaRuntimeError as exc:
            raise _fail(compiled, subject, label, compiled_field.formula.text if compiled_field.formula else "", exc) from None
        if value is None:
            if mapping.required:
                raise InvalidRecord(f"{subject}: missing required field '{mapping.label or label}'")
            continue
        out[mapping.to] = value
    return out


def _children(
    compiled: CompiledCollection,
    child: CompiledChild,
    scope: Scope,
    subject: str,
    names: dict[str, Any],
    run: Any,
    label: str,
) -> list[dict[str, Any]]:
    items = names.get(child.list_field) or []
    parent = Parent(names)
    out = []
    for index, item in enumerate(items):
        line_names = child.source.names(item)
        line_names.update({k: names.get(k) for k in compiled.collection.inputs})
        line_names["parent"] = parent
        missing = _missing(line_names, child.required)
        if missing:
            raise InvalidRecord(_missing_message(subject, [f"{child.list_field}[{index}].{m}" for m in missing]))
        scope.names = line_names
        try:
            out.append(_payload(compiled, child.fields, scope, subject, line_names, run, f"{label}[{index}]."))
        finally:
            scope.names = names
    return out


def convert(value: Any, kind: str) -> Any:
    """A formula's value as the destination field's type on the wire (see the module doc)."""
    if value is None or kind == "any":
        return value
    if kind == "string":
        if isinstance(value, str):
            return value
        raise FormulaRuntimeError(f"gives {type(value).__name__} where text is expected")
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        raise FormulaRuntimeError(f"gives {type(value).__name__} where true/false is expected")
    if kind in ("date", "datetime"):
        if isinstance(value, datetime):
            return value.date().isoformat() if kind == "date" else value.isoformat()
        if isinstance(value, (date, str)):
            return value.isoformat() if isinstance(value, date) else value
        raise FormulaRuntimeError(f"gives {type(value).__name__} where a {kind} is expected")
    number = _number(value)
    if kind == "money":
        cents = number.quantize(_CENT)
        if cents != number:
            raise FormulaRuntimeError(f"gives {number}, which has more than 2 decimal places (not rounded on a guess)")
        return str(cents)
    if kind == "decimal":
        text = format(number.normalize(), "f")
        return "0" if text == "-0" else text
    if kind == "integer":
        if number != number.to_integral_value():
            raise FormulaRuntimeError(f"gives {number} where a whole number is expected")
        return int(number)
    return wire_number(number)


def _number(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise FormulaRuntimeError(f"gives {type(value).__name__} where a number is expected")
    number = Decimal(value)
    if not number.is_finite():
        raise FormulaRuntimeError("gives a number that is not finite")
    return number


def wire_number(number: Decimal) -> int | float:
    """A Decimal as a JSON number: integral values as int; others as the float whose shortest text is exactly the
    Decimal's (true for every amount up to 15 significant digits). Anything else is refused: a JSON number that
    is not the computed amount would be money changed on the way."""
    if number == number.to_integral_value():
        return int(number)
    as_float = float(number)
    try:
        same = Decimal(repr(as_float)) == number
    except InvalidOperation:
        same = False
    if not same:
        raise FormulaRuntimeError(f"gives {number}, which no JSON number carries exactly")
    return as_float
