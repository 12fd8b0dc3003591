"""The creator's studio through the real app on SQLite and PostgreSQL: their videos in every
state, bounded edits that stamp updated_at, deletion with the files on disk, processing status,
and who may do what (owner or admin; 404 for a video the caller could not see, else 403)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from core.db.models import Channel, ProcessingJob, User, Video, utcnow
from core.db.session import session_scope
from core.settings import Settings
from core.types import JobState, VideoStatus, Visibility
from media.jobs.state import JobDetail
from serving.app import create_app
from tests.account_helpers import make_admin, register, sign_in
from tests.test_serving_uploads import create, processed, send_all, settled


@pytest.fixture
def settings(data_root: Path, database_url: str) -> Settings:
    return Settings(data_root=data_root, database_url=database_url, media_processing="local")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def add_video(
    database_url: str,
    username: str,
    title: str,
    status: VideoStatus = VideoStatus.READY,
    visibility: Visibility = Visibility.PUBLIC,
) -> int:
    """A video row in the first channel of ``username``."""
    with session_scope(database_url) as session:
        owner = session.scalars(select(User).where(User.username == username)).one()
        channel = session.scalars(select(Channel).where(Channel.owner_id == owner.id)).first()
        assert channel is not None
        video = Video(title=title, channel_id=channel.id, status=status, visibility=visibility)
        session.add(video)
        session.flush()
        return video.id


@pytest.fixture
def people(client: TestClient, database_url: str) -> dict[str, dict[str, str]]:
    register(client, "ada", role="creator")
    register(client, "bob", role="creator")
    register(client, "vic")
    make_admin(database_url, "root")
    return {name: sign_in(client, name) for name in ("ada", "bob", "vic", "root")}


def test_my_videos_lists_every_state_and_pages(
    client: TestClient, people: dict[str, dict[str, str]], database_url: str
) -> None:
    ids = [add_video(database_url, "ada", f"v{i}", status) for i, status in enumerate(VideoStatus)]
    add_video(database_url, "bob", "not ada's")
    page = client.get("/me/videos", params={"limit": 3}, headers=people["ada"]).json()
    assert page["total"] == len(ids) and page["limit"] == 3 and len(page["items"]) == 3
    rest = client.get("/me/videos", params={"limit": 3, "offset": 3}, headers=people["ada"])
    listed = [v["id"] for v in page["items"]] + [v["id"] for v in rest.json()["items"]]
    assert sorted(listed) == sorted(ids)
    assert {v["status"] for v in page["items"] + rest.json()["items"]} == {
        s.value for s in VideoStatus
    }
    assert client.get("/me/videos", params={"limit": 101}, headers=people["ada"]).status_code == 422
    assert client.get("/me/videos", headers=people["vic"]).status_code == 403
    assert client.get("/me/videos").status_code == 401


def test_owner_edits_with_bounds_and_updated_at(
    client: TestClient, people: dict[str, dict[str, str]], database_url: str
) -> None:
    video_id = add_video(database_url, "ada", "Old")
    edit = {
        "title": "  New title ",
        "description": "about",
        "tags": ["a", "b", "a"],
        "genres": ["Drama"],
        "language": "en",
        "visibility": "unlisted",
        "premium": True,
    }
    answer = client.patch(f"/videos/{video_id}", json=edit, headers=people["ada"])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["title"] == "New title" and body["tags"] == ["a", "b"]
    assert body["visibility"] == "unlisted" and body["premium"] is True
    assert body["language"] == "en" and body["updated_at"] is not None
    with session_scope(database_url) as session:
        stored = session.get(Video, video_id)
        assert stored is not None and stored.genres == ["Drama"] and stored.updated_at
    for bad in (
        {"title": "x" * 201},
        {"title": "   "},
        {"tags": [f"t{i}" for i in range(21)]},
        {"tags": ["x" * 41]},
        {"language": "english please"},
        {"visibility": "secret"},
        {"status": "ready"},
        {"description": "x" * 5001},
    ):
        refused = client.patch(f"/videos/{video_id}", json=bad, headers=people["ada"])
        assert refused.status_code == 422, bad
    admin = client.patch(f"/videos/{video_id}", json={"title": "By admin"}, headers=people["root"])
    assert admin.status_code == 200 and admin.json()["title"] == "By admin"


def test_others_are_refused_404_when_they_cannot_see_it_else_403(
    client: TestClient, people: dict[str, dict[str, str]], database_url: str
) -> None:
    public = add_video(database_url, "ada", "public")
    private = add_video(database_url, "ada", "private", visibility=Visibility.PRIVATE)
    processing = add_video(database_url, "ada", "busy", status=VideoStatus.PROCESSING)
    bob, vic = people["bob"], people["vic"]
    for method, suffix in (("PATCH", ""), ("DELETE", ""), ("GET", "/processing")):
        kwargs = {"json": {"title": "mine now"}} if method == "PATCH" else {}
        for video_id, status in ((public, 403), (private, 404), (processing, 404), (9999, 404)):
            answer = client.request(method, f"/videos/{video_id}{suffix}", headers=bob, **kwargs)
            assert answer.status_code == status, (method, video_id, answer.text)
        assert (
            client.request(method, f"/videos/{public}{suffix}", headers=vic, **kwargs).status_code
            == 403
        )
        assert client.request(method, f"/videos/{public}{suffix}", **kwargs).status_code == 401
    with session_scope(database_url) as session:
        assert session.get(Video, public).title == "public"  # type: ignore[union-attr]


def test_delete_removes_the_row_and_the_files(
    client: TestClient,
    people: dict[str, dict[str, str]],
    settings: Settings,
    database_url: str,
    tmp_path: Path,
) -> None:
    from tests.upload_helpers import small_clip

    ada = people["ada"]
    data = small_clip(tmp_path).read_bytes()
    upload_id = create(client, ada, len(data), filename="gone.mp4")
    send_all(client, ada, upload_id, data)
    status = settled(client, ada, upload_id)
    assert status["state"] == "ready", status
    video_id = status["video_id"]
    paths = settings.paths
    package = paths.packages / str(video_id)
    originals = list(paths.originals.glob(f"{video_id}.*"))
    assert package.is_dir() and originals
    processing = processed(client, ada, video_id)
    assert processing["job_state"] == "succeeded"
    from media.enrich.embeddings import read_embeddings

    assert video_id in set(read_embeddings(paths.embeddings_file)["video_id"])
    with session_scope(database_url) as session:  # a live worker is writing its files
        job = session.scalars(
            select(ProcessingJob).where(
                ProcessingJob.video_id == video_id, ProcessingJob.kind == "transcode"
            )
        ).one()
        detail = JobDetail.from_json(job.detail)
        detail.heartbeat_at = utcnow()
        job.state, job.detail = JobState.RUNNING, detail.to_json()
    busy = client.delete(f"/videos/{video_id}", headers=ada)
    assert busy.status_code == 409 and "being processed" in busy.json()["detail"]
    with session_scope(database_url) as session:
        job = session.get(ProcessingJob, job.id)
        assert job is not None
        job.state = JobState.SUCCEEDED
    assert client.delete(f"/videos/{video_id}", headers=people["bob"]).status_code == 403
    assert client.delete(f"/videos/{video_id}", headers=people["vic"]).status_code == 403
    assert package.is_dir()
    answer = client.delete(f"/videos/{video_id}", headers=ada)
    assert answer.status_code == 204, answer.text
    assert not package.exists()
    assert not any(p.exists() for p in originals)
    assert not (paths.media / "work" / str(video_id)).exists()
    assert client.get(f"/videos/{video_id}").status_code == 404
    assert client.get(f"/videos/{video_id}/manifest.m3u8").status_code == 404
    assert client.delete(f"/videos/{video_id}", headers=ada).status_code == 404
    assert client.get("/me/videos", headers=ada).json()["total"] == 0
    assert video_id not in set(read_embeddings(paths.embeddings_file)["video_id"])
    with session_scope(database_url) as session:
        assert session.get(Video, video_id) is None
