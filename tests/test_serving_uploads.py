"""tus uploads through the real app on SQLite and PostgreSQL: the protocol's answers and
errors, ownership, expiry and termination, and completion into the media pipeline (processed
in-process): a real clip becomes a playable video, hostile files fail with their reason."""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from core.db.models import Upload, utcnow
from core.db.session import session_scope
from core.settings import Settings
from serving.app import create_app
from serving.uploads import drop_expired
from tests.account_helpers import make_admin, register, sign_in
from tests.upload_helpers import (
    OCTETS,
    TUS,
    metadata,
    processing_over,
    small_clip,
    wait_for,
    wait_processed,
)

MAX_UPLOAD = 5 * 2**20


@pytest.fixture
def settings(data_root: Path, database_url: str) -> Settings:
    return Settings(
        data_root=data_root,
        database_url=database_url,
        max_upload_bytes=MAX_UPLOAD,
        media_processing="local",
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def creator(client: TestClient) -> dict[str, str]:
    register(client, "ada", role="creator")
    return sign_in(client, "ada")


def create(client: TestClient, headers: dict[str, str], length: int, **meta: str) -> str:
    response = client.post(
        "/uploads",
        headers={
            **headers,
            **TUS,
            "Upload-Length": str(length),
            "Upload-Metadata": metadata(**meta),
        },
    )
    assert response.status_code == 201, response.text
    assert response.headers["Tus-Resumable"] == "1.0.0"
    location = response.headers["Location"]
    assert location.startswith("http://testserver/uploads/")
    return location.rsplit("/", 1)[1]


def patch(
    client: TestClient, headers: dict[str, str], upload_id: str, offset: int, body: bytes
) -> Any:
    return client.patch(
        f"/uploads/{upload_id}",
        headers={**headers, **TUS, **OCTETS, "Upload-Offset": str(offset)},
        content=body,
    )


def head(client: TestClient, headers: dict[str, str], upload_id: str) -> Any:
    return client.head(f"/uploads/{upload_id}", headers={**headers, **TUS})


def send_all(client: TestClient, headers: dict[str, str], upload_id: str, data: bytes) -> None:
    """PATCH ``data`` in three chunks, checking each new offset."""
    step = len(data) // 3 + 1
    for start in range(0, len(data), step):
        answer = patch(client, headers, upload_id, start, data[start : start + step])
        assert answer.status_code == 204, answer.text
        assert int(answer.headers["Upload-Offset"]) == min(start + step, len(data))


def settled(client: TestClient, headers: dict[str, str], upload_id: str) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        answer = client.get(f"/uploads/{upload_id}", headers=headers)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    return wait_for(read, lambda body: body["state"] in ("ready", "failed"), 120)


def processed(client: TestClient, headers: dict[str, str], video_id: int) -> dict[str, Any]:
    """The video's processing status once every stage, extras included, has ended."""

    def read() -> dict[str, Any]:
        answer = client.get(f"/videos/{video_id}/processing", headers=headers)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    return wait_processed(read)


def test_options_announce_the_protocol(client: TestClient) -> None:
    answer = client.options("/uploads")
    assert answer.status_code == 204
    assert answer.headers["Tus-Resumable"] == "1.0.0"
    assert answer.headers["Tus-Version"] == "1.0.0"
    assert set(answer.headers["Tus-Extension"].split(",")) == {
        "creation",
        "termination",
        "expiration",
        "checksum",
    }
    assert answer.headers["Tus-Max-Size"] == str(MAX_UPLOAD)
    assert answer.headers["Tus-Checksum-Algorithm"] == "sha1,sha256,md5"


def test_checksums_keep_matching_bodies_and_discard_the_rest(
    client: TestClient, creator: dict[str, str], settings: Settings
) -> None:
    upload_id = create(client, creator, 8)
    partial = settings.paths.media / "uploads" / f"{upload_id}.part"

    def send(offset: int, body: bytes, checksum: str) -> Any:
        return client.patch(
            f"/uploads/{upload_id}",
            headers={**creator, **TUS, **OCTETS, "Upload-Offset": str(offset)}
            | {"Upload-Checksum": checksum},
            content=body,
        )

    def b64(algorithm: str, body: bytes) -> str:
        return base64.b64encode(hashlib.new(algorithm, body).digest()).decode()

    good = send(0, b"abcd", f"sha1 {b64('sha1', b'abcd')}")
    assert good.status_code == 204 and good.headers["Upload-Offset"] == "4"
    bad = send(4, b"efgh", f"sha256 {b64('sha256', b'efgX')}")
    assert bad.status_code == 460 and bad.headers["Tus-Resumable"] == "1.0.0"
    assert "Checksum Mismatch" in bad.json()["detail"]
    assert head(client, creator, upload_id).headers["Upload-Offset"] == "4"
    assert partial.read_bytes() == b"abcd", "the mismatching body is not kept"
    unknown = send(4, b"efgh", f"crc99 {b64('md5', b'efgh')}")
    assert unknown.status_code == 400 and "unsupported checksum algorithm" in unknown.text
    for malformed in ("sha1", "sha1 !!!", f"sha1 {b64('md5', b'efgh')}"):
        assert send(4, b"efgh", malformed).status_code == 400, malformed
    done = send(4, b"efgh", f"md5 {b64('md5', b'efgh')}")
    assert done.status_code == 204 and done.headers["Upload-Offset"] == "8"


def test_creation_and_head(client: TestClient, creator: dict[str, str]) -> None:
    upload_id = create(client, creator, 1000, filename="dir/trip.mp4", title="Trip", tags="a,b")
    answer = head(client, creator, upload_id)
    assert answer.status_code == 200
    assert answer.headers["Upload-Offset"] == "0"
    assert answer.headers["Upload-Length"] == "1000"
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Tus-Resumable"] == "1.0.0"
    assert "Upload-Expires" in answer.headers
    assert "filename dHJpcC5tcDQ=" in answer.headers["Upload-Metadata"]  # the base name only
    status = client.get(f"/uploads/{upload_id}", headers=creator).json()
    assert status["state"] == "receiving" and status["offset"] == 0 and status["length"] == 1000
    assert status["filename"] == "trip.mp4" and status["video_id"] is None


def test_protocol_errors(client: TestClient, creator: dict[str, str], settings: Settings) -> None:
    length = {"Upload-Length": "10"}
    missing = client.post("/uploads", headers={**creator, **length})
    assert missing.status_code == 412
    assert missing.headers["Tus-Version"] == "1.0.0"
    assert missing.headers["Tus-Resumable"] == "1.0.0"
    wrong = client.post("/uploads", headers={**creator, **length, "Tus-Resumable": "0.2.2"})
    assert wrong.status_code == 412
    too_big = client.post("/uploads", headers={**creator, **TUS, "Upload-Length": "99999999"})
    assert too_big.status_code == 413 and "over the limit" in too_big.json()["detail"]
    no_length = client.post("/uploads", headers={**creator, **TUS})
    assert no_length.status_code == 400
    bad_meta = client.post(
        "/uploads", headers={**creator, **TUS, **length, "Upload-Metadata": "k !!"}
    )
    assert bad_meta.status_code == 400
    bad_field = client.post(
        "/uploads",
        headers={**creator, **TUS, **length, "Upload-Metadata": metadata(visibility="secret")},
    )
    assert bad_field.status_code == 400 and "visibility" in bad_field.json()["detail"]
    nul_title = client.post(
        "/uploads",
        headers={**creator, **TUS, **length, "Upload-Metadata": metadata(title="a\x00b")},
    )
    assert nul_title.status_code == 400 and "NUL" in nul_title.json()["detail"]
    odd_name = create(client, creator, 10, filename="clip\x00\x07.mp4")
    assert client.get(f"/uploads/{odd_name}", headers=creator).json()["filename"] == "clip.mp4"

    upload_id = create(client, creator, 10)
    no_version = client.patch(
        f"/uploads/{upload_id}", headers={**creator, **OCTETS, "Upload-Offset": "0"}, content=b"x"
    )
    assert no_version.status_code == 412
    wrong_type = client.patch(
        f"/uploads/{upload_id}",
        headers={**creator, **TUS, "Content-Type": "application/json", "Upload-Offset": "0"},
        content=b"{}",
    )
    assert wrong_type.status_code == 415 and wrong_type.headers["Tus-Resumable"] == "1.0.0"
    assert patch(client, creator, upload_id, 0, b"abcd").status_code == 204
    mismatch = patch(client, creator, upload_id, 2, b"zz")
    assert mismatch.status_code == 409 and mismatch.headers["Tus-Resumable"] == "1.0.0"
    past_end = patch(client, creator, upload_id, 4, b"x" * 7)
    assert past_end.status_code == 413
    assert head(client, creator, upload_id).headers["Upload-Offset"] == "4"
    partial = settings.paths.media / "uploads" / f"{upload_id}.part"
    assert partial.read_bytes() == b"abcd"
    assert client.head("/uploads/not-an-id", headers={**creator, **TUS}).status_code == 422


def test_who_may_upload(client: TestClient, creator: dict[str, str], database_url: str) -> None:
    upload_id = create(client, creator, 10)
    anonymous = client.post("/uploads", headers={**TUS, "Upload-Length": "10"})
    assert anonymous.status_code == 401 and anonymous.headers["Tus-Resumable"] == "1.0.0"
    register(client, "vic")
    viewer = sign_in(client, "vic")
    refused = client.post("/uploads", headers={**viewer, **TUS, "Upload-Length": "10"})
    assert refused.status_code == 403 and refused.headers["Tus-Resumable"] == "1.0.0"
    register(client, "bob", role="creator")
    other = sign_in(client, "bob")
    assert head(client, other, upload_id).status_code == 404
    assert patch(client, other, upload_id, 0, b"x").status_code == 404
    assert client.get(f"/uploads/{upload_id}", headers=other).status_code == 404
    gone = client.delete(f"/uploads/{upload_id}", headers={**other, **TUS})
    assert gone.status_code == 404
    make_admin(database_url, "root")
    admin = sign_in(client, "root")
    assert head(client, admin, upload_id).status_code == 200


def test_daily_quota_counts_started_uploads_and_frees_terminated_ones(
    data_root: Path, database_url: str
) -> None:
    quota = Settings(
        data_root=data_root,
        database_url=database_url,
        max_upload_bytes=MAX_UPLOAD,
        upload_daily_quota_bytes=100,
        media_processing="local",
    )
    with TestClient(create_app(quota)) as client:
        register(client, "ada", role="creator")
        ada = sign_in(client, "ada")
        first = create(client, ada, 60)
        create(client, ada, 30)
        over = client.post("/uploads", headers={**ada, **TUS, "Upload-Length": "11"})
        assert over.status_code == 413 and over.headers["Tus-Resumable"] == "1.0.0"
        assert "daily upload quota: 90 of 100 bytes" in over.json()["detail"]
        create(client, ada, 10)  # exactly up to the quota
        assert client.delete(f"/uploads/{first}", headers={**ada, **TUS}).status_code == 204
        create(client, ada, 60)  # the terminated upload no longer counts
        register(client, "bob", role="creator")
        bob = sign_in(client, "bob")
        create(client, bob, 100)  # each creator has their own
        make_admin(database_url, "root")
        admin = sign_in(client, "root")
        create(client, admin, 1000)  # admins are exempt
    with session_scope(database_url) as session:
        session.execute(update(Upload).values(created_at=utcnow() - timedelta(hours=25)))
    with TestClient(create_app(quota)) as client:
        create(client, sign_in(client, "ada"), 100)  # a new day


def test_termination_deletes_the_bytes(
    client: TestClient, creator: dict[str, str], settings: Settings
) -> None:
    upload_id = create(client, creator, 10)
    assert patch(client, creator, upload_id, 0, b"12345").status_code == 204
    partial = settings.paths.media / "uploads" / f"{upload_id}.part"
    assert partial.is_file()
    answer = client.delete(f"/uploads/{upload_id}", headers={**creator, **TUS})
    assert answer.status_code == 204 and answer.headers["Tus-Resumable"] == "1.0.0"
    assert not partial.exists()
    assert head(client, creator, upload_id).status_code == 404


def test_expired_uploads_are_refused(
    client: TestClient, creator: dict[str, str], database_url: str, settings: Settings
) -> None:
    upload_id = create(client, creator, 10)
    with session_scope(database_url) as session:
        row = session.get(Upload, upload_id)
        assert row is not None
        row.expires_at = utcnow() - timedelta(seconds=1)
    assert head(client, creator, upload_id).status_code == 410
    assert patch(client, creator, upload_id, 0, b"x").status_code == 410
    status = client.get(f"/uploads/{upload_id}", headers=creator).json()
    assert status["state"] == "failed" and "expired" in status["error"]
    partial = settings.paths.media / "uploads" / f"{upload_id}.part"
    assert partial.is_file()
    assert drop_expired(settings) == 1  # what the media queue's periodic scan runs
    assert not partial.exists()
    assert head(client, creator, upload_id).status_code == 410


def test_method_override(client: TestClient, creator: dict[str, str]) -> None:
    upload_id = create(client, creator, 6)
    appended = client.post(
        f"/uploads/{upload_id}",
        headers={
            **creator,
            **TUS,
            **OCTETS,
            "Upload-Offset": "0",
            "X-HTTP-Method-Override": "PATCH",
        },
        content=b"abc",
    )
    assert appended.status_code == 204 and appended.headers["Upload-Offset"] == "3"
    plain = client.post(f"/uploads/{upload_id}", headers={**creator, **TUS})
    assert plain.status_code == 405
    dropped = client.post(
        f"/uploads/{upload_id}", headers={**creator, **TUS, "X-HTTP-Method-Override": "DELETE"}
    )
    assert dropped.status_code == 204
    assert head(client, creator, upload_id).status_code == 404


def test_a_second_writer_is_told_to_retry(
    client: TestClient, creator: dict[str, str], settings: Settings
) -> None:
    upload_id = create(client, creator, 10)
    partial = settings.paths.media / "uploads" / f"{upload_id}.part"
    with partial.open("r+b") as held:  # another request is appending to the upload
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        busy = patch(client, creator, upload_id, 0, b"abc")
        assert busy.status_code == 423 and busy.headers["Tus-Resumable"] == "1.0.0"
    assert patch(client, creator, upload_id, 0, b"abc").status_code == 204


def test_zero_length_upload_fails_with_its_reason(
    client: TestClient, creator: dict[str, str]
) -> None:
    upload_id = create(client, creator, 0, filename="nothing.mp4")
    status = settled(client, creator, upload_id)
    assert status["state"] == "failed"
    assert "empty" in status["error"]
    assert status["video_id"] is not None
    video = client.get(f"/videos/{status['video_id']}/processing", headers=creator).json()
    assert video["video_status"] == "failed"
    assert [s["state"] for s in video["stages"] if s["name"] in ("probe", "ready")] == [
        "failed",
        "failed",
    ]


def test_random_bytes_named_mp4_fail_with_the_reason(
    client: TestClient, creator: dict[str, str], settings: Settings
) -> None:
    data = os.urandom(200_000)
    upload_id = create(client, creator, len(data), filename="movie.mp4")
    send_all(client, creator, upload_id, data)
    status = settled(client, creator, upload_id)
    assert status["state"] == "failed"
    assert status["error"].startswith("upload rejected")
    assert not (settings.paths.media / "uploads" / f"{upload_id}.part").exists()
    assert not list(settings.paths.originals.glob(f"{status['video_id']}.*"))


def test_a_real_clip_becomes_playable(
    client: TestClient, creator: dict[str, str], settings: Settings, tmp_path: Path
) -> None:
    data = small_clip(tmp_path).read_bytes()
    upload_id = create(
        client,
        creator,
        len(data),
        filename="clip.mp4",
        title="A test pattern",
        description="bars and a tone",
        tags="test,pattern",
        visibility="public",
    )
    send_all(client, creator, upload_id, data)
    assert patch(client, creator, upload_id, len(data), b"").status_code == 204  # idempotent end
    status = settled(client, creator, upload_id)
    assert status["state"] == "ready", status
    video_id = status["video_id"]
    video = client.get(f"/videos/{video_id}").json()
    assert video["title"] == "A test pattern" and video["tags"] == ["test", "pattern"]
    assert video["status"] == "ready"
    manifest = client.get(f"/videos/{video_id}/manifest.m3u8")
    assert manifest.status_code == 200 and "#EXTM3U" in manifest.text
    stored = next(settings.paths.originals.glob(f"{video_id}.*"))
    assert stored.read_bytes() == data
    progress = processed(client, creator, video_id)
    stages = {s["name"]: s["state"] for s in progress["stages"]}
    assert set(stages) == {
        "upload",
        "probe",
        "transcode",
        "package",
        "ready",
        "validate",
        "poster",
        "storyboard",
        "download",
        "embeddings",
    }
    assert set(stages.values()) == {"done"}, progress["stages"]
    package = settings.paths.packages / str(video_id)
    assert (package / "poster.jpg").is_file() and (package / "download.mp4").is_file()
    from media.enrich.embeddings import read_embeddings

    assert video_id in set(read_embeddings(settings.paths.embeddings_file)["video_id"])
    assert client.get(f"/uploads/{upload_id}", headers=creator).json()["state"] == "ready"
    assert progress["rungs"] and progress["rungs"][0]["state"] == "published"
    assert progress["upload_id"] == upload_id
    mine = client.get("/me/videos", headers=creator).json()
    assert [v["id"] for v in mine["items"]] == [video_id]
    catalogue = client.app.state.catalogue  # type: ignore[attr-defined]

    def recommendable() -> dict[str, Any]:
        return {"ids": set(catalogue.current().table.ids.tolist())}

    wait_for(recommendable, lambda found: video_id in found["ids"], 30)  # the 2 s refresh


def _age_claim(database_url: str, upload_id: str, seconds: float = 3600) -> None:
    """Make the upload's claim look abandoned (its worker died ``seconds`` ago)."""
    with session_scope(database_url) as session:
        row = session.get(Upload, upload_id)
        assert row is not None
        row.updated_at = utcnow() - timedelta(seconds=seconds)


def test_restart_processes_uploads_whose_worker_died(
    settings: Settings, database_url: str, tmp_path: Path
) -> None:
    data = small_clip(tmp_path).read_bytes()
    dead = TestClient(create_app(settings))  # no lifespan: its queue never runs
    register(dead, "ada", role="creator")
    headers = sign_in(dead, "ada")
    upload_id = create(
        dead, headers, len(data), filename="orphan.mp4", visibility="private", premium="true"
    )
    send_all(dead, headers, upload_id, data)
    assert dead.get(f"/uploads/{upload_id}", headers=headers).json()["state"] == "processing"
    _age_claim(database_url, upload_id)
    with TestClient(create_app(settings)) as client:  # a new server process starts
        status = settled(client, headers, upload_id)
        assert status["state"] == "ready", status
        assert processing_over(processed(client, headers, status["video_id"]))
        mine = client.get("/me/videos", headers=headers).json()["items"]
        assert [(v["visibility"], v["premium"]) for v in mine] == [("private", True)]
        assert client.get(f"/videos/{status['video_id']}").status_code == 404  # private


def test_restart_resumes_a_job_whose_runner_died(
    client: TestClient,
    creator: dict[str, str],
    settings: Settings,
    database_url: str,
    tmp_path: Path,
) -> None:
    from sqlalchemy import select

    from core.db.models import ProcessingJob
    from core.types import JobState
    from media.jobs.state import JobDetail

    data = small_clip(tmp_path).read_bytes()
    upload_id = create(client, creator, len(data), filename="lost.mp4")
    send_all(client, creator, upload_id, data)
    video_id = settled(client, creator, upload_id)["video_id"]
    processed(client, creator, video_id)
    with session_scope(database_url) as session:  # the runner dies before it says it is done
        job = session.scalars(
            select(ProcessingJob).where(
                ProcessingJob.video_id == video_id, ProcessingJob.kind == "transcode"
            )
        ).one()
        detail = JobDetail.from_json(job.detail)
        detail.heartbeat_at = utcnow() - timedelta(seconds=600)
        job.detail, job.state, job.finished_at = detail.to_json(), JobState.RUNNING, None
        runs = {key: unit.runs for key, unit in detail.units.items()}
        upload = session.get(Upload, upload_id)
        assert upload is not None
        upload.state = "processing"
    _age_claim(database_url, upload_id)
    lost = client.get(f"/videos/{video_id}/processing", headers=creator).json()
    assert lost["job_state"] == "failed"  # no heartbeat: reads as failed
    with TestClient(create_app(settings)) as restarted:
        status = settled(restarted, creator, upload_id)

        def progress() -> dict[str, Any]:
            return dict(restarted.get(f"/videos/{video_id}/processing", headers=creator).json())

        wait_for(
            progress,
            lambda body: body["job_state"] == "succeeded" and processing_over(body),
            120,
        )
    assert status["state"] == "ready"
    with session_scope(database_url) as session:
        job = session.scalars(
            select(ProcessingJob).where(
                ProcessingJob.video_id == video_id, ProcessingJob.kind == "transcode"
            )
        ).one()
        assert job.attempts == 2
        resumed = JobDetail.from_json(job.detail)
    assert {key: unit.runs for key, unit in resumed.units.items()} == runs  # nothing redone
