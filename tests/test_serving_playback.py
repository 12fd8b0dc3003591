"""Playback sessions through the real app on SQLite and PostgreSQL: who may watch private and
premium videos, device limits (refused, then freed by ending a session or a lapsed lease),
heartbeats, and the session-bound tokens that stop with their session."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from core.db.models import InteractionEvent, PlaybackSession, utcnow
from core.db.session import session_scope
from core.types import EventType
from tests.streaming_world import World, build_package, make_world, uris


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_package(tmp_path_factory.mktemp("hls"))


@pytest.fixture
def world(package: Path, data_root: Path, database_url: str) -> Iterator[World]:
    yield make_world(package, data_root, database_url)


def _start(world: World, who: str, video: str, device: str = "phone") -> dict[str, object]:
    response = world.client.post(
        f"/videos/{world.videos[video]}/playback",
        json={"device_id": device},
        headers=world.headers[who],
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def _segment(world: World, manifest_url: str) -> str:
    """The first video segment URL reached from a session's manifest URL (no credentials)."""
    master = world.client.get(manifest_url)
    assert master.status_code == 200, master.text
    variant = next(u for u in uris(master.text) if "90p/index.m3u8" in u)
    playlist = world.client.get(variant)
    assert playlist.status_code == 200, playlist.text
    return next(u for u in uris(playlist.text) if ".m4s" in u)


def test_private_videos_are_for_their_owner_and_admins(world: World) -> None:
    client, video_id = world.client, world.videos["private"]
    assert client.get(f"/videos/{video_id}/manifest.m3u8").status_code == 404
    for who in ("viewer", "gold"):
        response = client.post(
            f"/videos/{video_id}/playback", json={"device_id": "tv"}, headers=world.headers[who]
        )
        assert response.status_code == 404
        assert response.json()["detail"] == f"video {video_id} not found"
    owner_master = client.get(f"/videos/{video_id}/manifest.m3u8", headers=world.headers["owner"])
    assert owner_master.status_code == 403
    assert "POST /videos/" in owner_master.json()["detail"]
    for who in ("owner", "admin"):
        started = _start(world, who, "private")
        segment = _segment(world, str(started["manifest_url"]))
        assert client.get(segment).status_code == 200


def test_premium_videos_need_the_premium_plan(world: World) -> None:
    client, video_id = world.client, world.videos["premium"]
    anonymous = client.get(f"/videos/{video_id}/manifest.m3u8")
    assert anonymous.status_code == 401 and "premium" in anonymous.json()["detail"]
    refused = client.post(
        f"/videos/{video_id}/playback", json={"device_id": "tv"}, headers=world.headers["viewer"]
    )
    assert refused.status_code == 403
    assert refused.json()["detail"] == (
        f"video {video_id} needs the premium plan; yours is 'free' (see /me/plan)"
    )
    started = _start(world, "gold", "premium")
    assert started["plan"] == "premium" and started["device_limit"] == 4
    assert str(started["poster_url"]).startswith(f"/videos/{video_id}/hls/poster.jpg?token=")
    assert str(started["download_url"]).startswith(f"/videos/{video_id}/hls/download.mp4?token=")
    segment = _segment(world, str(started["manifest_url"]))
    assert client.get(segment).status_code == 200
    assert (
        client.get(str(started["download_url"]), headers={"Range": "bytes=0-9"}).status_code == 206
    )
    # The session's token is the gold viewer's: another signed-in viewer cannot use it.
    assert client.get(segment, headers=world.headers["viewer"]).status_code == 403
    # Owner and admins watch their premium videos whatever their plan.
    _start(world, "owner", "premium")
    _start(world, "admin", "premium")


def test_a_plan_downgrade_stops_new_master_playlists(world: World) -> None:
    started = _start(world, "gold", "premium")
    admin = world.headers["admin"]
    world.client.put(
        f"/admin/users/{world.users['gold']}/plan", json={"plan": "free"}, headers=admin
    )
    response = world.client.get(str(started["manifest_url"]))
    assert response.status_code == 403 and "premium plan" in response.json()["detail"]


def test_device_limit_refuses_then_frees_by_ending_a_session(world: World) -> None:
    client = world.client
    phone = _start(world, "viewer", "open", "phone")
    assert phone["device_limit"] == 1
    refused = client.post(
        f"/videos/{world.videos['unlisted']}/playback",
        json={"device_id": "laptop"},
        headers=world.headers["viewer"],
    )
    assert refused.status_code == 429
    detail = refused.json()["detail"]
    assert "1 device(s) at once" in detail and "DELETE /playback/" in detail
    assert str(phone["session_id"]) in detail
    assert 1 <= int(refused.headers["retry-after"]) <= world.settings.playback_lease_s + 1
    live = client.get("/playback", headers=world.headers["viewer"]).json()
    assert [s["session_id"] for s in live] == [phone["session_id"]]

    ended = client.delete(f"/playback/{phone['session_id']}", headers=world.headers["viewer"])
    assert ended.status_code == 204
    laptop = _start(world, "viewer", "unlisted", "laptop")
    assert laptop["session_id"] != phone["session_id"]
    heartbeat = client.post(
        f"/playback/{phone['session_id']}/heartbeat", headers=world.headers["viewer"]
    )
    assert heartbeat.status_code == 409 and "has ended" in heartbeat.json()["detail"]


def test_the_same_device_replaces_its_own_session(world: World) -> None:
    first = _start(world, "viewer", "open", "phone")
    segment = _segment(world, str(first["manifest_url"]))
    assert world.client.get(segment).status_code == 200
    second = _start(world, "viewer", "unlisted", "phone")
    assert second["session_id"] != first["session_id"]
    response = world.client.get(segment)
    assert response.status_code == 403
    assert response.json()["detail"].startswith(f"playback session {first['session_id']} has ended")


def test_an_expired_lease_frees_the_slot_and_stops_its_tokens(world: World) -> None:
    client, headers = world.client, world.headers["viewer"]
    phone = _start(world, "viewer", "open", "phone")
    segment = _segment(world, str(phone["manifest_url"]))
    renewed = client.post(f"/playback/{phone['session_id']}/heartbeat", headers=headers)
    assert renewed.status_code == 200
    assert renewed.json()["lease_expires_at"] >= str(phone["lease_expires_at"])
    assert (
        client.post(
            f"/videos/{world.videos['open']}/playback", json={"device_id": "tv"}, headers=headers
        ).status_code
        == 429
    )
    lapsed = utcnow() - timedelta(seconds=world.settings.playback_lease_s + 5)
    with session_scope(world.database_url) as session:
        session.execute(
            update(PlaybackSession)
            .where(PlaybackSession.id == phone["session_id"])
            .values(last_seen_at=lapsed)
        )
    response = client.get(segment)
    assert response.status_code == 403 and "lapsed" in response.json()["detail"]
    heartbeat = client.post(f"/playback/{phone['session_id']}/heartbeat", headers=headers)
    assert heartbeat.status_code == 409 and "lapsed" in heartbeat.json()["detail"]
    assert client.get("/playback", headers=headers).json() == []
    _start(world, "viewer", "open", "tv")


def test_premium_plans_play_on_four_devices(world: World) -> None:
    for device in ("a", "b", "c", "d"):
        _start(world, "gold", "premium", device)
    refused = world.client.post(
        f"/videos/{world.videos['premium']}/playback",
        json={"device_id": "e"},
        headers=world.headers["gold"],
    )
    assert refused.status_code == 429 and "4 device(s)" in refused.json()["detail"]


@pytest.mark.parametrize(
    "body", [{}, {"device_id": ""}, {"device_id": "x" * 65}, {"device_id": "a b"}, {"x": 1}]
)
def test_bad_playback_requests_are_422(world: World, body: dict[str, object]) -> None:
    response = world.client.post(
        f"/videos/{world.videos['open']}/playback", json=body, headers=world.headers["viewer"]
    )
    assert response.status_code == 422


def test_playback_needs_sign_in_and_own_sessions(world: World) -> None:
    client = world.client
    response = client.post(f"/videos/{world.videos['open']}/playback", json={"device_id": "tv"})
    assert response.status_code == 401
    mine = _start(world, "viewer", "open")
    sid, other = mine["session_id"], world.headers["other"]
    assert client.delete(f"/playback/{sid}", headers=other).status_code == 404
    assert client.post(f"/playback/{sid}/heartbeat", headers=other).status_code == 404
    assert client.delete("/playback/not-an-id", headers=world.headers["viewer"]).status_code == 422


def test_a_session_resumes_where_the_viewer_left(world: World) -> None:
    """The start answer carries the position of the viewer's latest progress or pause
    event; a completion after it starts over; nobody else's events count."""
    video_id = world.videos["open"]
    assert _start(world, "viewer", "open")["resume_position_s"] is None
    now = utcnow()

    def post(who: str, kind: str, seconds_ago: int, **properties: object) -> None:
        with session_scope(world.database_url) as session:
            session.add(
                InteractionEvent(
                    event_id=f"{who}-{kind}-{seconds_ago}",
                    event_type=EventType(kind),
                    user_id=world.users[who],
                    video_id=video_id,
                    event_timestamp=now - timedelta(seconds=seconds_ago),
                    watch_seconds=30.0,
                    properties=properties,
                )
            )

    post("viewer", "progress", 60, position_s=20.0)
    post("viewer", "pause", 50, position_s=42.5)
    post("viewer", "progress", 40, position_s="soon")  # no number: the pause still counts
    post("other", "progress", 30, position_s=99.0)
    assert _start(world, "viewer", "open")["resume_position_s"] == 42.5
    assert _start(world, "other", "open")["resume_position_s"] == 99.0
    post("viewer", "complete", 20)
    assert _start(world, "viewer", "open")["resume_position_s"] is None
