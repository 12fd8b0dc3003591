"""Ratings through the real app on SQLite and PostgreSQL: upsert, change, average, removal,
the ``rate`` events in the log, concurrent upserts, bounds."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from core.db.models import InteractionEvent, Rating
from core.db.session import session_scope
from core.types import EventType, Visibility
from tests.account_helpers import register, sign_in
from tests.social_helpers import add_video, app_client


@pytest.fixture
def client(data_root: Path, database_url: str) -> Iterator[TestClient]:
    with app_client(data_root, database_url) as client:
        yield client


def rate_events(database_url: str) -> list[tuple[int, int, float | None, str]]:
    with session_scope(database_url) as session:
        rows = session.scalars(
            select(InteractionEvent)
            .where(InteractionEvent.event_type == EventType.RATE)
            .order_by(InteractionEvent.event_timestamp)
        )
        return [(e.user_id, e.video_id, e.value, e.event_id) for e in rows]


def test_rate_change_average_and_events(client: TestClient, database_url: str) -> None:
    video = add_video(database_url)
    ada, bob = register(client, "ada"), register(client, "bob")
    a, b = sign_in(client, "ada"), sign_in(client, "bob")
    url = f"/videos/{video}/rating"
    assert client.get(url).json() == {"video_id": video, "value": None, "average": None, "count": 0}
    assert client.put(url, json={"value": 4.5}, headers=a).json()["value"] == 4.5
    changed = client.put(url, json={"value": 2.0}, headers=a).json()
    assert changed == {"video_id": video, "value": 2.0, "average": 2.0, "count": 1}
    client.put(url, json={"value": 5}, headers=b)
    assert client.get(url, headers=a).json() == {
        "video_id": video,
        "value": 2.0,
        "average": 3.5,
        "count": 2,
    }
    assert client.get(url).json()["value"] is None  # anonymous: no own rating
    with session_scope(database_url) as session:
        assert session.query(Rating).count() == 2
    events = rate_events(database_url)
    assert [(u, v, value) for u, v, value, _ in events] == [
        (ada, video, 4.5),
        (ada, video, 2.0),
        (bob, video, 5.0),
    ]
    assert len({event_id for *_, event_id in events}) == 3
    assert client.delete(url, headers=a).status_code == 204
    assert client.delete(url, headers=a).status_code == 204
    assert client.get(url, headers=a).json() == {
        "video_id": video,
        "value": None,
        "average": 5.0,
        "count": 1,
    }
    assert len(rate_events(database_url)) == 3  # history stays


def test_concurrent_upserts_keep_one_row(client: TestClient, database_url: str) -> None:
    video = add_video(database_url)
    register(client, "ada")
    headers = sign_in(client, "ada")
    values = [0.5 * (i % 10 + 1) for i in range(16)]
    with ThreadPoolExecutor(8) as pool:
        codes = list(
            pool.map(
                lambda v: (
                    client.put(
                        f"/videos/{video}/rating", json={"value": v}, headers=headers
                    ).status_code
                ),
                values,
            )
        )
    assert set(codes) <= {200, 503}  # SQLite may answer "busy, retry"; never a 500
    assert codes.count(200) >= 1
    with session_scope(database_url) as session:
        rows = list(session.scalars(select(Rating)))
    assert len(rows) == 1 and rows[0].value in values
    assert len(rate_events(database_url)) == codes.count(200)


def test_refusals_and_bounds(client: TestClient, database_url: str) -> None:
    video = add_video(database_url)
    private = add_video(database_url, visibility=Visibility.PRIVATE)
    register(client, "ada")
    headers = sign_in(client, "ada")
    url = f"/videos/{video}/rating"
    assert client.put(url, json={"value": 3}).status_code == 401
    for bad in (0, 0.25, 5.5, 3.3, -1, "five", None, "NaN"):
        response = client.put(url, json={"value": bad}, headers=headers)
        assert response.status_code == 422, (bad, response.text)
    assert client.put(url, json={"value": 3, "user_id": 9}, headers=headers).status_code == 422
    hidden = client.put(f"/videos/{private}/rating", json={"value": 3}, headers=headers)
    assert hidden.status_code == 404
    assert client.get(f"/videos/{private}/rating").status_code == 404
    assert (
        client.put("/videos/999999/rating", json={"value": 3}, headers=headers).status_code == 404
    )
    assert rate_events(database_url) == []
