"""Playlists through the real app on SQLite and PostgreSQL: CRUD, items and positions,
reorder permutation rules (under the unique position constraint), share links and their
revocation, privacy (others' private playlists are 404), ``like`` events, bounds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from core.db.models import InteractionEvent, PlaylistItem, Video
from core.db.session import session_scope
from core.types import EventType, Visibility
from tests.account_helpers import register, sign_in
from tests.social_helpers import INJECTIONS, add_video, app_client


@pytest.fixture
def client(data_root: Path, database_url: str) -> Iterator[TestClient]:
    with app_client(data_root, database_url) as client:
        yield client


@pytest.fixture
def people(client: TestClient) -> dict[str, Any]:
    ids = {name: register(client, name) for name in ("ada", "bob")}
    return {"ids": ids, "ada": sign_in(client, "ada"), "bob": sign_in(client, "bob")}


def create(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post("/playlists", json={"title": "mix", **body}, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def add(client: TestClient, headers: dict[str, str], pid: int, video: int, **extra: Any) -> Any:
    return client.post(
        f"/playlists/{pid}/items", json={"video_id": video, **extra}, headers=headers
    )


def order(client: TestClient, pid: int, headers: dict[str, str]) -> list[int]:
    items = client.get(f"/playlists/{pid}", headers=headers).json()["items"]
    assert [item["position"] for item in items] == list(range(len(items)))
    return [item["video_id"] for item in items]


def test_crud_and_listing(client: TestClient, people: dict[str, Any]) -> None:
    a = people["ada"]
    made = create(client, a, description="d")
    assert made["visibility"] == "private" and made["items"] == [] and made["shared"] is False
    pid = made["id"]
    edited = client.patch(
        f"/playlists/{pid}", json={"title": "Road trip", "visibility": "public"}, headers=a
    ).json()
    assert edited["title"] == "Road trip" and edited["visibility"] == "public"
    assert edited["updated_at"] >= made["updated_at"]
    second = create(client, a, title=INJECTIONS[1])
    mine = client.get("/me/playlists", headers=a).json()
    assert [p["id"] for p in mine["items"]] == [second["id"], pid] and mine["total"] == 2
    assert client.get(f"/playlists/{second['id']}", headers=a).json()["title"] == INJECTIONS[1]
    assert client.delete(f"/playlists/{pid}", headers=a).status_code == 204
    assert client.get(f"/playlists/{pid}", headers=a).status_code == 404
    assert client.get("/me/playlists", headers=a).json()["total"] == 1
    assert client.post("/playlists", json={"title": "x"}).status_code == 401


def test_items_positions_and_like_events(
    client: TestClient, database_url: str, people: dict[str, Any]
) -> None:
    a = people["ada"]
    v = [add_video(database_url, f"v{i}") for i in range(5)]
    private = add_video(database_url, visibility=Visibility.PRIVATE)
    unlisted = add_video(database_url, visibility=Visibility.UNLISTED)
    pid = create(client, a)["id"]
    for video in v[:3]:
        assert add(client, a, pid, video).status_code == 201
    assert add(client, a, pid, v[3], position=0).status_code == 201
    assert add(client, a, pid, v[4], position=2).status_code == 201
    assert add(client, a, pid, unlisted, position=999).status_code == 201  # clamped to the end
    assert order(client, pid, a) == [v[3], v[0], v[4], v[1], v[2], unlisted]
    assert add(client, a, pid, v[0]).status_code == 409  # once per playlist
    assert add(client, a, pid, private).status_code == 404
    assert add(client, a, pid, 999999).status_code == 404
    assert client.delete(f"/playlists/{pid}/items/{v[4]}", headers=a).status_code == 200
    assert order(client, pid, a) == [v[3], v[0], v[1], v[2], unlisted]
    assert client.delete(f"/playlists/{pid}/items/{v[4]}", headers=a).status_code == 404
    with session_scope(database_url) as session:
        likes = list(
            session.scalars(
                select(InteractionEvent).where(InteractionEvent.event_type == EventType.LIKE)
            )
        )
    assert sorted(e.video_id for e in likes) == sorted([*v, unlisted])
    assert {e.user_id for e in likes} == {people["ids"]["ada"]}
    assert len({e.event_id for e in likes}) == len(likes)


def test_reorder_rules(client: TestClient, database_url: str, people: dict[str, Any]) -> None:
    a = people["ada"]
    v = [add_video(database_url, f"v{i}") for i in range(6)]
    pid = create(client, a)["id"]
    for video in v:
        add(client, a, pid, video)
    url = f"/playlists/{pid}/order"
    new = [v[5], v[0], v[3], v[1], v[4], v[2]]
    response = client.put(url, json={"video_ids": new}, headers=a)
    assert response.status_code == 200, response.text
    assert order(client, pid, a) == new
    reversed_ = new[::-1]
    assert client.put(url, json={"video_ids": reversed_}, headers=a).status_code == 200
    assert order(client, pid, a) == reversed_
    for bad in (new[:-1], [*new, v[0]], [*new[:-1], 999999], [new[0]] * 6):
        response = client.put(url, json={"video_ids": bad}, headers=a)
        assert response.status_code == 400, bad
        assert "video_ids" in response.json()["detail"]
    assert order(client, pid, a) == reversed_  # untouched by refusals
    assert client.put(url, json={"video_ids": [0]}, headers=a).status_code == 422
    too_many = {"video_ids": list(range(1, 5002))}
    assert client.put(url, json=too_many, headers=a).status_code == 422
    with session_scope(database_url) as session:
        positions = session.scalars(
            select(PlaylistItem.position).where(PlaylistItem.playlist_id == pid)
        ).all()
    assert sorted(positions) == list(range(6))


def test_privacy(client: TestClient, database_url: str, people: dict[str, Any]) -> None:
    a, b = people["ada"], people["bob"]
    video = add_video(database_url)
    private = create(client, a)["id"]
    public = create(client, a, visibility="public")["id"]
    unlisted = create(client, a, visibility="unlisted")["id"]
    for headers in (b, {}):
        assert client.get(f"/playlists/{private}", headers=headers).status_code == 404
        assert client.get(f"/playlists/{public}", headers=headers).status_code == 200
        assert client.get(f"/playlists/{unlisted}", headers=headers).status_code == 200
    # changes by others: 404 where the playlist is hidden from them, 403 where it is visible
    assert client.patch(f"/playlists/{private}", json={"title": "x"}, headers=b).status_code == 404
    assert client.patch(f"/playlists/{public}", json={"title": "x"}, headers=b).status_code == 403
    assert add(client, b, private, video).status_code == 404
    assert add(client, b, public, video).status_code == 403
    assert client.delete(f"/playlists/{private}", headers=b).status_code == 404
    assert client.post(f"/playlists/{private}/share", headers=b).status_code == 404
    assert client.get(f"/playlists/{public}", headers=b).json()["shared"] is False
    assert client.get("/me/playlists", headers=b).json()["items"] == []


def test_share_links(client: TestClient, database_url: str, people: dict[str, Any]) -> None:
    a, b = people["ada"], people["bob"]
    video = add_video(database_url)
    pid = create(client, a, title="secret mix")["id"]
    add(client, a, pid, video)
    link = client.post(f"/playlists/{pid}/share", headers=a).json()
    assert len(link["share_token"]) == 43
    assert client.post(f"/playlists/{pid}/share", headers=a).json() == link  # same link again
    assert client.get(f"/playlists/{pid}", headers=a).json()["shared"] is True
    opened = client.get(link["path"], headers=b).json()
    assert opened["title"] == "secret mix" and [i["video_id"] for i in opened["items"]] == [video]
    assert client.get(link["path"]).status_code == 200  # anonymous with the link
    assert client.get(f"/playlists/{pid}", headers=b).status_code == 404  # not without it
    assert client.delete(f"/playlists/{pid}/share", headers=a).status_code == 204
    assert client.get(link["path"], headers=b).status_code == 404
    again = client.post(f"/playlists/{pid}/share", headers=a).json()
    assert again["share_token"] != link["share_token"]
    assert client.get("/playlists/shared/short").status_code == 422
    assert client.get("/playlists/shared/" + "'" * 43).status_code == 422
    assert client.get("/playlists/shared/" + "A" * 43).status_code == 404


def test_unavailable_videos_stay_listed_as_unavailable(
    client: TestClient, database_url: str, people: dict[str, Any]
) -> None:
    a = people["ada"]
    video = add_video(database_url, "soon gone")
    pid = create(client, a)["id"]
    add(client, a, pid, video)
    with session_scope(database_url) as session:
        session.get(Video, video).visibility = Visibility.PRIVATE  # type: ignore[union-attr]
    item = client.get(f"/playlists/{pid}", headers=a).json()["items"][0]
    assert item == {
        "position": 0,
        "video_id": video,
        "available": False,
        "title": None,
        "duration_s": None,
    }


def test_bounds(client: TestClient, people: dict[str, Any]) -> None:
    a = people["ada"]
    for bad in (
        {"title": ""},
        {"title": " "},
        {"title": "t" * 257},
        {"title": "t", "description": "d" * 5001},
        {"title": "t", "visibility": "secret"},
        {"title": "t", "user_id": 2},
    ):
        assert client.post("/playlists", json=bad, headers=a).status_code == 422, bad
    pid = create(client, a)["id"]
    for bad_item in ({"video_id": 0}, {"video_id": 2**31}, {"video_id": 1, "position": -1}):
        response = client.post(f"/playlists/{pid}/items", json=bad_item, headers=a)
        assert response.status_code == 422, bad_item
    assert client.get("/playlists/0").status_code == 422
    assert client.get("/me/playlists", params={"limit": 1000}, headers=a).status_code == 422
