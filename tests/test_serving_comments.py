"""Comments through the real app on SQLite and PostgreSQL: threads and their pages, replies,
edits and deletes by their author, others refused, admin moderation, hidden videos."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from core.db.models import Comment, Video
from core.db.session import session_scope
from core.types import Visibility
from serving.comments import FIRST_REPLIES
from tests.account_helpers import make_admin, register, sign_in
from tests.social_helpers import INJECTIONS, add_video, app_client


@pytest.fixture
def client(data_root: Path, database_url: str) -> Iterator[TestClient]:
    with app_client(data_root, database_url) as client:
        yield client


def post(client: TestClient, video: int, headers: dict[str, str], body: str, **extra: Any) -> int:
    response = client.post(
        f"/videos/{video}/comments", json={"body": body, **extra}, headers=headers
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_threads_and_pages(client: TestClient, database_url: str) -> None:
    video = add_video(database_url)
    register(client, "ada")
    a = sign_in(client, "ada")
    tops = [post(client, video, a, f"top {i}") for i in range(7)]
    replies = [post(client, video, a, f"reply {i}", parent_id=tops[0]) for i in range(5)]
    nested = post(client, video, a, "reply to a reply", parent_id=replies[1])
    seen: list[int] = []
    cursor = None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = client.get(f"/videos/{video}/comments", params=params).json()
        seen += [item["id"] for item in page["items"]]
        for item in page["items"]:
            assert item["parent_id"] is None
            if item["id"] == tops[0]:
                assert item["reply_count"] == 6
                assert [r["id"] for r in item["replies"]] == replies[:FIRST_REPLIES]
                assert item["replies"][0]["username"] == "ada"
            else:
                assert item["reply_count"] == 0 and item["replies"] == []
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == tops[::-1]  # newest first, each once
    thread: list[int] = []
    cursor = None
    while True:
        params = {"limit": 4, "parent_id": tops[0]} | ({"cursor": cursor} if cursor else {})
        page = client.get(f"/videos/{video}/comments", params=params).json()
        thread += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert thread == [*replies, nested]  # oldest first; the nested reply joined the thread
    assert (
        client.get(f"/videos/{video}/comments", params={"parent_id": replies[0]}).status_code == 404
    )
    top_cursor = client.get(f"/videos/{video}/comments", params={"limit": 1}).json()["next_cursor"]
    mixed = client.get(
        f"/videos/{video}/comments", params={"parent_id": tops[0], "cursor": top_cursor}
    )
    assert mixed.status_code == 400


def test_posting_rules(client: TestClient, database_url: str) -> None:
    video, other = add_video(database_url), add_video(database_url)
    private = add_video(database_url, visibility=Visibility.PRIVATE)
    register(client, "ada")
    a = sign_in(client, "ada")
    url = f"/videos/{video}/comments"
    assert client.post(url, json={"body": "hi"}).status_code == 401
    for bad in ({"body": ""}, {"body": "  \n "}, {"body": "x" * 5001}, {"body": "hi", "x": 1}):
        assert client.post(url, json=bad, headers=a).status_code == 422
    nul = client.post(url, json={"body": "a\u0000b"}, headers=a)  # PostgreSQL cannot store it
    assert nul.status_code == 422 and "NUL" in nul.text
    assert client.post(url, json={"body": "x" * 5000}, headers=a).status_code == 201
    elsewhere = post(client, other, a, "on the other video")
    wrong = client.post(url, json={"body": "hi", "parent_id": elsewhere}, headers=a)
    assert wrong.status_code == 400 and "not a comment on video" in wrong.json()["detail"]
    assert client.post(url, json={"body": "hi", "parent_id": 999999}, headers=a).status_code == 400
    assert (
        client.post(f"/videos/{private}/comments", json={"body": "hi"}, headers=a).status_code
        == 404
    )
    assert client.get(f"/videos/{private}/comments").status_code == 404
    for text in INJECTIONS:
        post(client, video, a, text)
    bodies = [c["body"] for c in client.get(url, params={"limit": 100}).json()["items"]]
    assert set(INJECTIONS) <= set(bodies)


def test_edit_delete_and_moderation(client: TestClient, database_url: str) -> None:
    video = add_video(database_url)
    register(client, "ada")
    register(client, "bob")
    make_admin(database_url, "root")
    a, b, admin = sign_in(client, "ada"), sign_in(client, "bob"), sign_in(client, "root")
    mine = post(client, video, a, "first take")
    reply = post(client, video, b, "a reply", parent_id=mine)
    edit = client.patch(f"/comments/{mine}", json={"body": "second take"}, headers=a)
    assert edit.status_code == 200 and edit.json()["edited_at"] is not None
    assert edit.json()["body"] == "second take"
    assert client.patch(f"/comments/{mine}", json={"body": "hijack"}, headers=b).status_code == 403
    assert client.patch(f"/comments/{mine}", json={"body": "x"}).status_code == 401
    assert client.delete(f"/comments/{mine}", headers=b).status_code == 403
    assert client.delete(f"/comments/{mine}", headers=a).status_code == 204
    top = client.get(f"/videos/{video}/comments").json()["items"][0]
    assert top["id"] == mine and top["body"] == "[deleted]" and top["deleted"] is True
    assert top["user_id"] is None and top["username"] is None
    assert top["reply_count"] == 1 and top["replies"][0]["body"] == "a reply"  # thread kept
    assert client.patch(f"/comments/{mine}", json={"body": "back"}, headers=a).status_code == 409
    assert client.delete(f"/comments/{reply}", headers=admin).status_code == 204
    thread = client.get(f"/videos/{video}/comments", params={"parent_id": mine}).json()["items"]
    assert thread[0]["body"] == "[removed by a moderator]" and thread[0]["moderated"] is True
    with session_scope(database_url) as session:
        stored = session.scalars(select(Comment).where(Comment.id == reply)).one()
        assert stored.moderated and stored.deleted_at is not None
        assert stored.body == "a reply"  # kept for the record, never shown
    assert client.delete("/comments/999999", headers=a).status_code == 404
    assert client.patch("/comments/0", json={"body": "x"}, headers=a).status_code == 422


def test_comments_of_hidden_videos_are_404(client: TestClient, database_url: str) -> None:
    video = add_video(database_url)
    register(client, "ada")
    a = sign_in(client, "ada")
    comment = post(client, video, a, "hello")
    with session_scope(database_url) as session:
        session.get(Video, video).visibility = Visibility.PRIVATE  # type: ignore[union-attr]
    assert client.get(f"/videos/{video}/comments").status_code == 404
    assert client.patch(f"/comments/{comment}", json={"body": "x"}, headers=a).status_code == 404
    assert client.delete(f"/comments/{comment}", headers=a).status_code == 404
