"""Hybrid search through the real app on SQLite and PostgreSQL: ranking, typo tolerance,
meaning without shared words, filters, boosts, the index following the catalogue, hostile
queries and bounds."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from core.db.models import Channel, InteractionEvent, User, Video, utcnow
from core.db.session import session_scope
from core.settings import Settings
from core.types import EventType, VideoStatus, Visibility
from serving.app import create_app
from tests.account_helpers import register, sign_in

NOW = datetime.now(UTC)

CATALOGUE: dict[str, dict[str, Any]] = {
    "istanbul": {"title": "Cats of Istanbul", "genres": ["Documentary"], "duration_s": 4800.0},
    "kitchen": {
        "title": "Grandma's Table",
        "description": "Baking bread, simmering soups and roasting vegetables at home.",
        "tags": ["recipes", "baking"],
        "genres": ["Cooking"],
        "duration_s": 1500.0,
    },
    "space": {
        "title": "The Iron Comet",
        "description": "Astronauts and robots aboard a starship far from Earth.",
        "genres": ["Sci-Fi"],
        "duration_s": 5400.0,
    },
    "haunted": {"title": "Midnight Harbor", "genres": ["Horror"], "duration_s": 5000.0},
    "harbor2": {"title": "Midnight Harbor", "genres": ["Drama"], "duration_s": 5000.0},
    "private": {"title": "Private Cats", "visibility": Visibility.PRIVATE},
    "draft": {"title": "Cats in progress", "status": VideoStatus.PROCESSING},
}


def _seed(database_url: str) -> dict[str, int]:
    with session_scope(database_url) as session:
        owner = User(username="maker")
        session.add(owner)
        session.flush()
        channel = Channel(owner_id=owner.id, name="Harbor Films")
        session.add(channel)
        session.flush()
        rows = {}
        for key, fields in CATALOGUE.items():
            values = {"status": VideoStatus.READY, "published_at": NOW - timedelta(days=400)}
            values |= fields
            rows[key] = Video(channel_id=channel.id, **values)
        rows["harbor2"].published_at = NOW - timedelta(days=1)  # the newer twin
        session.add_all(rows.values())
        session.flush()
        return {key: video.id for key, video in rows.items()}


@pytest.fixture
def world(data_root: Path, database_url: str) -> Iterator[tuple[TestClient, dict[str, int]]]:
    ids = _seed(database_url)
    settings = Settings(data_root=data_root, database_url=database_url)
    with TestClient(create_app(settings)) as client:
        yield client, ids


def _ids(client: TestClient, **params: Any) -> list[int]:
    response = client.get("/search", params=params)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def _eventually(check: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the search index did not follow in time"
        time.sleep(0.2)


def test_exact_title_first_and_typos_tolerated(world: tuple[TestClient, dict[str, int]]) -> None:
    client, ids = world
    assert _ids(client, q="Cats of Istanbul")[0] == ids["istanbul"]
    assert _ids(client, q="Istambul")[0] == ids["istanbul"]  # one edit
    assert _ids(client, q="astronuats")[0] == ids["space"]  # a transposition
    assert ids["istanbul"] in _ids(client, q="harbr films")  # the creator's name


def test_private_and_unready_videos_never_appear(
    world: tuple[TestClient, dict[str, int]],
) -> None:
    client, ids = world
    found = set(_ids(client, q="cats", limit=100))
    assert found == {ids["istanbul"]}


def test_filters(world: tuple[TestClient, dict[str, int]]) -> None:
    client, ids = world
    assert _ids(client, q="midnight", genre="horror") == [ids["haunted"]]
    assert set(_ids(client, q="midnight", max_duration_s=5000)) == {
        ids["haunted"],
        ids["harbor2"],
    }
    assert _ids(client, q="midnight", min_duration_s=5001) == []
    week_ago = (NOW - timedelta(days=7)).isoformat()
    assert _ids(client, q="midnight", published_after=week_ago) == [ids["harbor2"]]
    assert _ids(client, q="midnight", published_before=week_ago) == [ids["haunted"]]
    bad = client.get("/search", params={"q": "x", "min_duration_s": 10, "max_duration_s": 5})
    assert bad.status_code == 400 and "min_duration_s" in bad.json()["detail"]


def _plays(database_url: str, user_id: int, video_id: int, n: int = 5) -> None:
    """``n`` plays of ``video_id`` by ``user_id`` in the last minutes, in the catalogue."""
    with session_scope(database_url) as session:
        session.add_all(
            InteractionEvent(
                event_id=uuid.uuid4().hex,
                user_id=user_id,
                video_id=video_id,
                event_type=EventType.PLAY,
                event_timestamp=NOW - timedelta(minutes=minutes),
            )
            for minutes in range(n)
        )


def test_recency_and_the_viewers_genres_lift_equal_matches(
    world: tuple[TestClient, dict[str, int]], database_url: str
) -> None:
    client, ids = world
    assert _ids(client, q="midnight harbor")[:2] == [ids["harbor2"], ids["haunted"]]
    viewer = register(client, "fan")
    _plays(database_url, viewer, ids["haunted"])
    headers = sign_in(client, "fan")
    response = client.get("/search", params={"q": "midnight harbor"}, headers=headers)
    assert [item["id"] for item in response.json()["items"]][:2] == [
        ids["haunted"],
        ids["harbor2"],
    ]


@pytest.mark.slow
def test_the_genre_affinity_comes_from_the_feature_store(
    world: tuple[TestClient, dict[str, int]], database_url: str, data_root: Path
) -> None:
    """The catalogue says the viewer plays dramas, the feature store's ``user_taste`` says
    horror: the store decides (a new account without a taste row falls back to the
    catalogue, as in the test above)."""
    import pandas as pd

    from core.eventlog import write_events
    from features.store import sync_features
    from tests.event_rows import event_row

    client, ids = world
    viewer = register(client, "feastfan")
    _plays(database_url, viewer, ids["harbor2"])
    day = (NOW - timedelta(days=2)).strftime("%Y-%m-%dT%H:%MZ")
    events = pd.DataFrame([event_row(viewer, ids["haunted"], "play", day, watch=60)])
    settings = Settings(data_root=data_root, database_url=database_url)
    sync_features(
        write_events(events, settings.paths.events_file),
        settings.paths,
        database_url=database_url,
    )
    headers = sign_in(client, "feastfan")
    response = client.get("/search", params={"q": "midnight harbor"}, headers=headers)
    assert [item["id"] for item in response.json()["items"]][:2] == [
        ids["haunted"],
        ids["harbor2"],
    ]


def test_the_index_follows_new_edited_and_removed_videos(
    world: tuple[TestClient, dict[str, int]], database_url: str
) -> None:
    client, ids = world
    with session_scope(database_url) as session:
        fresh = Video(title="Zebras of Nairobi", status=VideoStatus.READY, published_at=NOW)
        session.add(fresh)
        session.flush()
        fresh_id = fresh.id
    _eventually(lambda: _ids(client, q="zebras") == [fresh_id])
    with session_scope(database_url) as session:
        video = session.get(Video, ids["space"])
        assert video is not None
        video.title, video.updated_at = "The Velvet Lantern", utcnow()
    _eventually(lambda: _ids(client, q="velvet lantern")[:1] == [ids["space"]])
    with session_scope(database_url) as session:
        gone = session.get(Video, fresh_id)
        hidden = session.get(Video, ids["istanbul"])
        assert gone is not None and hidden is not None
        session.delete(gone)
        hidden.visibility, hidden.updated_at = Visibility.PRIVATE, utcnow()
    _eventually(lambda: _ids(client, q="zebras") == [] and _ids(client, q="istanbul") == [])


@pytest.mark.parametrize(
    "query",
    [
        "' OR 1=1 --",
        '"; DROP TABLE videos; --',
        "title:cats AND (",
        "cats~2",
        "cats*",
        '\\"',
        "ĉàṫś 猫",
        "a" * 200,
    ],
)
def test_hostile_queries_are_plain_text(
    world: tuple[TestClient, dict[str, int]], database_url: str, query: str
) -> None:
    client, _ = world
    response = client.get("/search", params={"q": query})
    assert response.status_code in (200, 400), response.text
    with session_scope(database_url) as session:
        assert session.scalar(select(func.count()).select_from(Video)) == len(CATALOGUE)


def test_suggest_completes_titles_and_channels(world: tuple[TestClient, dict[str, int]]) -> None:
    client, _ = world
    body = client.get("/search/suggest", params={"q": "mid"}).json()
    assert body["suggestions"] == ["Midnight Harbor"]
    assert (
        "Harbor Films" in client.get("/search/suggest", params={"q": "HARB"}).json()["suggestions"]
    )
    assert (
        "Private Cats"
        not in client.get("/search/suggest", params={"q": "pri"}).json()["suggestions"]
    )
    # nothing starts with a misspelling: the best typo-tolerant title matches instead
    typo = client.get("/search/suggest", params={"q": "midnigth harbr"}).json()
    assert typo["suggestions"][0] == "Midnight Harbor"  # the others match the channel's name
    assert len(typo["suggestions"]) == len(set(typo["suggestions"]))
    assert client.get("/search/suggest", params={"q": "zzzzqqq"}).json()["suggestions"] == []
    privately = client.get("/search/suggest", params={"q": "privte cats"}).json()["suggestions"]
    assert "Private Cats" not in privately and privately[0] == "Cats of Istanbul"


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": ""},
        {"q": "x" * 201},
        {"q": "x", "limit": 0},
        {"q": "x", "limit": 101},
        {"q": "x", "offset": 401},
        {"q": "x", "min_duration_s": -1},
        {"q": "x", "published_after": "yesterday"},
        {"q": "x", "published_after": "2026-01-01T00:00:00"},
        {"q": "x", "mode": "fuzzy"},
        {"q": "x", "genre": "g" * 65},
    ],
)
def test_bounds(world: tuple[TestClient, dict[str, int]], params: dict[str, Any]) -> None:
    client, _ = world
    response = client.get("/search", params=params)
    assert response.status_code == 422
    assert response.json()["detail"]


def test_meaning_without_shared_words_needs_the_semantic_half(
    data_root: Path, sqlite_url: str
) -> None:
    ids = _seed(sqlite_url)
    settings = Settings(data_root=data_root, database_url=sqlite_url, search_semantic=True)
    with TestClient(create_app(settings)) as client:
        _eventually(lambda: client.app.state.search.semantic_ready, seconds=120)
        query = "how to cook tasty meals"
        lexical = client.get("/search", params={"q": query, "mode": "lexical"}).json()
        assert lexical["mode"] == "lexical" and ids["kitchen"] not in [
            i["id"] for i in lexical["items"]
        ]
        hybrid = client.get("/search", params={"q": query}).json()
        assert hybrid["mode"] == "hybrid"
        assert hybrid["items"][0]["id"] == ids["kitchen"]
        assert hybrid["items"][0]["semantic_rank"] == 1
        spaceship = client.get("/search", params={"q": "spaceship voyage"}).json()
        assert spaceship["items"][0]["id"] == ids["space"]
