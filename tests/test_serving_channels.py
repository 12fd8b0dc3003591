"""Channels through the real app on SQLite and PostgreSQL: the channel page and its videos,
the owner's edits, idempotent follow and unfollow (the Follow rows the recommender reads)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from core.db.models import Channel, Follow
from core.db.session import session_scope
from core.types import Visibility
from tests.account_helpers import register, sign_in
from tests.social_helpers import add_video, app_client


@pytest.fixture
def client(data_root: Path, database_url: str) -> Iterator[TestClient]:
    with app_client(data_root, database_url) as client:
        yield client


def own_channel(database_url: str, user_id: int) -> int:
    with session_scope(database_url) as session:
        return session.scalars(select(Channel.id).where(Channel.owner_id == user_id)).one()


def follows(database_url: str) -> set[tuple[int, int]]:
    with session_scope(database_url) as session:
        return {(f.user_id, f.channel_id) for f in session.scalars(select(Follow))}


def test_channel_page_and_videos(client: TestClient, database_url: str) -> None:
    owner = register(client, "maker", role="creator")
    channel = own_channel(database_url, owner)
    listed = [add_video(database_url, f"v{i}", day=i // 2, channel_id=channel) for i in range(5)]
    add_video(database_url, "hidden", channel_id=channel, visibility=Visibility.PRIVATE)
    add_video(database_url, "elsewhere")
    body = client.get(f"/channels/{channel}").json()
    assert body["name"] == "maker" and body["owner_username"] == "maker"
    assert body["video_count"] == 5 and body["follower_count"] == 0
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get(f"/channels/{channel}/videos", params=params).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(listed) and len(seen) == 5
    assert client.get("/channels/999999").status_code == 404
    assert client.get("/channels/999999/videos").status_code == 404
    assert client.get("/channels/0").status_code == 422
    assert client.get(f"/channels/{2**31}").status_code == 422


def test_follow_and_unfollow_are_idempotent(client: TestClient, database_url: str) -> None:
    owner = register(client, "maker", role="creator")
    channel = own_channel(database_url, owner)
    fan = register(client, "fan")
    headers = sign_in(client, "fan")
    assert client.put(f"/channels/{channel}/follow").status_code == 401
    for _ in range(2):
        response = client.put(f"/channels/{channel}/follow", headers=headers)
        assert response.status_code == 200
        assert response.json() == {"channel_id": channel, "following": True, "follower_count": 1}
    assert follows(database_url) == {(fan, channel)}
    assert client.get(f"/channels/{channel}").json()["follower_count"] == 1
    mine = client.get("/me/following", headers=headers).json()
    assert [item["channel_id"] for item in mine["items"]] == [channel] and mine["total"] == 1
    for _ in range(2):
        response = client.delete(f"/channels/{channel}/follow", headers=headers)
        assert response.status_code == 200
        assert response.json()["following"] is False
    assert follows(database_url) == set()
    assert client.get("/me/following", headers=headers).json()["items"] == []
    assert client.put("/channels/999999/follow", headers=headers).status_code == 404
    assert client.get("/me/following").status_code == 401


def test_only_the_owner_edits_a_channel(client: TestClient, database_url: str) -> None:
    owner = register(client, "maker", role="creator")
    channel = own_channel(database_url, owner)
    register(client, "other", role="creator")
    mine, theirs = sign_in(client, "maker"), sign_in(client, "other")
    edit = {"name": "Maker's Shop", "description": "Clips'; DROP TABLE channels; --"}
    assert client.patch(f"/channels/{channel}", json=edit, headers=theirs).status_code == 403
    assert client.patch(f"/channels/{channel}", json=edit).status_code == 401
    response = client.patch(f"/channels/{channel}", json=edit, headers=mine)
    assert response.status_code == 200, response.text
    assert client.get(f"/channels/{channel}").json()["description"] == edit["description"]
    for bad in ({"name": ""}, {"name": "   "}, {"name": "n" * 129}, {"extra": 1}):
        assert client.patch(f"/channels/{channel}", json=bad, headers=mine).status_code == 422
    assert client.get(f"/channels/{channel}").json()["name"] == "Maker's Shop"


def test_a_rename_marks_the_channels_videos_changed(client: TestClient, database_url: str) -> None:
    from core.db.models import Video
    from core.db.session import session_scope

    owner = register(client, "renamer", role="creator")
    channel = own_channel(database_url, owner)
    with session_scope(database_url) as session:
        video = Video(title="clip", channel_id=channel)
        session.add(video)
        session.flush()
        video_id = video.id
    mine = sign_in(client, "renamer")
    assert (
        client.patch(f"/channels/{channel}", json={"name": "New Name"}, headers=mine).status_code
        == 200
    )
    with session_scope(database_url) as session:
        changed = session.get(Video, video_id)
        assert changed is not None and changed.updated_at is not None
