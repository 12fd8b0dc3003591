"""Bulk writes into the catalogue inside one caller-owned transaction (SQLAlchemy Core, no ORM)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Table, insert, select

from core import columns as c
from core.db.models import InteractionEvent, Rating
from core.db.session import get_engine
from core.eventlog import conform
from core.types import EventType

#: Rows per executemany call for ordinary tables.
ROW_CHUNK = 5_000
#: Rows per batch of ``bulk_insert`` (driver executemany on SQLite, COPY on PostgreSQL).
BULK_CHUNK = 100_000
#: Keys per ``IN (...)`` lookup; well under SQLite's bound-parameter limit.
LOOKUP_CHUNK = 5_000
#: SQLite page cache (KiB) during a bulk load, so index pages are not spilled and rewritten.
SQLITE_BULK_CACHE_KIB = 1_000_000
_EVENT_TYPES = frozenset(e.value for e in EventType)


@contextmanager
def bulk_transaction(database_url: str) -> Iterator[Connection]:
    """One transaction for a bulk load: committed on success, rolled back on any error.

    On SQLite the connection's page cache is enlarged for the load and restored afterwards.
    """
    with get_engine(database_url).connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            old = conn.exec_driver_sql("PRAGMA cache_size").scalar()
            conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_BULK_CACHE_KIB}")
            conn.commit()
        try:
            with conn.begin():
                yield conn
        finally:
            if sqlite:
                conn.exec_driver_sql(f"PRAGMA cache_size={old}")
                conn.commit()


def table_of(model: type[Any]) -> Table:
    """The Core ``Table`` of an ORM model class (its ``__table__`` is typed as a FromClause)."""
    table = model.__table__
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not mapped to a single table")
    return table


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """Consecutive slices of ``items`` of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def insert_returning_ids(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]]
) -> list[int]:
    """Insert ``rows`` in chunks and return their new primary keys, in the order of ``rows``."""
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    ids: list[int] = []
    for part in chunks(rows, ROW_CHUNK):
        ids.extend(conn.execute(statement, list(part)).scalars().all())
    return ids


def ids_by_external_id(
    conn: Connection, table: Table, source: str, external_ids: Iterable[str]
) -> dict[str, int]:
    """``external_id -> id`` of the rows of ``table`` from ``source`` among ``external_ids``."""
    found: dict[str, int] = {}
    wanted = list(dict.fromkeys(external_ids))
    for part in chunks(wanted, LOOKUP_CHUNK):
        query = select(table.c.external_id, table.c.id).where(
            table.c.source == source, table.c.external_id.in_(part)
        )
        found.update({str(ext): int(pk) for ext, pk in conn.execute(query)})
    return found


def existing_event_ids(conn: Connection, event_ids: Iterable[str]) -> set[str]:
    """Those of ``event_ids`` already in the event table."""
    table = InteractionEvent.__table__
    found: set[str] = set()
    for part in chunks(list(event_ids), LOOKUP_CHUNK):
        query = select(table.c.event_id).where(table.c.event_id.in_(part))
        found.update(conn.execute(query).scalars())
    return found


def existing_rating_pairs(conn: Connection, user_ids: Iterable[int]) -> set[tuple[int, int]]:
    """``(user_id, video_id)`` pairs already rated by any of ``user_ids``."""
    table = Rating.__table__
    found: set[tuple[int, int]] = set()
    for part in chunks(list(user_ids), LOOKUP_CHUNK):
        query = select(table.c.user_id, table.c.video_id).where(table.c.user_id.in_(part))
        found.update((int(u), int(v)) for u, v in conn.execute(query))
    return found


def insert_ratings(conn: Connection, ratings: pd.DataFrame) -> int:
    """Insert ``user_id, video_id, value, created_at`` rows, skipping pairs already rated.

    Of several ratings of one pair the latest wins.
    """
    if ratings.empty:
        return 0
    latest = ratings.sort_values("created_at", kind="stable").drop_duplicates(
        [c.USER_ID, c.VIDEO_ID], keep="last"
    )
    known = existing_rating_pairs(conn, latest[c.USER_ID].unique().tolist())
    if known:
        pairs = pd.Series(list(zip(latest[c.USER_ID], latest[c.VIDEO_ID], strict=True)))
        latest = latest[~pairs.isin(known).to_numpy()]
    columns = [c.USER_ID, c.VIDEO_ID, "value", "created_at"]
    return bulk_insert(conn, table_of(Rating), latest[columns])


def insert_events(conn: Connection, events: pd.DataFrame) -> int:
    """Append ``events`` (event-log columns) to the event table; return how many.

    Event ids must be new; event types must be ``core.types.EventType`` values.
    """
    if events.empty:
        return 0
    frame = conform(with_optional_columns(events))
    bad = set(frame[c.EVENT_TYPE].dropna().unique()) - _EVENT_TYPES
    if bad or frame[c.EVENT_ID].isna().any():
        raise ValueError(f"events with unknown types {sorted(bad)} or without an event_id")
    return bulk_insert(conn, table_of(InteractionEvent), frame)


def with_optional_columns(events: pd.DataFrame) -> pd.DataFrame:
    """``events`` with any missing optional event-log column added as all-missing."""
    missing = {
        col: np.nan if col in (c.VALUE, c.WATCH_SECONDS) else None
        for col in c.EVENT_COLUMNS
        if col not in events
    }
    return events.assign(**missing) if missing else events


def bulk_insert(conn: Connection, table: Table, frame: pd.DataFrame) -> int:
    """Insert the rows of ``frame`` (columns named as ``table``'s) in large batches.

    Values are converted column-wise (no per-row type processing): on SQLite the compiled Core
    ``insert()`` runs through the driver's executemany; on PostgreSQL the rows are streamed with
    ``COPY``. Timezone-aware timestamp columns are stored as UTC. Returns the row count.
    """
    unknown = set(frame.columns) - set(table.columns.keys())
    if unknown:
        raise ValueError(f"{table.name} has no columns {sorted(unknown)}")
    frame = _with_scalar_defaults(table, frame)
    columns = [name for name in table.columns.keys() if name in frame.columns]  # noqa: SIM118
    frame = frame[columns]  # the compiled statement lists columns in table order
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        sql = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    else:
        sql = str(insert(table).compile(dialect=conn.dialect, column_keys=columns))
    for start in range(0, len(frame), BULK_CHUNK):
        rows = _driver_rows(frame.iloc[start : start + BULK_CHUNK], postgres=postgres)
        if postgres:
            raw = conn.connection.driver_connection
            if raw is None:
                raise RuntimeError("the PostgreSQL connection has no driver connection")
            with raw.cursor() as cursor, cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            conn.exec_driver_sql(sql, rows)
    return len(frame)


def _with_scalar_defaults(table: Table, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` plus the table's columns it lacks that have a constant default (a compiled
    insert would expect a value for them)."""
    missing = {
        column.name: column.default.arg  # type: ignore[attr-defined]
        for column in table.columns
        if column.name not in frame.columns
        and column.default is not None
        and column.default.is_scalar
    }
    return frame.assign(**missing) if missing else frame


def _driver_rows(frame: pd.DataFrame, *, postgres: bool) -> list[tuple[Any, ...]]:
    """Rows as plain Python values (None for missing); timestamps as UTC text."""
    columns: list[list[Any]] = []
    for name in frame.columns:
        series = frame[name]
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            naive = series.dt.tz_convert("UTC").dt.tz_localize(None)
            text = np.datetime_as_string(naive.to_numpy(dtype="datetime64[us]"), unit="us")
            text = np.strings.replace(text, "T", " ")
            columns.append(np.strings.add(text, "+00").tolist() if postgres else text.tolist())
        elif series.isna().any():
            columns.append(series.astype(object).where(series.notna(), None).tolist())
        else:
            columns.append(series.to_numpy(dtype=object).tolist())
    return list(zip(*columns, strict=True))
