"""Request-time filter expressions over the video table: parse once, bind parameters, mask rows.

Grammar (keywords and field names are case-insensitive, parameter names are not; ``==`` and
``<>`` are read as ``=`` and ``!=``)::

    expr       := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | "(" expr ")" | "completed" | comparison
    comparison := field ("=" | "!=" | "<" | "<=" | ">" | ">=") value
                | field ["not"] "in" ("(" value ("," value)* ")" | $param)
                | field ["not"] "between" value "and" value
    value      := number | 'string' (quote doubled inside) | $param

Fields: ``genre`` (set-valued: ``genre = 'Drama'`` when Drama is one of the genres, ``genre in
X`` when any genre is in X), ``language`` (strings; both only ``=``, ``!=``, ``in``),
``duration_s``, ``release_year``, ``published_within_days`` (numbers), ``channel_id``,
``video_id`` (integers), and the flag ``completed`` (the viewer completed the video). A video
whose value is unknown matches no comparison; ``!=`` and ``not in`` are the negations of ``=``
and ``in``, so it matches those. Limits: 512 characters, 16 levels of ``not`` and
parentheses, 64 terms.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from enum import Enum
from typing import TypeAlias

import numpy as np

from core.errors import ReelRankError
from serving.video_table import VideoTable

MAX_LENGTH = 512
MAX_DEPTH = 16
MAX_TERMS = 64
SECONDS_PER_DAY = 86_400.0
_INT64_MAX = 2**63 - 1


class FilterError(ReelRankError):
    """A filter that cannot be applied: bad syntax, or a parameter missing or of the wrong type."""


class FilterSyntaxError(FilterError):
    """A filter text that does not parse; ``column`` (1-based) is where, when there is a where."""

    def __init__(self, message: str, column: int | None = None) -> None:
        super().__init__(
            f"filter column {column}: {message}" if column is not None else f"filter: {message}"
        )
        self.column = column


class _Kind(Enum):
    TEXT = "text"
    TEXT_SET = "text set"
    NUMBER = "number"
    INTEGER = "integer"
    FLAG = "flag"

    @property
    def needs(self) -> str:
        """What a value for such a field must be, for messages."""
        return {"text": "a string", "text set": "a string", "integer": "an integer"}.get(
            self.value, "a number"
        )


FIELDS: dict[str, _Kind] = {
    "genre": _Kind.TEXT_SET,
    "language": _Kind.TEXT,
    "duration_s": _Kind.NUMBER,
    "release_year": _Kind.NUMBER,
    "published_within_days": _Kind.NUMBER,
    "channel_id": _Kind.INTEGER,
    "video_id": _Kind.INTEGER,
    "completed": _Kind.FLAG,
}
_ORDERED_OPS = ("<", "<=", ">", ">=")
_KEYWORDS = frozenset({"and", "or", "not", "in", "between"})


# ---- syntax tree -------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """A ``$name`` placeholder bound at request time."""

    name: str

    def __str__(self) -> str:
        return f"${self.name}"


Scalar: TypeAlias = "int | float | str"
Value: TypeAlias = "Scalar | Param"


@dataclass(frozen=True)
class Compare:
    """``field op value``."""

    field: str
    op: str
    value: Value

    def __str__(self) -> str:
        return f"{self.field} {self.op} {_show(self.value)}"


@dataclass(frozen=True)
class InList:
    """``field in (values)`` or ``field in $param``."""

    field: str
    values: tuple[Value, ...] | Param

    def __str__(self) -> str:
        return f"{self.field} in {_show_list(self.values)}"


@dataclass(frozen=True)
class Between:
    """``field between low and high`` (both ends included)."""

    field: str
    low: Value
    high: Value

    def __str__(self) -> str:
        return f"{self.field} between {_show(self.low)} and {_show(self.high)}"


@dataclass(frozen=True)
class Flag:
    """A boolean field such as ``completed``."""

    field: str

    def __str__(self) -> str:
        return self.field


@dataclass(frozen=True)
class Not:
    """``not term``."""

    term: Node

    def __str__(self) -> str:
        inner = self.term
        if isinstance(inner, InList):
            return f"{inner.field} not in {_show_list(inner.values)}"
        if isinstance(inner, Between):
            return f"{inner.field} not between {_show(inner.low)} and {_show(inner.high)}"
        return f"not {_wrap(inner, (And, Or))}"


@dataclass(frozen=True)
class And:
    """All terms hold; never directly contains another ``And``."""

    terms: tuple[Node, ...]

    def __str__(self) -> str:
        return " and ".join(_wrap(term, (Or,)) for term in self.terms)


@dataclass(frozen=True)
class Or:
    """Any term holds; never directly contains another ``Or``."""

    terms: tuple[Node, ...]

    def __str__(self) -> str:
        return " or ".join(str(term) for term in self.terms)


Node: TypeAlias = "Compare | InList | Between | Flag | Not | And | Or"


def _wrap(node: Node, kinds: tuple[type, ...]) -> str:
    return f"({node})" if isinstance(node, kinds) else str(node)


def _show(value: Value) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    return str(value)


def _show_list(values: tuple[Value, ...] | Param) -> str:
    if isinstance(values, Param):
        return str(values)
    return "(" + ", ".join(_show(v) for v in values) + ")"


# ---- parsing -----------------------------------------------------------------------------


class _T(Enum):
    NAME = "name"
    NUMBER = "number"
    STRING = "string"
    PARAM = "parameter"
    OP = "operator"
    LPAREN = "("
    RPAREN = ")"
    COMMA = ","
    END = "end"


@dataclass(frozen=True)
class _Token:
    type: _T
    text: str
    value: Scalar
    column: int

    def describe(self) -> str:
        if self.type is _T.END:
            return "the end of the filter"
        return f"the string {self.text}" if self.type is _T.STRING else f"'{self.text}'"

    def is_keyword(self, word: str) -> bool:
        return self.type is _T.NAME and self.value == word


_NUMBER = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPS = {"<=": "<=", ">=": ">=", "!=": "!=", "<>": "!=", "==": "=", "=": "=", "<": "<", ">": ">"}
_PUNCT = {"(": _T.LPAREN, ")": _T.RPAREN, ",": _T.COMMA}


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        column = i + 1
        if ch.isspace():
            i += 1
        elif ch in _PUNCT:
            out.append(_Token(_PUNCT[ch], ch, ch, column))
            i += 1
        elif ch == "'":
            i, value = _string(text, i)
            out.append(_Token(_T.STRING, text[column - 1 : i], value, column))
        elif ch == "$":
            match = _NAME.match(text, i + 1)
            if match is None:
                raise FilterSyntaxError("expected a parameter name after '$'", column)
            out.append(_Token(_T.PARAM, match.group(), match.group(), column))
            i = match.end()
        elif (number := _NUMBER.match(text, i)) is not None:
            out.append(_Token(_T.NUMBER, number.group(), _number(number.group(), column), column))
            i = number.end()
        elif (name := _NAME.match(text, i)) is not None:
            out.append(_Token(_T.NAME, name.group(), name.group().lower(), column))
            i = name.end()
        elif (op := text[i : i + 2]) in _OPS or (op := ch) in _OPS:
            out.append(_Token(_T.OP, op, _OPS[op], column))
            i += len(op)
        else:
            raise FilterSyntaxError(f"unexpected character {ch!r}", column)
    out.append(_Token(_T.END, "", "", n + 1))
    return out


def _string(text: str, start: int) -> tuple[int, str]:
    """The end index and value of the quoted string at ``start`` ('' inside is one quote)."""
    parts: list[str] = []
    i = start + 1
    while True:
        close = text.find("'", i)
        if close < 0:
            raise FilterSyntaxError("unterminated string: expected a closing quote", start + 1)
        parts.append(text[i:close])
        if text.startswith("'", close + 1):
            parts.append("'")
            i = close + 2
        else:
            return close + 1, "".join(parts)


def _number(text: str, column: int) -> int | float:
    if re.fullmatch(r"-?[0-9]+", text):
        value = int(text)
        if abs(value) > _INT64_MAX:
            raise FilterSyntaxError(f"number {text} is out of range", column)
        return value
    number = float(text)
    if not math.isfinite(number):
        raise FilterSyntaxError(f"number {text} is out of range", column)
    return number


class _Parser:
    """Recursive descent over the tokens; depth and term counts are bounded."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.at = 0
        self.depth = 0
        self.terms = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.at]

    def advance(self) -> _Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def fail(self, expected: str, token: _Token | None = None) -> FilterSyntaxError:
        token = token or self.token
        return FilterSyntaxError(f"expected {expected}, found {token.describe()}", token.column)

    def parse(self) -> Node:
        node = self.or_expr()
        if self.token.type is _T.RPAREN:
            raise FilterSyntaxError("unbalanced ')': no '(' to close", self.token.column)
        if self.token.type is not _T.END:
            raise self.fail("'and', 'or' or the end of the filter")
        return node

    def or_expr(self) -> Node:
        terms = [self.and_expr()]
        while self.token.is_keyword("or"):
            self.advance()
            terms.append(self.and_expr())
        return _joined(Or, terms)

    def and_expr(self) -> Node:
        terms = [self.not_expr()]
        while self.token.is_keyword("and"):
            self.advance()
            terms.append(self.not_expr())
        return _joined(And, terms)

    def enter(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FilterSyntaxError(
                f"nested deeper than {MAX_DEPTH} levels of 'not' and parentheses", token.column
            )

    def not_expr(self) -> Node:
        token = self.token
        if token.is_keyword("not"):
            self.enter(self.advance())
            node: Node = Not(self.not_expr())
            self.depth -= 1
            return node
        if token.type is _T.LPAREN:
            self.enter(self.advance())
            node = self.or_expr()
            if self.token.type is not _T.RPAREN:
                raise self.fail(f"')' to close the '(' at column {token.column}")
            self.advance()
            self.depth -= 1
            return node
        if token.type is _T.NAME and token.value not in _KEYWORDS:
            return self.term()
        raise self.fail("a field name, 'not' or '('")

    def term(self) -> Node:
        name_token = self.advance()
        name = str(name_token.value)
        kind = FIELDS.get(name)
        if kind is None:
            raise FilterSyntaxError(
                f"unknown field '{name_token.text}'; fields are {', '.join(sorted(FIELDS))}",
                name_token.column,
            )
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise FilterSyntaxError(f"more than {MAX_TERMS} terms", name_token.column)
        token = self.token
        if kind is _Kind.FLAG:
            if token.type is _T.OP or token.is_keyword("in") or token.is_keyword("between"):
                raise FilterSyntaxError(
                    f"'{name}' is a flag: write '{name}' or 'not {name}'", token.column
                )
            return Flag(name)
        negated = token.is_keyword("not")
        if negated:
            self.advance()
            token = self.token
            if not (token.is_keyword("in") or token.is_keyword("between")):
                raise self.fail("'in' or 'between' after 'not'")
        if token.type is _T.OP and not negated:
            self.advance()
            op = str(token.value)
            if op in _ORDERED_OPS and kind in (_Kind.TEXT, _Kind.TEXT_SET):
                raise FilterSyntaxError(
                    f"{name} can only be compared with =, !=, in and not in", token.column
                )
            return Compare(name, op, self.value(name, kind))
        node: Node
        if token.is_keyword("in"):
            self.advance()
            node = InList(name, self.values(name, kind))
        elif token.is_keyword("between"):
            self.advance()
            if kind in (_Kind.TEXT, _Kind.TEXT_SET):
                raise FilterSyntaxError(
                    f"{name} can only be compared with =, !=, in and not in", token.column
                )
            low = self.value(name, kind)
            if not self.token.is_keyword("and"):
                raise self.fail("'and' in 'between ... and ...'")
            self.advance()
            node = Between(name, low, self.value(name, kind))
        else:
            raise self.fail(
                f"an operator after '{name_token.text}' (=, !=, <, <=, >, >=, in, between)"
            )
        return Not(node) if negated else node

    def value(self, name: str, kind: _Kind) -> Value:
        token = self.advance()
        if token.type is _T.PARAM:
            return Param(str(token.value))
        if token.type not in (_T.NUMBER, _T.STRING):
            raise self.fail("a number, a 'string' or a $parameter", token)
        try:
            if token.type is _T.STRING and kind not in (_Kind.TEXT, _Kind.TEXT_SET):
                raise _WrongType(f"{name} needs {kind.needs}, got the string {token.text}")
            return _coerce(token.value, kind, name)
        except _WrongType as exc:
            raise FilterSyntaxError(str(exc), token.column) from None

    def values(self, name: str, kind: _Kind) -> tuple[Value, ...] | Param:
        token = self.advance()
        if token.type is _T.PARAM:
            return Param(str(token.value))
        if token.type is not _T.LPAREN:
            raise self.fail("'(' or a $parameter after 'in'", token)
        items = [self.value(name, kind)]
        while self.token.type is _T.COMMA:
            self.advance()
            items.append(self.value(name, kind))
        if self.token.type is not _T.RPAREN:
            raise self.fail(f"',' or ')' to close the list opened at column {token.column}")
        self.advance()
        return tuple(items)


def _joined(cls: type[And] | type[Or], terms: list[Node]) -> Node:
    """One term as itself, several as ``cls`` with nested ``cls`` terms spliced in."""
    if len(terms) == 1:
        return terms[0]
    flat: list[Node] = []
    for term in terms:
        flat.extend(term.terms if isinstance(term, cls) else (term,))
    return cls(tuple(flat))


class _WrongType(Exception):
    """A value of the wrong type for its field (turned into a FilterError by the caller)."""


def _coerce(value: object, kind: _Kind, name: str) -> Scalar:
    """``value`` as the field's type: str for text, float for numbers, int for ids."""
    if kind in (_Kind.TEXT, _Kind.TEXT_SET):
        if isinstance(value, str):
            return value
    elif isinstance(value, bool | np.bool_):
        pass
    elif isinstance(value, int | float | np.integer | np.floating | str):
        try:
            number = float(value) if kind is _Kind.NUMBER else _integer(value)
        except (ValueError, OverflowError):
            pass
        else:
            if not (kind is _Kind.NUMBER and math.isnan(number)):
                return number
    raise _WrongType(f"{name} needs {kind.needs}, got {_describe(value)}")


def _integer(value: int | float | np.integer | np.floating | str) -> int:
    if isinstance(value, int | np.integer):
        number = int(value)
    else:
        as_float = float(value)
        if not as_float.is_integer():
            raise ValueError(value)
        number = int(as_float)
    if abs(number) > _INT64_MAX:
        raise ValueError(value)
    return number


def _describe(value: object) -> str:
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    return f"{shown} ({type(value).__name__})"


def _fields(node: Node) -> set[str]:
    if isinstance(node, Not):
        return _fields(node.term)
    if isinstance(node, And | Or):
        return set().union(*(_fields(t) for t in node.terms))
    return {node.field}


def _params(node: Node) -> set[str]:
    if isinstance(node, Not):
        return _params(node.term)
    if isinstance(node, And | Or):
        return set().union(*(_params(t) for t in node.terms))
    if isinstance(node, Compare):
        values: tuple[Value | tuple[Value, ...], ...] = (node.value,)
    elif isinstance(node, Between):
        values = (node.low, node.high)
    elif isinstance(node, InList):
        values = (node.values,) if isinstance(node.values, Param) else node.values
    else:
        values = ()
    return {v.name for v in values if isinstance(v, Param)}


def parse(text: str) -> FilterExpr:
    """The expression in ``text``; raises FilterSyntaxError saying where and what was expected."""
    if len(text) > MAX_LENGTH:
        raise FilterSyntaxError(f"too long: {len(text)} characters, at most {MAX_LENGTH}")
    if not text.strip():
        raise FilterSyntaxError("empty filter: expected a condition such as genre = 'Drama'", 1)
    root = _Parser(text).parse()
    return FilterExpr(root, frozenset(_fields(root)), frozenset(_params(root)))


# ---- binding and evaluation --------------------------------------------------------------


@dataclass(frozen=True)
class FilterExpr:
    """A parsed filter: immutable and hashable, so parse results can be cached by text."""

    root: Node
    fields: frozenset[str] = dataclass_field(compare=False)
    params: frozenset[str] = dataclass_field(compare=False)

    def __str__(self) -> str:
        return str(self.root)

    def __repr__(self) -> str:
        return f"FilterExpr({str(self)!r})"

    def bind(self, params: Mapping[str, object]) -> BoundFilter:
        """This filter with its parameters filled in; FilterError for a missing or mistyped one.

        Numbers given as strings are accepted; ``in $p`` needs a list, tuple or set.
        Parameters the filter does not use are ignored.
        """
        missing = sorted(self.params - params.keys())
        if missing:
            names = ", ".join(f"${name}" for name in missing)
            raise FilterError(f"filter parameter {names} is not given")
        return BoundFilter(_bind(self.root, params), self.fields)

    def mask(
        self,
        table: VideoTable,
        rows: np.ndarray,
        params: Mapping[str, object],
        completed: Set[int],
        now: float,
    ) -> np.ndarray:
        """Which of ``rows`` pass (bool per row; row -1 never does). ``now`` is epoch seconds."""
        return self.bind(params).mask(table, rows, completed, now)


@dataclass(frozen=True)
class BoundFilter:
    """A filter whose parameters are filled in: only evaluation is left."""

    root: Node
    fields: frozenset[str]

    def __str__(self) -> str:
        return str(self.root)

    def mask(
        self, table: VideoTable, rows: np.ndarray, completed: Set[int], now: float
    ) -> np.ndarray:
        """Which of ``rows`` pass (bool per row; -1 or out-of-range rows never do)."""
        rows = np.asarray(rows, dtype=np.int64)
        valid = (rows >= 0) & (rows < len(table))
        if not valid.any():
            return np.zeros(rows.shape, dtype=bool)
        columns = _Columns(table, np.where(valid, rows, 0), completed, now)
        return _evaluate(self.root, columns) & valid


def _bind(node: Node, params: Mapping[str, object]) -> Node:
    if isinstance(node, Not):
        return Not(_bind(node.term, params))
    if isinstance(node, And | Or):
        return type(node)(tuple(_bind(t, params) for t in node.terms))
    if isinstance(node, Compare):
        return Compare(node.field, node.op, _bound(node.value, node.field, params))
    if isinstance(node, Between):
        low = _bound(node.low, node.field, params)
        return Between(node.field, low, _bound(node.high, node.field, params))
    if isinstance(node, InList):
        if not isinstance(node.values, Param):
            return InList(node.field, tuple(_bound(v, node.field, params) for v in node.values))
        given = params[node.values.name]
        if isinstance(given, str) or not isinstance(given, Sequence | Set | np.ndarray):
            raise FilterError(
                f"filter parameter ${node.values.name} must be a list for "
                f"'{node.field} in', got {_describe(given)}"
            )
        kind = FIELDS[node.field]
        try:
            return InList(node.field, tuple(_coerce(v, kind, node.field) for v in given))
        except _WrongType as exc:
            raise FilterError(f"filter parameter ${node.values.name}: {exc}") from None
    return node


def _bound(value: Value, name: str, params: Mapping[str, object]) -> Scalar:
    if not isinstance(value, Param):
        return value
    given = params[value.name]
    try:
        return _coerce(given, FIELDS[name], name)
    except _WrongType as exc:
        raise FilterError(f"filter parameter ${value.name}: {exc}") from None


class _Columns:
    """The table's columns at the evaluated rows, gathered once per field."""

    def __init__(
        self, table: VideoTable, rows: np.ndarray, completed: Set[int], now: float
    ) -> None:
        self.table = table
        self.rows = rows
        self.completed = completed
        self.now = now
        self._cache: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}

    def numeric(self, name: str) -> tuple[np.ndarray, np.ndarray | None]:
        """Values and known mask (None: all known, or NaN marks the unknowns)."""
        if name not in self._cache:
            t, rows = self.table, self.rows
            if name == "video_id":
                column: tuple[np.ndarray, np.ndarray | None] = (t.ids[rows], None)
            elif name == "channel_id":
                channels = t.channel_id[rows]
                column = (channels, channels >= 0)
            elif name == "published_within_days":
                column = ((self.now - t.published_at[rows]) / SECONDS_PER_DAY, None)
            else:
                column = (getattr(t, name)[rows], None)
            self._cache[name] = column
        return self._cache[name]

    def genres(self) -> list[frozenset[str]]:
        genres = self.table.genres
        return [genres[row] for row in self.rows.tolist()]

    def completed_mask(self) -> np.ndarray:
        done = self.completed
        ids = self.table.ids[self.rows].tolist()
        return np.fromiter((i in done for i in ids), dtype=bool, count=len(ids))


def _evaluate(node: Node, columns: _Columns) -> np.ndarray:
    if isinstance(node, And):
        return np.logical_and.reduce([_evaluate(t, columns) for t in node.terms])
    if isinstance(node, Or):
        return np.logical_or.reduce([_evaluate(t, columns) for t in node.terms])
    if isinstance(node, Not):
        return ~_evaluate(node.term, columns)
    if isinstance(node, Flag):
        return columns.completed_mask()
    kind = FIELDS[node.field]
    if kind in (_Kind.TEXT, _Kind.TEXT_SET):
        return _text_mask(node, kind, columns)
    values, known = columns.numeric(node.field)
    if isinstance(node, Compare):
        assert not isinstance(node.value, Param), "bind before evaluating"
        if node.op == "!=":
            equal = values == node.value
            return ~(equal if known is None else equal & known)
        result = _COMPARE[node.op](values, node.value)
    elif isinstance(node, Between):
        result = (values >= node.low) & (values <= node.high)
    else:
        assert isinstance(node, InList) and not isinstance(node.values, Param)
        result = np.isin(values, np.asarray(node.values, dtype=values.dtype))
    return result if known is None else result & known


_COMPARE = {
    "=": np.equal,
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
}


def _text_mask(node: Node, kind: _Kind, columns: _Columns) -> np.ndarray:
    """``=``, ``!=`` and ``in`` on language (one string or None) and genre (a set)."""
    if isinstance(node, Compare):
        wanted = frozenset({node.value})
    else:
        assert isinstance(node, InList) and not isinstance(node.values, Param)
        wanted = frozenset(node.values)
    if kind is _Kind.TEXT_SET:
        genres = columns.genres()
        hits = np.fromiter((not g.isdisjoint(wanted) for g in genres), bool, len(genres))
    else:
        languages = columns.table.language[columns.rows]
        hits = np.fromiter((v in wanted for v in languages), bool, len(languages))
    return ~hits if isinstance(node, Compare) and node.op == "!=" else hits
