"""The database sink's PostgreSQL array insert stores rows exactly as the generic multi-row
insert does, and the existence check refuses a batch whole."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql

from core.db.session import get_engine, session_scope
from serving.event_models import ClientEvent
from serving.event_refs import UnknownReferencesError
from serving.event_sink import EVENTS_TABLE, DatabaseSink, event_row
from tests.test_serving_events import seed_catalogue, stored_count

NOW = datetime.now(UTC).replace(microsecond=123456)


def client_events() -> list[ClientEvent]:
    """Events with every optional field set, unset, or set to an awkward value."""
    plus_two = timezone(timedelta(hours=2))
    bodies: list[dict[str, Any]] = [
        {"type": "play", "user_id": 1, "video_id": 10, "timestamp": NOW},
        {
            "type": "quality_change",
            "user_id": 2,
            "video_id": 11,
            "timestamp": NOW.astimezone(plus_two),
            "value": -0.25,
            "watch_seconds": 0.0,
            "session_id": "s-é",
            "client_id": "ios-17",
            "recommendation_id": uuid.uuid4().hex,
            "properties": {"from": "720p", "to": None, "auto": True, "n": 3, "x": 1.5},
        },
        {"type": "seek", "user_id": 3, "video_id": 12, "timestamp": NOW, "properties": {}},
    ]
    return [ClientEvent(event_id=uuid.uuid4().hex, **body) for body in bodies]


def stored_rows(database_url: str) -> dict[str, dict[str, Any]]:
    """Every stored event by id: its columns, and its properties as the database's text."""
    columns = [col for col in EVENTS_TABLE.c if col.name != "event_id"]
    with session_scope(database_url) as session:
        rows = session.execute(select(EVENTS_TABLE.c.event_id, *columns)).all()
        texts = dict(
            session.execute(
                text("SELECT event_id, CAST(properties AS TEXT) FROM interaction_events")
            ).all()
        )
    return {row[0]: {**row._asdict(), "event_id": None, "json": texts[row[0]]} for row in rows}


@pytest.mark.postgres
def test_the_array_insert_stores_what_the_generic_insert_stores(postgres_url: str) -> None:
    events = client_events()
    received = datetime.now(UTC)
    generic = [event_row(e, received) | {"event_id": "g" + e.event_id} for e in events]
    insert = postgresql.insert(EVENTS_TABLE).on_conflict_do_nothing(index_elements=["event_id"])
    with get_engine(postgres_url).begin() as conn:
        conn.execute(insert, generic)
    arrays = [event_row(e, received) | {"event_id": "a" + e.event_id} for e in events]
    sink = DatabaseSink(postgres_url)
    assert sink.write_rows(arrays).accepted == 3
    assert sink.write_rows(arrays[1:]).duplicates == 2

    stored = stored_rows(postgres_url)
    for e in events:
        assert stored["a" + e.event_id] == stored["g" + e.event_id]
    first = stored["a" + events[0].event_id]
    assert first["properties"] is None and first["json"] == "null"  # JSON null, as generic
    assert first["value"] is None and first["session_id"] is None
    second = stored["a" + events[1].event_id]
    assert second["event_timestamp"] == NOW and second["received_at"] == received
    assert second["properties"] == events[1].properties


def test_a_batch_naming_an_unknown_user_or_video_is_refused_whole(database_url: str) -> None:
    seed_catalogue(database_url)
    sink = DatabaseSink(database_url)
    events = client_events()
    assert sink.write_known(events).accepted == 3
    unknown = [ClientEvent(**{**e.model_dump(), "event_id": uuid.uuid4().hex}) for e in events]
    unknown[1] = unknown[1].model_copy(update={"user_id": 999})
    unknown[2] = unknown[2].model_copy(update={"video_id": 777})
    with pytest.raises(UnknownReferencesError, match="unknown user ids: 999; unknown video"):
        sink.write_known(unknown)
    assert stored_count(database_url) == 3
    assert sink.write_known(events).duplicates == 3
