"""Portable SQL expressions the analytics queries need, compiled for SQLite and PostgreSQL:
the UTC calendar day of a timestamp, and a number (in a range) or a string read from a JSON
column.

SQLite keeps timestamps as naive UTC text (``YYYY-MM-DD HH:MM:SS.ffffff``) and JSON as text
(read with its JSON1 functions); PostgreSQL keeps ``timestamptz`` and ``json``. A JSON value
of another type than asked for reads as NULL on both, so a client's malformed property never
fails a query.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnExpressionArgument, Float, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

#: Property keys the expressions accept (they are written into the SQL text).
_KEY = re.compile(r"^[a-z_]{1,32}$")


class utc_day(FunctionElement[str]):
    """The UTC calendar day of a timestamp as ``YYYY-MM-DD`` text."""

    type = String()
    name = "utc_day"
    inherit_cache = True


@compiles(utc_day)
def _utc_day_sqlite(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)})"


@compiles(utc_day, "postgresql")
def _utc_day_postgres(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    stamp = compiler.process(element.clauses, **kw)
    return f"to_char(({stamp}) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


class _JsonField(FunctionElement[Any]):
    """A property of a JSON object column, NULL unless it has the wanted JSON type.

    The key is written into the SQL text, not a bound parameter, so these expressions stay out
    of SQLAlchemy's statement cache (``inherit_cache = False``): two keys must never share a
    compiled form.
    """

    inherit_cache = False

    def __init__(self, column: ColumnExpressionArgument[Any], key: str) -> None:
        if not _KEY.match(key):
            raise ValueError(f"property key {key!r} does not match {_KEY.pattern}")
        self.key = key
        super().__init__(column)


class json_number(_JsonField):
    """A numeric property in ``[low, high]`` as a float; NULL when missing, not a JSON number
    or out of range. One JSON read per row on PostgreSQL (a JSON path with the range test)."""

    type = Float()
    name = "json_number"
    inherit_cache = False

    def __init__(self, column: ColumnExpressionArgument[Any], key: str, low: int, high: int):
        if not low <= high:
            raise ValueError(f"empty range [{low}, {high}]")
        self.low, self.high = int(low), int(high)
        super().__init__(column, key)


class json_text(_JsonField):
    """A string property as text (NULL when missing or not a JSON string)."""

    type = String()
    name = "json_text"
    inherit_cache = False


@compiles(json_number)
def _number_sqlite(element: json_number, compiler: SQLCompiler, **kw: Any) -> str:
    column, path = compiler.process(element.clauses, **kw), f"'$.{element.key}'"
    value = f"json_extract({column}, {path})"
    return (
        f"CASE WHEN json_type({column}, {path}) IN ('integer', 'real') "
        f"AND {value} BETWEEN {element.low} AND {element.high} THEN {value} END"
    )


@compiles(json_number, "postgresql")
def _number_postgres(element: json_number, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    test = f'@.type() == "number" && @ >= {element.low} && @ <= {element.high}'
    path = f"'$.{element.key} ? ({test})'"
    return f"CAST(jsonb_path_query_first(CAST({column} AS JSONB), {path}) AS DOUBLE PRECISION)"


@compiles(json_text)
def _text_sqlite(element: json_text, compiler: SQLCompiler, **kw: Any) -> str:
    column, path = compiler.process(element.clauses, **kw), f"'$.{element.key}'"
    return f"CASE WHEN json_type({column}, {path}) = 'text' THEN json_extract({column}, {path}) END"


@compiles(json_text, "postgresql")
def _text_postgres(element: json_text, compiler: SQLCompiler, **kw: Any) -> str:
    column, key = compiler.process(element.clauses, **kw), f"'{element.key}'"
    return f"CASE WHEN json_typeof(({column}) -> {key}) = 'string' THEN ({column}) ->> {key} END"
