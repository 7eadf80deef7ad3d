"""The formula language of mapping collections: Python expression syntax, evaluated by simpleeval (why simpleeval and
not CEL, JSONata or jmespath: docs/mappings.md), narrowed here to what a mapping needs.

What a formula can do, checked when it loads (`compile_formula`), each refusal naming the line and column:
- names: the source record's fields (sources.py), the collection's declared inputs, `parent.<field>` on a line;
- literals: text, numbers (exact: `0.1` is Decimal("0.1"), never a binary float), True/False/None, tuples of them;
- operators: + - * / %, comparisons (`<`, `>=` ... with None on a side are false, as in iPaaS.com's C# formulas),
  `in`, `is None`, and/or/not, `a if cond else b`;
- calls: only the functions below and a few string methods (`.endswith`, `.startswith`, `.strip`, `.lower` ...).
Nothing else parses: no attribute but those (so no `__class__`, no `__globals__`), no subscripts, no lambda,
comprehension, f-string, assignment, `**` or bit operation; no name outside the record (so no `open`,
`__import__`, `os`, the environment or a secret: a formula only ever sees the record and the collection's inputs).

Bounded time: a formula has no loop and at most MAX_NODES nodes, each evaluated at most once; text results are
bounded by simpleeval (MAX_STRING_LENGTH); Decimal arithmetic runs in a 28-digit context that traps overflow. On
top of that each evaluation has a wall-clock budget (MAX_SECONDS) checked at every node: the safety net, not
the bound.

Hand-written here because no library does it: the load-time checks (simpleeval checks while it evaluates, so a
formula in a branch not taken would pass unseen), the type inference that tells a collection's author at load
that a formula gives text where a number is expected, and the exact decimal literals.
"""

from __future__ import annotations

import ast
import operator as op
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation, localcontext
from typing import Any

from simpleeval import SimpleEval, safe_add, safe_mult

from ..core.errors import InvalidRecord
from ..ipaas.custom_fields import custom_field_values  # the one custom-field reader (iPaaS.com's shapes)
from .common import finite_decimal, normalize_phone, parse_amount, valid_email
from .sources import ALL_FIELD_NAMES

MAX_LENGTH = 2000  # characters of one formula
MAX_NODES = 300  # syntax nodes of one formula (each evaluated at most once: no loops)
MAX_CONSTANT = 500  # characters of a text literal
# wall-clock budget of one formula's evaluation: the safety net, far above what the structural bound allows (a few
# ms at worst), so that a slow host (a GC pause, a throttled small Lambda) never cuts off a valid formula
MAX_SECONDS = 1.0
DECIMAL_CONTEXT = Context(prec=28, Emax=99, Emin=-99)  # traps overflow, division by zero, invalid operations

Types = frozenset[str]  # formula types: string, number, boolean, datetime, list, any, null
ANY: Types = frozenset({"any"})
STRING, NUMBER, BOOLEAN, NULL = frozenset({"string"}), frozenset({"number"}), frozenset({"boolean"}), frozenset({"null"})


def _ordered(compare: Callable[[Any, Any], bool], a: Any, b: Any) -> bool:
    """An ordering comparison with None on either side is false (as C#'s lifted comparisons in iPaaS.com formulas:
    `Total >= 0` is false when there is no Total)."""
    return a is not None and b is not None and compare(a, b)


_OPERATORS: dict[type, Callable[..., Any]] = {
    ast.Add: safe_add,
    ast.Sub: op.sub,
    ast.Mult: safe_mult,
    ast.Div: op.truediv,
    ast.Mod: op.mod,
    ast.Eq: op.eq,
    ast.NotEq: op.ne,
    ast.Gt: lambda a, b: _ordered(op.gt, a, b),
    ast.Lt: lambda a, b: _ordered(op.lt, a, b),
    ast.GtE: lambda a, b: _ordered(op.ge, a, b),
    ast.LtE: lambda a, b: _ordered(op.le, a, b),
    ast.Not: op.not_,
    ast.USub: op.neg,
    ast.UAdd: op.pos,
    ast.In: lambda x, y: op.contains(y, x),
    ast.NotIn: lambda x, y: not op.contains(y, x),
    ast.Is: lambda x, y: x is y,
    ast.IsNot: lambda x, y: x is not y,
}
_ALLOWED_NODES = (
    ast.Expression, ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.Compare, ast.IfExp, ast.Call, ast.Name, ast.Load,
    ast.Constant, ast.Attribute, ast.Tuple, ast.And, ast.Or, *_OPERATORS,
)  # fmt: skip
# string methods a formula may call, with their result type
STRING_METHODS: dict[str, Types] = {
    "endswith": BOOLEAN, "startswith": BOOLEAN, "strip": STRING, "lstrip": STRING, "rstrip": STRING,
    "lower": STRING, "upper": STRING, "title": STRING, "isdigit": BOOLEAN,
}  # fmt: skip


class FormulaSyntaxError(Exception):
    """A formula that cannot load: the reason and where (1-based line and column)."""

    def __init__(self, reason: str, line: int = 1, column: int = 1):
        super().__init__(f"{reason} (line {line}, column {column})" if line > 1 else f"{reason} (column {column})")
        self.reason, self.line, self.column = reason, line, column


class FormulaRuntimeError(Exception):
    """A formula that failed on one record (the reason; the caller names collection, field and formula)."""


class FormulaCutOff(FormulaRuntimeError):
    """An evaluation that ran past its wall-clock budget. A formula's structure bounds its work to milliseconds, so
    this says the host was slow (CPU starvation, a GC pause), not that the record is bad: the caller retries it."""


# -- the functions a formula may call --------------------------------------------------------------------------
@dataclass(frozen=True)
class Function:
    returns: Types
    min_args: int
    max_args: int | None  # None: any number


FUNCTIONS: dict[str, Function] = {
    "text": Function(STRING | NULL, 1, 1),  # trimmed text, None when blank
    "words": Function(STRING | NULL, 1, None),  # the non-blank parts, trimmed, joined by one space
    "coalesce": Function(ANY, 1, None),  # the first value that is not None
    "decimal": Function(NUMBER | NULL, 1, 1),  # text or number -> exact number (None stays None)
    "amount": Function(NUMBER, 1, 2),  # a required non-negative currency amount, at most 2 places
    "round": Function(NUMBER, 2, 2),  # half up, to N places
    "abs": Function(NUMBER, 1, 1),
    "min": Function(NUMBER, 1, None),
    "max": Function(NUMBER, 1, None),
    "email": Function(STRING, 1, 2),  # a valid email address, lower-cased (rejects the record otherwise)
    "phone": Function(STRING | NULL, 1, 2),  # digits or +international digits (rejects the record otherwise)
    "custom_field": Function(ANY, 1, 1),  # the record's custom field by name (any shape iPaaS.com sends)
    "lookup": Function(ANY, 2, 2),  # lookup("table", key): the translation table's row, else its default
    "str": Function(STRING, 1, 1),  # any value as text (None -> 'None', as Python writes it)
    "join": Function(STRING, 2, 2),  # join(", ", items): the items' text joined
    "ending": Function(STRING | NULL, 2, 2),  # ending(text, suffixes): the first suffix the text ends with, else None
}


@dataclass(frozen=True)
class Formula:
    text: str
    tree: ast.expr
    result: Types  # what it may give (inferred at load)
    name: str | None = None  # the formula is just this name (a field mapping): read without the evaluator


def position(node: ast.AST) -> tuple[int, int]:
    return getattr(node, "lineno", 1), getattr(node, "col_offset", 0) + 1


def _fail(reason: str, node: ast.AST) -> FormulaSyntaxError:
    return FormulaSyntaxError(reason, *position(node))


def compile_formula(
    text: str, names: Mapping[str, str], *, tables: Mapping[str, Any] | None = None, parent: Mapping[str, str] | None = None
) -> Formula:
    """Parse and check one formula against the names it may read (name -> type) and the lookup tables it may use;
    FormulaSyntaxError (with the position) for anything outside the language or a type that cannot work."""
    if len(text) > MAX_LENGTH:
        raise FormulaSyntaxError(f"the formula is longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise FormulaSyntaxError(f"syntax error: {exc.msg}", exc.lineno or 1, exc.offset or 1) from None
    nodes = list(ast.walk(tree))
    if len(nodes) > MAX_NODES:
        raise FormulaSyntaxError(f"the formula has more than {MAX_NODES} parts; split it")
    source = text.strip()
    for node in nodes:
        if not isinstance(node, _ALLOWED_NODES):
            raise _fail(f"'{type(node).__name__}' is not allowed in a formula", node)
        if isinstance(node, ast.Constant):
            _check_constant(node, source)
    checker = _Checker(names, tables or {}, parent)
    bare = tree.body.id if isinstance(tree.body, ast.Name) else None
    return Formula(text=text, tree=tree.body, result=checker.infer(tree.body), name=bare)


def _check_constant(node: ast.Constant, source: str) -> None:
    value = node.value
    if isinstance(value, float):  # the literal's own text: exact, never through binary floating point
        # simpleeval gives a Constant's value as it is: the Decimal replaces the float in the tree
        node.value = Decimal(ast.get_source_segment(source, node) or repr(value))  # type: ignore[assignment]
    elif isinstance(value, str) and len(value) > MAX_CONSTANT:
        raise _fail(f"a text literal is longer than {MAX_CONSTANT} characters", node)
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**18:
        raise _fail("a number literal has more than 18 digits", node)
    elif value is not None and not isinstance(value, (str, int, bool)):
        raise _fail(f"a {type(value).__name__} literal is not allowed", node)


class _Checker:
    """The load-time walk: every name known, every call allowed, and the type each part gives."""

    def __init__(self, names: Mapping[str, str], tables: Mapping[str, Any], parent: Mapping[str, str] | None):
        self.names, self.tables, self.parent = names, tables, parent

    def infer(self, node: ast.expr) -> Types:
        if isinstance(node, ast.Constant):
            v = node.value
            return NULL if v is None else BOOLEAN if isinstance(v, bool) else STRING if isinstance(v, str) else NUMBER
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.Attribute):
            return self._parent_field(node)
        if isinstance(node, ast.Tuple):
            for element in node.elts:
                if not isinstance(element, ast.Constant):
                    raise _fail("a tuple may hold only literals", element)
            return frozenset({"list"})
        if isinstance(node, ast.BoolOp):
            return frozenset().union(*(self.infer(v) for v in node.values))
        if isinstance(node, ast.Compare):
            for part in (node.left, *node.comparators):
                self.infer(part)
            return BOOLEAN
        if isinstance(node, ast.UnaryOp):
            operand = self.infer(node.operand)
            if isinstance(node.op, ast.Not):
                return BOOLEAN
            self._expect(operand, NUMBER, node.operand, "a sign applies to a number")
            return NUMBER
        if isinstance(node, ast.BinOp):
            return self._binop(node)
        if isinstance(node, ast.IfExp):
            self.infer(node.test)
            return self.infer(node.body) | self.infer(node.orelse)
        if isinstance(node, ast.Call):
            return self._call(node)
        raise _fail(f"'{type(node).__name__}' is not allowed in a formula", node)

    def _name(self, node: ast.Name) -> Types:
        if node.id in self.names:
            tag = self.names[node.id]
            return ANY if tag == "any" else frozenset({tag}) | NULL
        if node.id == "parent" and self.parent is not None:
            raise _fail("'parent' is read field by field: parent.<field>", node)
        if node.id in FUNCTIONS:
            raise _fail(f"the function '{node.id}' must be called", node)
        raise _fail(f"unknown field '{node.id}'", node)

    def _parent_field(self, node: ast.Attribute) -> Types:
        if not (isinstance(node.value, ast.Name) and node.value.id == "parent" and self.parent is not None):
            raise _fail(f"'.{node.attr}' is not allowed here (only parent.<field> on a line, or a text method call)", node)
        if node.attr not in self.parent:
            raise _fail(f"unknown parent field '{node.attr}'", node)
        tag = self.parent[node.attr]
        return ANY if tag == "any" else frozenset({tag}) | NULL

    def _binop(self, node: ast.BinOp) -> Types:
        left, right = self.infer(node.left) - NULL, self.infer(node.right) - NULL
        if "any" in left or "any" in right:
            return ANY
        if left <= NUMBER and right <= NUMBER:
            return NUMBER
        if isinstance(node.op, ast.Add) and left <= STRING and right <= STRING:
            return STRING
        if isinstance(node.op, ast.Mult) and ((left <= STRING and right <= NUMBER) or (left <= NUMBER and right <= STRING)):
            return STRING
        symbol = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Mod: "%"}.get(type(node.op), "?")
        raise _fail(f"'{symbol}' cannot combine {_show(left)} and {_show(right)}", node)

    def _call(self, node: ast.Call) -> Types:
        if node.keywords:
            raise _fail("named arguments are not allowed", node.keywords[0].value)
        if isinstance(node.func, ast.Attribute):  # a text method: "abc".endswith("c")
            method = node.func.attr
            if method not in STRING_METHODS:
                raise _fail(f"'.{method}()' is not allowed (text methods: {', '.join(sorted(STRING_METHODS))})", node.func)
            receiver = self.infer(node.func.value)
            self._expect(receiver, STRING, node.func.value, f"'.{method}()' applies to text")
            for arg in node.args:
                self.infer(arg)
            return STRING_METHODS[method]
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            name = node.func.id if isinstance(node.func, ast.Name) else type(node.func).__name__
            raise _fail(f"unknown function '{name}' (functions: {', '.join(sorted(FUNCTIONS))})", node.func)
        fn = FUNCTIONS[node.func.id]
        if len(node.args) < fn.min_args or (fn.max_args is not None and len(node.args) > fn.max_args):
            raise _fail(f"'{node.func.id}' takes {_arity(fn)}, not {len(node.args)}", node)
        if node.func.id in ("lookup", "custom_field"):
            first = node.args[0]
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                raise _fail(f"'{node.func.id}' takes the name as a text literal", first)
            if node.func.id == "lookup" and first.value not in self.tables:
                known = ", ".join(sorted(self.tables)) or "none"
                raise _fail(f"unknown lookup table '{first.value}' (tables: {known})", first)
        args = [self.infer(a) for a in node.args]
        if node.func.id == "coalesce":
            return frozenset().union(*args) - NULL or NULL
        return fn.returns

    @staticmethod
    def _expect(got: Types, want: Types, node: ast.AST, reason: str) -> None:
        if not (got - NULL <= want or "any" in got):
            raise _fail(f"{reason}, not {_show(got - NULL)}", node)


def _show(types_: Types) -> str:
    return " or ".join(sorted(types_)) or "nothing"


def _arity(fn: Function) -> str:
    if fn.max_args is None:
        return f"at least {fn.min_args} argument{'s' if fn.min_args > 1 else ''}"
    if fn.min_args == fn.max_args:
        return f"{fn.min_args} argument{'s' if fn.min_args > 1 else ''}"
    return f"{fn.min_args} to {fn.max_args} arguments"


# -- evaluation ------------------------------------------------------------------------------------------------------
class Parent(dict[str, Any]):
    """A line's parent record: read as parent.<field> (the only attribute access on a record)."""


_clock = time.monotonic  # the budget's clock (a test may replace it)


class _Evaluator(SimpleEval):  # type: ignore[misc]  # simpleeval ships no type information
    """simpleeval with only the nodes the language has, and the wall-clock budget checked at every node. One per
    thread, reused record after record (its names and functions are set per record by Scope): building one costs
    more than mapping a customer."""

    def __init__(self) -> None:
        super().__init__(
            operators=_OPERATORS, functions={}, names={},
            allowed_attrs={str: set(STRING_METHODS), Parent: set(ALL_FIELD_NAMES)},
        )  # fmt: skip
        self.nodes: dict[type, Callable[[Any], Any]] = {k: v for k, v in self.nodes.items() if k in _ALLOWED_NODES}
        self.nodes[ast.Tuple] = lambda node: tuple(self._eval(e) for e in node.elts)
        self.nodes[ast.Constant] = _constant  # literals are bounded when the formula loads
        self.deadline = 0.0

    def _eval(self, node: ast.AST) -> Any:
        # simpleeval's own _eval also checks every result for modules and forbidden functions: a formula here can
        # name nothing but the record's values and our functions (checked at load), so that check is skipped
        if _clock() > self.deadline:
            raise FormulaCutOff(f"took longer than {MAX_SECONDS:g} s; cut off")
        return self.nodes[type(node)](node)


def _constant(node: ast.Constant) -> Any:
    return node.value


_local = threading.local()


def _evaluator() -> _Evaluator:
    found: _Evaluator | None = getattr(_local, "evaluator", None)
    if found is None:
        found = _local.evaluator = _Evaluator()
    return found


class Scope:
    """The names and functions of one record's evaluation. `subject` names the record in rejections. Run it inside
    `decimal_context()` (evaluate.py does, once per record)."""

    def __init__(self, names: dict[str, Any], *, subject: str, tables: Mapping[str, Any], custom_fields: Any = None):
        self.subject, self.tables, self._custom_fields = subject, tables, custom_fields
        self._custom: dict[str, Any] | None = None
        self.names = names
        self.functions: dict[str, Callable[..., Any]] = {
            **_PURE_FUNCTIONS, "amount": self._amount, "email": self._email, "phone": self._phone,
            "custom_field": self._custom_field, "lookup": self._lookup,
        }  # fmt: skip

    def run(self, formula: Formula) -> Any:
        """The formula's value; FormulaRuntimeError on failure (InvalidRecord, from email/phone/amount, passes as is)."""
        if formula.name is not None:
            return self.names[formula.name]
        evaluator = _evaluator()
        evaluator.names, evaluator.functions, evaluator.expr = self.names, self.functions, formula.text
        evaluator.deadline = _clock() + MAX_SECONDS
        try:
            return evaluator._eval(formula.tree)
        except (InvalidRecord, FormulaRuntimeError):
            raise
        except Exception as exc:  # any failure inside a formula is that record's, never the batch's
            raise FormulaRuntimeError(_runtime_reason(exc)) from None

    # functions that need the record
    def _custom_field(self, name: str) -> Any:
        if self._custom is None:
            self._custom = custom_field_values(self._custom_fields)
        return self._custom.get(name)

    def _lookup(self, table: str, key: Any) -> Any:
        found = self.tables[table]
        return found.rows.get("" if key is None else str(key).strip(), found.default)

    def _email(self, value: Any, field: str = "email_address") -> str:
        return valid_email(str(value), self.subject, field)

    def _phone(self, value: Any, field: str = "phone_number") -> str | None:
        return normalize_phone(value, self.subject, field)

    def _amount(self, value: Any, field: str = "amount") -> Decimal:
        return parse_amount(value, self.subject, field)


def _runtime_reason(exc: Exception) -> str:
    if isinstance(exc, InvalidOperation):
        return "invalid arithmetic (e.g. division by zero or a number too large)"
    if isinstance(exc, TypeError):
        return f"a value has the wrong type ({exc})"[:300]
    return f"{type(exc).__name__}: {exc}"[:300]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = (format(value.normalize(), "f") if isinstance(value, Decimal) else str(value)).strip()
    return text or None


def _words(*parts: Any) -> str | None:
    return " ".join(t for t in (_text(p) for p in parts) if t) or None


def _coalesce(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def _decimal(value: Any) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise FormulaRuntimeError("decimal(): a boolean is not a number")
    return finite_decimal(value, lambda problem: FormulaRuntimeError(f"decimal(): '{str(value)[:40]}' {problem}"))


def _round(value: Decimal, places: int) -> Decimal:
    return Decimal(value).quantize(Decimal(1).scaleb(-int(places)), rounding=ROUND_HALF_UP)


def _number_fn(fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        if any(not isinstance(a, (int, Decimal)) or isinstance(a, bool) for a in args):
            raise FormulaRuntimeError(f"{fn.__name__}() takes numbers")
        return fn(*args)

    return call


def _join(separator: str, items: Any) -> str:
    return str(separator).join(str(i) for i in items)


def _ending(text: Any, suffixes: Any) -> str | None:
    return next((s for s in suffixes if str(text or "").endswith(s)), None)


_PURE_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "str": str, "join": _join, "ending": _ending, "text": _text, "words": _words, "coalesce": _coalesce,
    "decimal": _decimal, "round": _round,
    "abs": _number_fn(abs), "min": _number_fn(min), "max": _number_fn(max),
}  # fmt: skip


def decimal_context() -> AbstractContextManager[Context]:
    """The arithmetic of formulas: 28 digits, overflow and invalid operations trapped."""
    return localcontext(DECIMAL_CONTEXT)
