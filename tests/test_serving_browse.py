"""Browsing ``GET /videos`` through the real app on SQLite and PostgreSQL: filters, the four
sorts, keyset pages that cover everything once (ties included), bad cursors, bounds."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.db.models import InteractionEvent, User
from core.db.session import session_scope
from core.types import EventType, VideoStatus, Visibility
from tests.social_helpers import INJECTIONS, T0, add_channel, add_video, app_client


@pytest.fixture
def world(database_url: str) -> dict[str, Any]:
    """Twelve listed videos (equal publication times and titles in places), premium and
    unlisted, private and processing ones, genres, languages, durations, two channels, plays."""
    with session_scope(database_url) as session:
        session.add(User(id=1, username="owner"))
    ch_a, ch_b = add_channel(database_url, 1, "a"), add_channel(database_url, 1, "b")
    ids: dict[str, int] = {}
    for i in range(12):
        ids[f"v{i}"] = add_video(
            database_url,
            title=f"Same title {i % 3}",
            day=i // 4,  # groups of four share a publication time
            genres=["Comedy", "Drama"] if i % 2 else ["Horror"],
            language="en" if i < 6 else "fr",
            duration_s=60.0 * (i + 1),
            channel_id=ch_a if i < 4 else ch_b,
            premium=i == 5,
        )
    ids["unlisted"] = add_video(database_url, visibility=Visibility.UNLISTED)
    ids["private"] = add_video(database_url, visibility=Visibility.PRIVATE)
    ids["processing"] = add_video(database_url, status=VideoStatus.PROCESSING)
    now = datetime.now(UTC)
    plays = {"v3": 5, "v7": 3, "v9": 3, "v0": 1}
    with session_scope(database_url) as session:
        n = 0
        for name, count in plays.items():
            for _ in range(count):
                n += 1
                session.add(
                    InteractionEvent(
                        event_id=f"e{n}",
                        user_id=1,
                        video_id=ids[name],
                        event_type=EventType.PLAY,
                        event_timestamp=now - timedelta(hours=2),
                    )
                )
        # old plays and other types do not count
        for k in range(9):
            session.add(
                InteractionEvent(
                    event_id=f"old{k}",
                    user_id=1,
                    video_id=ids["v11"],
                    event_type=EventType.PLAY,
                    event_timestamp=now - timedelta(days=9),
                )
            )
            session.add(
                InteractionEvent(
                    event_id=f"imp{k}",
                    user_id=1,
                    video_id=ids["v10"],
                    event_type=EventType.IMPRESSION,
                    event_timestamp=now - timedelta(hours=1),
                )
            )
    return {"ids": ids, "channels": (ch_a, ch_b)}


@pytest.fixture
def client(data_root: Path, database_url: str, world: dict[str, Any]) -> Iterator[TestClient]:
    with app_client(data_root, database_url) as client:
        yield client


def all_pages(client: TestClient, limit: int, **params: Any) -> list[int]:
    """Every id, following next_cursor to the end."""
    seen: list[int] = []
    cursor = None
    for _ in range(100):
        query = {"limit": limit, **params} | ({"cursor": cursor} if cursor else {})
        response = client.get("/videos", params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["items"]) <= limit
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("the cursor never ended")


def listed(world: dict[str, Any]) -> list[int]:
    return [world["ids"][f"v{i}"] for i in range(12)]


def test_cursor_pages_cover_every_listed_video_once(
    client: TestClient, world: dict[str, Any]
) -> None:
    for sort in ("newest", "oldest", "title", "popular"):
        whole = client.get("/videos", params={"sort": sort, "limit": 100}).json()
        assert whole["next_cursor"] is None and whole["total"] == 12
        for limit in (1, 3, 5, 12, 50):
            paged = all_pages(client, limit, sort=sort)
            assert paged == [item["id"] for item in whole["items"]], (sort, limit)
            assert len(set(paged)) == len(paged) == 12
            assert set(paged) == set(listed(world))


def test_sort_orders(client: TestClient, world: dict[str, Any]) -> None:
    ids = world["ids"]
    v = [ids[f"v{i}"] for i in range(12)]
    newest = [i["id"] for i in client.get("/videos", params={"limit": 100}).json()["items"]]
    # publication day descending, then id descending inside a day
    assert newest == v[8:12][::-1] + v[4:8][::-1] + v[0:4][::-1]
    oldest = all_pages(client, 2, sort="oldest")
    assert oldest == v
    titles = client.get("/videos", params={"sort": "title", "limit": 100}).json()["items"]
    keys = [(item["title"], item["id"]) for item in titles]
    assert keys == sorted(keys)
    popular = all_pages(client, 2, sort="popular")
    # plays in the last week: v3 (5), then v9 and v7 (3, higher id first), v0 (1), then by id
    top = [ids["v3"], ids["v9"], ids["v7"], ids["v0"]]
    assert popular[:4] == top
    assert popular[4:] == sorted(set(v) - set(top), reverse=True)


def test_only_listed_videos_and_premium_flag(client: TestClient, world: dict[str, Any]) -> None:
    items = client.get("/videos", params={"limit": 100}).json()["items"]
    ids = {item["id"] for item in items}
    for hidden in ("unlisted", "private", "processing"):
        assert world["ids"][hidden] not in ids
    premium = {item["id"] for item in items if item["premium"]}
    assert premium == {world["ids"]["v5"]}


def filtered(client: TestClient, **params: Any) -> set[int]:
    response = client.get("/videos", params={"limit": 100, **params})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(body["items"])
    return {item["id"] for item in body["items"]}


def test_filters(client: TestClient, world: dict[str, Any]) -> None:
    v = [world["ids"][f"v{i}"] for i in range(12)]
    odd = {v[i] for i in range(1, 12, 2)}
    assert filtered(client, genre="Comedy") == odd
    assert filtered(client, genre="comedy") == odd  # any case
    assert filtered(client, genre="Horror") == set(v) - odd
    assert filtered(client, genre="Western") == set()
    assert filtered(client, language="fr") == set(v[6:])
    assert filtered(client, min_duration_s=120, max_duration_s=240) == set(v[1:4])
    after = (T0 + timedelta(days=1)).isoformat()
    before = (T0 + timedelta(days=2)).isoformat()
    assert filtered(client, published_after=after) == set(v[4:])
    assert filtered(client, published_after=after, published_before=before) == set(v[4:8])
    ch_a, ch_b = world["channels"]
    assert filtered(client, channel_id=ch_a) == set(v[:4])
    both = filtered(client, channel_id=ch_b, genre="Drama", language="en", sort="popular")
    assert both == {v[5]}
    pages = all_pages(client, 1, genre="drama", sort="title")
    assert sorted(pages) == sorted(odd)


def test_injection_strings_in_filters_are_harmless(client: TestClient) -> None:
    for text in INJECTIONS:
        for name in ("genre", "language"):
            value = text[:8] if name == "language" else text
            response = client.get("/videos", params={name: value})
            assert response.status_code == 200, response.text
            assert response.json()["items"] == []
    assert client.get("/videos", params={"limit": 100}).json()["total"] == 12


def _forged(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


BAD_CURSORS = [
    "not a cursor!",
    "e30",  # {}
    _forged({"s": "title", "k": ["x", 1]}),  # made for another sort
    _forged({"s": "newest", "k": ["yesterday", 1]}),
    _forged({"s": "newest", "k": [None, -5]}),
    _forged({"s": "newest", "k": [None, 2**40]}),
    _forged({"s": "newest", "k": ["2026-01-01T00:00:00+00:00"]}),
    _forged({"s": "newest", "k": ["2026-01-01T00:00:00+00:00", "1 OR 1=1"]}),
    _forged(["newest"]),
    base64.urlsafe_b64encode(b"\xff\xfe").decode(),
]


def test_bad_cursors_are_refused(client: TestClient) -> None:
    for cursor in BAD_CURSORS:
        response = client.get("/videos", params={"cursor": cursor})
        assert response.status_code == 400, (cursor, response.text)
        assert "cursor" in response.json()["detail"]


def test_cursor_and_offset(client: TestClient, world: dict[str, Any]) -> None:
    first = client.get("/videos", params={"limit": 5}).json()
    assert first["next_cursor"]
    both = client.get("/videos", params={"cursor": first["next_cursor"], "offset": 5})
    assert both.status_code == 400
    by_offset = client.get("/videos", params={"limit": 5, "offset": 5}).json()
    by_cursor = client.get("/videos", params={"limit": 5, "cursor": first["next_cursor"]}).json()
    assert [i["id"] for i in by_offset["items"]] == [i["id"] for i in by_cursor["items"]]
    assert by_offset["offset"] == 5


BAD_PARAMS: list[dict[str, Any]] = [
    {"sort": "random"},
    {"sort": "newest; DROP TABLE videos"},
    {"genre": "g" * 65},
    {"genre": ""},
    {"language": "l" * 9},
    {"min_duration_s": -1},
    {"max_duration_s": 10**9},
    {"min_duration_s": "nan"},
    {"channel_id": 0},
    {"channel_id": 2**31},
    {"published_after": "not a date"},
    {"cursor": "c" * 2049},
    {"limit": 101},
]


def test_bounds(client: TestClient) -> None:
    for params in BAD_PARAMS:
        response = client.get("/videos", params=params)
        assert response.status_code == 422, (params, response.text)
