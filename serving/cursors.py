"""Opaque page cursors and the keyset conditions they stand for.

A cursor is base64url JSON of the page's sort name and the last row's sort key (values and
id). It is not secret: tampering only moves where the next page starts, because every page is
still drawn from the same visibility-filtered query. A malformed cursor, or one made for
another sort, is refused with ``BadCursorError`` (HTTP 400).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Query
from sqlalchemy import ColumnElement, and_, false, or_

from core.errors import ReelRankError
from serving.params import MAX_ID

#: Longest cursor accepted (a sort key holds at most a title of 512 characters).
MAX_CURSOR = 2048

KeyValue = str | int | float | datetime | None


class BadCursorError(ReelRankError):
    """A cursor that this API did not make, or made for another listing."""


@dataclass(frozen=True)
class SortKey:
    """One column of a keyset order: the column, its direction and whether it can be null
    (nulls sort last in both directions)."""

    column: Any
    descending: bool
    kind: type = str
    nullable: bool = False


def encode_cursor(sort: str, values: Sequence[KeyValue]) -> str:
    """The opaque cursor after a row whose sort key is ``values`` (the id last)."""
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    raw = json.dumps({"s": sort, "k": plain}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str, keys: Sequence[SortKey]) -> list[KeyValue]:
    """The sort key a cursor names, checked against ``keys`` (types, id range)."""
    if len(cursor) > MAX_CURSOR:
        raise BadCursorError(f"the cursor is longer than {MAX_CURSOR} characters")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadCursorError("the cursor is malformed; use next_cursor as returned") from None
    if not isinstance(data, dict) or not isinstance(data.get("k"), list):
        raise BadCursorError("the cursor is malformed; use next_cursor as returned")
    if data.get("s") != sort:
        raise BadCursorError(f"the cursor was made for another listing, not sort={sort!r}")
    values: list[KeyValue] = []
    if len(data["k"]) != len(keys):
        raise BadCursorError("the cursor is malformed; use next_cursor as returned")
    for key, value in zip(keys, data["k"], strict=True):
        values.append(_checked(key, value))
    return values


def _checked(key: SortKey, value: object) -> KeyValue:
    bad = BadCursorError("the cursor is malformed; use next_cursor as returned")
    if value is None:
        if not key.nullable:
            raise bad
        return None
    if key.kind is datetime:
        if not isinstance(value, str) or len(value) > 40:
            raise bad
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            raise bad from None
    if key.kind is int:
        if type(value) is not int or not 0 <= value <= MAX_ID:
            raise bad
        return value
    if key.kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad
        if not 0 <= value <= 1e15:
            raise bad
        return float(value)
    if not isinstance(value, str) or len(value) > 1024:
        raise bad
    return value


def after(keys: Sequence[SortKey], values: Sequence[KeyValue]) -> ColumnElement[bool]:
    """Rows strictly after ``values`` in the order ``keys`` give (nulls last): the keyset
    condition, built column by column."""
    if not keys:
        return false()
    key, value, rest = keys[0], values[0], (keys[1:], values[1:])
    column = key.column
    deeper = after(*rest) if rest[0] else false()
    if value is None:  # in the nulls (last): only later nulls follow
        return and_(column.is_(None), deeper)
    beyond = column < value if key.descending else column > value
    nulls = column.is_(None) if key.nullable else false()
    return or_(beyond, nulls, and_(column == value, deeper))


def order_by(keys: Sequence[SortKey]) -> list[Any]:
    """The ORDER BY clauses of ``keys`` (nulls last)."""
    clauses = []
    for key in keys:
        clause = key.column.desc() if key.descending else key.column.asc()
        clauses.append(clause.nulls_last() if key.nullable else clause)
    return clauses


#: The ``cursor`` query parameter of keyset-paged routes.
Cursor = Annotated[
    str | None,
    Query(min_length=1, max_length=MAX_CURSOR, description="The next_cursor of the previous page."),
]
