"""Where accepted events become durable: one small interface and the catalogue-database sink.

A sink's ``write`` returns only once the batch is durable, and stores a batch whole or not at
all; an event id already stored is a duplicate, counted and skipped (a retried batch is a
no-op). ``DatabaseSink`` is the embedded default; ``serving.event_stream.RedisStreamSink``
puts a Redis stream in front of the same table.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, Table
from sqlalchemy.dialects import sqlite

from core.db.models import InteractionEvent
from core.db.session import get_engine
from serving.event_models import ClientEvent
from serving.event_refs import UnknownReferencesError, unknown_references

#: The event log table.
EVENTS_TABLE: Table = InteractionEvent.__table__  # type: ignore[assignment]

#: The event table's columns and the PostgreSQL array type each is sent as.
_PG_ARRAYS: tuple[tuple[str, str], ...] = (
    ("event_id", "text"),
    ("user_id", "bigint"),
    ("video_id", "bigint"),
    ("event_type", "text"),
    ("value", "float8"),
    ("watch_seconds", "float8"),
    ("event_timestamp", "timestamptz"),
    ("client_id", "text"),
    ("session_id", "text"),
    ("recommendation_id", "text"),
    ("properties", "json"),
    ("received_at", "timestamptz"),
)
#: One statement for any batch size: each column travels as one array, ``unnest`` makes rows.
#: (A multi-row ``VALUES`` has 12 placeholders per event, and psycopg parses and PostgreSQL
#: plans a new statement for every batch size; this text stays the same and gets prepared.)
_PG_INSERT = (
    f"INSERT INTO {EVENTS_TABLE.name} ({', '.join(name for name, _ in _PG_ARRAYS)}) "
    f"SELECT * FROM unnest({', '.join(f'%s::{kind}[]' for _, kind in _PG_ARRAYS)}) "
    "ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
)


@dataclass(frozen=True)
class SinkResult:
    """Events newly stored and events whose id was already stored."""

    accepted: int
    duplicates: int


class EventSink(Protocol):
    """Makes batches of events durable, idempotently by event id."""

    def write(self, events: Sequence[ClientEvent]) -> SinkResult:
        """Store ``events`` (all or none); return once they are durable."""
        ...

    def close(self) -> None:
        """Release connections and background work."""
        ...


def event_row(event: ClientEvent, received_at: datetime) -> dict[str, Any]:
    """``event`` as a row of ``interaction_events`` (timestamps in UTC)."""
    return {
        "event_id": event.event_id,
        "user_id": event.user_id,
        "video_id": event.video_id,
        "event_type": event.type.value,
        "value": event.value,
        "watch_seconds": event.watch_seconds,
        "event_timestamp": event.timestamp.astimezone(UTC),
        "client_id": event.client_id,
        "session_id": event.session_id,
        "recommendation_id": event.recommendation_id,
        "properties": event.properties,
        "received_at": received_at,
    }


def pg_arrays(rows: Sequence[dict[str, Any]]) -> tuple[list[Any], ...]:
    """The parameters of the ``unnest`` insert: one list per column, in ``_PG_ARRAYS`` order.

    ``properties`` is serialized as SQLAlchemy's ``JSON`` type does (``json.dumps``, so a
    missing value is stored as JSON ``null``, like the generic path stores it).
    """
    columns = {name: [row[name] for row in rows] for name, _ in _PG_ARRAYS}
    columns["properties"] = [json.dumps(value) for value in columns["properties"]]
    return tuple(columns.values())


class DatabaseSink:
    """Writes each batch in one transaction of the catalogue database, skipping stored ids.

    ``INSERT ... ON CONFLICT (event_id) DO NOTHING RETURNING event_id``: the returned ids are
    the accepted events, the rest are duplicates. On PostgreSQL the batch travels as one array
    per column (``_PG_INSERT``); on SQLite as SQLAlchemy's multi-row insert. Durable at commit
    (SQLite in WAL mode survives a killed process; power-loss safety needs
    ``synchronous=FULL``).
    """

    def __init__(self, database_url: str) -> None:
        self._engine: Engine = get_engine(database_url)
        self._postgres = self._engine.dialect.name == "postgresql"
        self._insert = (
            sqlite.insert(EVENTS_TABLE)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(EVENTS_TABLE.c.event_id)
        )

    def write(self, events: Sequence[ClientEvent]) -> SinkResult:
        """Store ``events`` in one transaction, stamped with the time they were received."""
        return self.write_rows(_rows(events))

    def write_known(self, events: Sequence[ClientEvent]) -> SinkResult:
        """Check that the users and videos ``events`` name exist, then store the batch, on one
        connection and in one transaction; raise ``UnknownReferencesError`` (nothing stored)
        when some do not."""
        rows = _rows(events)
        if not rows:
            return SinkResult(0, 0)
        with self._engine.begin() as conn:
            problem = unknown_references(conn, events)
            if problem:
                raise UnknownReferencesError(problem)
            return self._insert_rows(conn, rows)

    def write_rows(self, rows: list[dict[str, Any]]) -> SinkResult:
        """Store rows of ``interaction_events`` in one transaction."""
        if not rows:
            return SinkResult(0, 0)
        with self._engine.begin() as conn:
            return self._insert_rows(conn, rows)

    def close(self) -> None:
        """Nothing to release: the engine is shared by the process."""

    def _insert_rows(self, conn: Connection, rows: list[dict[str, Any]]) -> SinkResult:
        if self._postgres:
            stored = conn.exec_driver_sql(_PG_INSERT, pg_arrays(rows)).all()
        else:
            stored = conn.execute(self._insert, rows).all()
        return SinkResult(accepted=len(stored), duplicates=len(rows) - len(stored))


def _rows(events: Sequence[ClientEvent]) -> list[dict[str, Any]]:
    received_at = datetime.now(UTC)
    return [event_row(event, received_at) for event in events]
