"""Where accepted events become durable: one small interface and the catalogue-database sink.

A sink's ``write`` returns only once the batch is durable, and stores a batch whole or not at
all; an event id already stored is a duplicate, counted and skipped (a retried batch is a
no-op). ``DatabaseSink`` is the embedded default; ``serving.event_stream.RedisStreamSink``
puts a Redis stream in front of the same table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Engine, Table
from sqlalchemy.dialects import postgresql, sqlite

from core.db.models import InteractionEvent
from core.db.session import get_engine
from serving.event_models import ClientEvent

#: The event log table.
EVENTS_TABLE: Table = InteractionEvent.__table__  # type: ignore[assignment]


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


class DatabaseSink:
    """Writes each batch in one transaction of the catalogue database, skipping stored ids.

    ``INSERT ... ON CONFLICT (event_id) DO NOTHING RETURNING event_id`` (SQLite and PostgreSQL):
    the returned ids are the accepted events, the rest are duplicates. Durable at commit
    (SQLite in WAL mode survives a killed process; power-loss safety needs
    ``synchronous=FULL``).
    """

    def __init__(self, database_url: str) -> None:
        self._engine: Engine = get_engine(database_url)
        dialect = sqlite if self._engine.dialect.name == "sqlite" else postgresql
        self._insert = (
            dialect.insert(EVENTS_TABLE)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(EVENTS_TABLE.c.event_id)
        )

    def write(self, events: Sequence[ClientEvent]) -> SinkResult:
        """Store ``events`` in one transaction, stamped with the time they were received."""
        received_at = datetime.now(UTC)
        return self.write_rows([event_row(event, received_at) for event in events])

    def write_rows(self, rows: list[dict[str, Any]]) -> SinkResult:
        """Store rows of ``interaction_events`` in one transaction."""
        if not rows:
            return SinkResult(0, 0)
        with self._engine.begin() as conn:
            stored = conn.execute(self._insert, rows).all()
        return SinkResult(accepted=len(stored), duplicates=len(rows) - len(stored))

    def close(self) -> None:
        """Nothing to release: the engine is shared by the process."""
