"""Who may read a user's recommendations and post their events, through the real app on
SQLite and PostgreSQL: the user, an admin (or an admin's service key), and anonymous callers
only while ``anonymous_user_routes`` is on."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core.db.models import Video
from core.db.session import session_scope
from core.settings import Settings
from core.types import VideoStatus
from serving.app import create_app
from tests.account_helpers import make_admin, register, sign_in


def _seed_video(database_url: str) -> int:
    with session_scope(database_url) as session:
        video = Video(title="a ready video", status=VideoStatus.READY)
        session.add(video)
        session.flush()
        return video.id


def _client(data_root: Path, database_url: str, anonymous: bool) -> TestClient:
    settings = Settings(
        data_root=data_root, database_url=database_url, anonymous_user_routes=anonymous
    )
    return TestClient(create_app(settings))


@pytest.fixture
def closed(data_root: Path, database_url: str) -> Iterator[TestClient]:
    """The app with anonymous user routes off."""
    with _client(data_root, database_url, anonymous=False) as client:
        yield client


def _event(user_id: int, video_id: int) -> dict[str, object]:
    return {
        "event_id": uuid.uuid4().hex,
        "type": "play",
        "user_id": user_id,
        "video_id": video_id,
        "timestamp": datetime.now(UTC).isoformat(),
    }


def test_a_user_reads_only_their_own_feed(closed: TestClient, database_url: str) -> None:
    _seed_video(database_url)
    ada = register(closed, "ada")
    bob = register(closed, "bob")
    headers = sign_in(closed, "ada")
    assert closed.get(f"/users/{ada}/home").status_code == 401
    assert closed.get(f"/users/{ada}/home", headers=headers).status_code == 200
    assert closed.get(f"/users/{ada}/recommendations", headers=headers).status_code == 200
    other = closed.get(f"/users/{bob}/recommendations", headers=headers)
    assert other.status_code == 403
    assert f"user {bob}" in other.json()["detail"]
    assert closed.get(f"/users/{bob}/home", headers=headers).status_code == 403


def test_watch_next_and_rerank_are_ordered_only_for_oneself(
    closed: TestClient, database_url: str
) -> None:
    video = _seed_video(database_url)
    ada = register(closed, "ada")
    bob = register(closed, "bob")
    headers = sign_in(closed, "ada")
    assert closed.get(f"/videos/{video}/watch-next").status_code == 200  # nobody's order
    assert (
        closed.get(f"/videos/{video}/watch-next?user_id={ada}", headers=headers).status_code == 200
    )
    assert (
        closed.get(f"/videos/{video}/watch-next?user_id={bob}", headers=headers).status_code == 403
    )
    body = {"user_id": bob, "video_ids": [video]}
    assert closed.post("/rerank", json=body, headers=headers).status_code == 403
    assert closed.post("/rerank", json=body | {"user_id": ada}, headers=headers).status_code == 200


def test_events_only_for_the_signed_in_user(closed: TestClient, database_url: str) -> None:
    video = _seed_video(database_url)
    ada = register(closed, "ada")
    bob = register(closed, "bob")
    headers = sign_in(closed, "ada")
    assert closed.post("/events", json={"events": [_event(ada, video)]}).status_code == 401
    mine = closed.post("/events", json={"events": [_event(ada, video)]}, headers=headers)
    assert mine.status_code == 200 and mine.json()["accepted"] == 1
    mixed = [_event(ada, video), _event(bob, video)]
    refused = closed.post("/events", json={"events": mixed}, headers=headers)
    assert refused.status_code == 403


def test_an_admin_service_key_acts_for_anyone(closed: TestClient, database_url: str) -> None:
    video = _seed_video(database_url)
    ada = register(closed, "ada")
    make_admin(database_url, "ops")
    admin = sign_in(closed, "ops")
    key = closed.post("/me/api-keys", json={"name": "backend"}, headers=admin).json()["key"]
    service = {"X-API-Key": key}
    assert closed.get(f"/users/{ada}/home", headers=service).status_code == 200
    posted = closed.post("/events", json={"events": [_event(ada, video)]}, headers=service)
    assert posted.status_code == 200


def test_open_mode_serves_anonymous_callers_but_still_checks_credentials(
    data_root: Path, database_url: str
) -> None:
    _seed_video(database_url)
    with _client(data_root, database_url, anonymous=True) as client:
        ada = register(client, "ada")
        bob = register(client, "bob")
        assert client.get(f"/users/{bob}/home").status_code == 200
        headers = sign_in(client, "ada")
        assert client.get(f"/users/{ada}/home", headers=headers).status_code == 200
        assert client.get(f"/users/{bob}/home", headers=headers).status_code == 403
        bad = {"Authorization": "Bearer forged"}
        assert client.get(f"/users/{bob}/home", headers=bad).status_code == 401


def test_oversized_bodies_are_refused_with_413(data_root: Path, database_url: str) -> None:
    settings = Settings(data_root=data_root, database_url=database_url, max_body_bytes=2048)
    with TestClient(create_app(settings)) as client:
        big = {"username": "x" * 3000, "password": "long enough"}
        response = client.post("/auth/register", json=big)
        assert response.status_code == 413
        assert "larger than the limit of 2048 bytes" in response.json()["detail"]

        def chunks() -> Iterator[bytes]:
            yield b'{"events": ['
            for _ in range(100):
                yield b" " * 100
            yield b"]}"

        chunked = client.post(
            "/events", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert chunked.status_code == 413
