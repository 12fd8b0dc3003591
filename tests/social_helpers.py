"""Helpers of the browse, channel, comment, rating and playlist tests: the real app on a
catalogue of both engines, and videos written straight to it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from core.db.models import Channel, Video
from core.db.session import session_scope
from core.settings import Settings
from core.types import VideoStatus, Visibility
from serving.app import create_app

#: A fixed publication time the test videos count from.
T0 = datetime(2026, 1, 1, tzinfo=UTC)

#: Filter values that would break a query built by string pasting.
INJECTIONS = ["' OR 1=1 --", "x'); DROP TABLE videos; --", '"; SELECT pg_sleep(5); --', "%_%"]


@contextmanager
def app_client(data_root: Path, database_url: str) -> Iterator[TestClient]:
    """The real app (lifespan run, so the event sink is open) on ``database_url``."""
    settings = Settings(data_root=data_root, database_url=database_url)
    with TestClient(create_app(settings)) as client:
        yield client


def add_channel(database_url: str, owner_id: int, name: str = "chan") -> int:
    """A channel of ``owner_id``; its id."""
    with session_scope(database_url) as session:
        channel = Channel(owner_id=owner_id, name=name, description="about")
        session.add(channel)
        session.flush()
        return channel.id


def add_video(database_url: str, title: str = "clip", day: float = 0, **fields: Any) -> int:
    """A ready, public video published ``day`` days after ``T0`` (fields override); its id."""
    values: dict[str, Any] = {
        "title": title,
        "status": VideoStatus.READY,
        "visibility": Visibility.PUBLIC,
        "published_at": T0 + timedelta(days=day),
    } | fields
    with session_scope(database_url) as session:
        video = Video(**values)
        session.add(video)
        session.flush()
        return video.id
