"""``POST /events`` on the real app over SQLite and PostgreSQL: counts, retries, bad input,
the parquet export, the Redis stream sink and the push to the Feast online store."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from core import columns as c
from core.db.models import InteractionEvent, User, Video
from core.db.session import session_scope
from core.eventlog import read_events
from core.settings import Settings
from serving.app import create_app
from training.datasets.event_log import export_event_log

USERS = (1, 2, 3)
VIDEOS = (10, 11, 12)


def seed_catalogue(database_url: str) -> None:
    """Users 1-3 and videos 10-12."""
    with session_scope(database_url) as session:
        session.add_all(User(id=u, username=f"viewer{u}") for u in USERS)
        session.add_all(Video(id=v, title=f"video {v}") for v in VIDEOS)


def event(user: int = 1, video: int = 10, kind: str = "play", **extra: Any) -> dict[str, Any]:
    """One valid client event, stamped now, with a fresh id; ``extra`` overrides fields."""
    body: dict[str, Any] = {
        "event_id": uuid.uuid4().hex,
        "type": kind,
        "user_id": user,
        "video_id": video,
        "timestamp": datetime.now(UTC).isoformat(),
    }
    return body | extra


def stored_count(database_url: str) -> int:
    with session_scope(database_url) as session:
        return session.scalar(select(func.count()).select_from(InteractionEvent)) or 0


@pytest.fixture
def app_settings(settings: Settings, database_url: str) -> Settings:
    seed_catalogue(database_url)
    return settings.model_copy(update={"database_url": database_url, "max_event_batch": 5})


@pytest.fixture
def client(app_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings)) as client:
        yield client


def test_a_batch_is_stored_and_a_retry_is_counted_as_duplicates(
    client: TestClient, database_url: str
) -> None:
    recommendation = uuid.uuid4().hex
    plus_two = datetime.now(timezone(timedelta(hours=2)))
    batch = [
        event(1, 10, "impression", recommendation_id=recommendation),
        event(1, 10, "quality_change", properties={"from": "720p", "to": "1080p", "auto": True}),
        event(2, 11, "progress", watch_seconds=42.5, timestamp=plus_two.isoformat()),
    ]
    before = REGISTRY.get_sample_value("reelrank_events_total", {"outcome": "duplicate"}) or 0
    assert client.post("/events", json={"events": batch}).json() == {
        "accepted": 3,
        "duplicates": 0,
    }
    assert client.post("/events", json={"events": batch}).json() == {
        "accepted": 0,
        "duplicates": 3,
    }
    more = [batch[0], event(3, 12, "complete", session_id="s-1", client_id="ios-17")]
    assert client.post("/events", json={"events": more}).json() == {
        "accepted": 1,
        "duplicates": 1,
    }
    assert stored_count(database_url) == 4
    after = REGISTRY.get_sample_value("reelrank_events_total", {"outcome": "duplicate"})
    assert after == before + 4

    with session_scope(database_url) as session:
        rows = {r.event_id: r for r in session.scalars(select(InteractionEvent))}
    assert rows[batch[0]["event_id"]].recommendation_id == recommendation
    assert rows[batch[1]["event_id"]].properties == {"from": "720p", "to": "1080p", "auto": True}
    progress = rows[batch[2]["event_id"]]
    assert progress.watch_seconds == 42.5
    stamp = progress.event_timestamp
    stamp = stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)  # SQLite keeps naive UTC
    assert stamp == plus_two.replace(microsecond=plus_two.microsecond)
    assert all(r.received_at is not None for r in rows.values())


def _bad_batches() -> dict[str, tuple[object, int, str]]:
    """Case -> (body, expected status, text the message must contain)."""
    now = datetime.now(UTC)
    good = event()
    return {
        "empty": ({"events": []}, 422, "at least 1 item"),
        "oversized": ({"events": [event() for _ in range(6)]}, 413, "at most 5 events; got 6"),
        "no events key": ({"event": [good]}, 422, "Field required"),
        "not a list": ({"events": good}, 422, "valid list"),
        "missing field": ({"events": [good, {**event(), "user_id": None}]}, 422, "valid integer"),
        "unknown field": ({"events": [good, event(colour="red")]}, 422, "Extra inputs"),
        "future": (
            {"events": [good, event(timestamp=(now + timedelta(minutes=10)).isoformat())]},
            422,
            "events[1].timestamp",
        ),
        "too old": (
            {"events": [good, event(timestamp=(now - timedelta(days=40)).isoformat())]},
            422,
            "older than 30 days",
        ),
        "naive time": ({"events": [good, event(timestamp="2024-01-01T00:00:00")]}, 422, "timezone"),
        "unknown user": ({"events": [good, event(user=999)]}, 422, "unknown user ids: 999"),
        "unknown video": (
            {"events": [good, event(video=777), event(video=778)]},
            422,
            "unknown video ids: 777, 778",
        ),
        "like is not a client type": ({"events": [good, event(kind="like")]}, 422, "'like'"),
        "unknown type": ({"events": [good, event(kind="teleport")]}, 422, "type"),
        "bad recommendation id": (
            {"events": [good, event(recommendation_id="not-hex")]},
            422,
            "recommendation_id",
        ),
        "short event id": ({"events": [good, event(event_id="abc")]}, 422, "event_id"),
        "repeated event id": ({"events": [good, good]}, 422, "repeats events[0]"),
        "negative watch": ({"events": [good, event(watch_seconds=-1)]}, 422, "watch_seconds"),
        "nested properties": (
            {"events": [good, event(properties={"seek": {"from": 1}})]},
            422,
            "properties",
        ),
        "too many properties": (
            {"events": [good, event(properties={f"k{i}": i for i in range(17)})]},
            422,
            "properties",
        ),
        "huge id": ({"events": [good, event(video=2**31)]}, 422, "video_id"),
    }


def test_every_bad_batch_gets_a_4xx_with_a_message_and_stores_nothing(
    client: TestClient, database_url: str
) -> None:
    for case, (body, status, text) in _bad_batches().items():
        response = client.post("/events", json=body)
        assert response.status_code == status, (case, response.text)
        assert text in response.text, (case, response.text)
    response = client.post(
        "/events", content=b'{"events": [', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422 and "JSON" in response.text
    assert stored_count(database_url) == 0


def test_the_parquet_export_holds_the_posted_events(
    client: TestClient, database_url: str, tmp_path: Path
) -> None:
    batch = [event(1, 10, "play", watch_seconds=30.0), event(2, 12, "rebuffer")]
    assert client.post("/events", json={"events": batch}).json()["accepted"] == 2
    path = tmp_path / "events.parquet"
    assert export_event_log(database_url, path) == 2
    frame = read_events(path).set_index(c.EVENT_ID)
    first = frame.loc[batch[0]["event_id"]]
    assert (first[c.USER_ID], first[c.VIDEO_ID], first[c.EVENT_TYPE]) == (1, 10, "play")
    assert first[c.WATCH_SECONDS] == 30.0
    assert first[c.EVENT_TIMESTAMP] == pd.Timestamp(batch[0]["timestamp"])
    assert frame.loc[batch[1]["event_id"], c.EVENT_TYPE] == "rebuffer"


@pytest.mark.redis
def test_the_redis_stream_sink_counts_retries_once_and_copies_to_the_catalogue(
    app_settings: Settings, database_url: str, redis_url: str
) -> None:
    settings = app_settings.model_copy(update={"event_sink": "redis", "redis_url": redis_url})
    batch = [event(1, 10), event(2, 11, "seek", properties={"from": 10, "to": 95})]
    with TestClient(create_app(settings)) as client:
        assert client.post("/events", json={"events": batch}).json() == {
            "accepted": 2,
            "duplicates": 0,
        }
        retry = [*batch, event(3, 12)]
        assert client.post("/events", json={"events": retry}).json() == {
            "accepted": 1,
            "duplicates": 2,
        }
        assert client.post("/events", json={"events": [event(user=999)]}).status_code == 422
        deadline = time.monotonic() + 10
        while stored_count(database_url) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert stored_count(database_url) == 3
    with session_scope(database_url) as session:
        seek = session.get(InteractionEvent, batch[1]["event_id"])
        assert seek is not None and seek.properties == {"from": 10, "to": 95}


@pytest.mark.slow
def test_posted_events_reach_the_online_store_within_five_seconds(
    app_settings: Settings, database_url: str
) -> None:
    from features import schema as s
    from features.build import build_tables
    from features.online import OnlineFeatures
    from features.store import apply, materialize, write_store_config
    from tests.event_rows import event_row

    repo = app_settings.paths.features
    old = [event_row(2, 11, "play", "2024-05-01T10:00Z", watch=60)]
    videos = pd.DataFrame(
        {
            c.VIDEO_ID: list(VIDEOS),
            "genres": [["Drama"]] * 3,
            "language": ["en"] * 3,
            "duration_s": [600.0] * 3,
            "published_at": pd.to_datetime(["2024-04-01T00:00Z"] * 3, utc=True).as_unit("us"),
            "created_at": pd.to_datetime(["2024-04-01T00:00Z"] * 3, utc=True).as_unit("us"),
        }
    )
    tables = build_tables(pd.DataFrame(old), videos, repo / s.TABLES_DIR)
    write_store_config(repo, "sqlite", None)
    apply(repo)
    materialize(repo, end=tables.as_of)
    online = OnlineFeatures(repo, check_every_s=0.0)
    assert online.features_for(1, [10]).iloc[0][s.USER_EVENTS_TOTAL] == 0  # the default

    batch = [event(1, 10, "play", watch_seconds=120.0), event(1, 11), event(1, 12, "complete")]
    with TestClient(create_app(app_settings)) as client:
        assert client.post("/events", json={"events": batch}).json()["accepted"] == 3
        answered = time.monotonic()
        total = 0.0
        while time.monotonic() - answered < 5:
            total = online.features_for(1, [10]).iloc[0][s.USER_EVENTS_TOTAL]
            if total == 3:
                break
            time.sleep(0.05)
        assert total == 3, "the push did not land within 5 s of the response"
        features = online.features_for(1, [10]).iloc[0]
        assert features["user_watch_minutes_1d"] == 2.0
