"""tus uploads with the tuspy client against a live ``reelrank serve``: chunked, interrupted
(by the client stopping, and by a connection dropped mid-body) and resumed by a new client
from the server's offset; the stored original is byte-identical and the video plays. One
upload is transcoded on Ray, the server's default."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select
from tusclient.client import TusClient

from core.db.models import ProcessingJob
from core.db.session import session_scope
from media.jobs.state import JobDetail
from tests.account_helpers import register, sign_in
from tests.live_server import live_server
from tests.upload_helpers import TUS, small_clip, wait_for, wait_processed

CHUNK = 8 * 1024


@pytest.fixture
def server(data_root: Path, request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """A live server on a migrated SQLite catalogue, processing as the test's parameter says
    (``local`` unless parametrised), and its database URL."""
    url = request.getfixturevalue("sqlite_url")
    processing = getattr(request, "param", "local")
    env = {
        "REELRANK_DATABASE_URL": url,
        "REELRANK_MEDIA_PROCESSING": processing,
        "REELRANK_LOG_LEVEL": "INFO",
        "REELRANK_MAX_UPLOAD_BYTES": str(50 * 2**20),
    }
    with live_server(data_root, env=env) as base:
        yield base, url


def creator_headers(base: str) -> dict[str, str]:
    with httpx.Client(base_url=base) as client:
        register(client, "ada", role="creator")  # type: ignore[arg-type]
        return sign_in(client, "ada")  # type: ignore[arg-type]


def upload_status(base: str, headers: dict[str, str], upload_id: str) -> dict[str, Any]:
    answer = httpx.get(f"{base}/uploads/{upload_id}", headers=headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def settle(base: str, headers: dict[str, str], upload_id: str, timeout_s: float) -> dict[str, Any]:
    return wait_for(
        lambda: upload_status(base, headers, upload_id),
        lambda body: body["state"] in ("ready", "failed"),
        timeout_s,
    )


def drop_mid_body(
    upload_url: str, headers: dict[str, str], offset: int, body: bytes, declared: int
) -> None:
    """Send a PATCH declaring ``declared`` bytes, send only ``body``, give the server a moment
    to take it in (bytes still in the server's buffer when the connection drops are lost to
    the app), then hang up."""
    parts = urlsplit(upload_url)
    lines = [
        f"PATCH {parts.path} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Tus-Resumable: 1.0.0",
        "Content-Type: application/offset+octet-stream",
        f"Upload-Offset: {offset}",
        f"Content-Length: {declared}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        time.sleep(1.0)


def test_interrupted_upload_resumes_byte_identical_and_plays(
    server: tuple[str, str], data_root: Path, tmp_path: Path
) -> None:
    base, _ = server
    clip = small_clip(tmp_path, seconds=4)
    data = clip.read_bytes()
    assert len(data) > 6 * CHUNK
    headers = creator_headers(base)
    first = TusClient(f"{base}/uploads", headers=headers).uploader(
        str(clip),
        chunk_size=CHUNK,
        metadata={"filename": "clip.mp4", "title": "Resumed", "tags": "test,resume"},
    )
    first.upload(stop_at=2 * CHUNK)  # the client stops after two chunks
    upload_url = first.url
    assert upload_url is not None
    upload_id = upload_url.rsplit("/", 1)[1]
    assert upload_status(base, headers, upload_id)["offset"] == 2 * CHUNK

    sent = CHUNK + 5_000  # part of the next PATCH arrives, then the connection drops
    body = data[2 * CHUNK : 2 * CHUNK + sent]
    drop_mid_body(upload_url, headers, 2 * CHUNK, body, declared=len(data) - 2 * CHUNK)

    def offset() -> dict[str, Any]:
        answer = httpx.head(upload_url, headers={**headers, **TUS})
        assert answer.status_code == 200
        return {"offset": int(answer.headers["Upload-Offset"])}

    assert wait_for(offset, lambda o: o["offset"] == 2 * CHUNK + sent, 30)["offset"] > 0
    partial = data_root / "media" / "uploads" / f"{upload_id}.part"
    assert partial.read_bytes() == data[: 2 * CHUNK + sent]

    resumed = TusClient(f"{base}/uploads", headers=headers).uploader(
        str(clip), url=upload_url, chunk_size=CHUNK
    )
    assert resumed.offset == 2 * CHUNK + sent  # a new client asks the server where to go on
    resumed.upload()
    status = settle(base, headers, upload_id, 120)
    assert status["state"] == "ready", status
    video_id = status["video_id"]
    original = next((data_root / "media" / "originals").glob(f"{video_id}.*"))
    assert original.read_bytes() == data
    assert not partial.exists()
    manifest = httpx.get(f"{base}/videos/{video_id}/manifest.m3u8")
    assert manifest.status_code == 200 and "#EXT-X-STREAM-INF" in manifest.text
    video = httpx.get(f"{base}/videos/{video_id}").json()
    assert video["title"] == "Resumed" and video["tags"] == ["test", "resume"]


@pytest.mark.slow
@pytest.mark.parametrize("server", ["ray"], indirect=True)
def test_upload_transcoded_on_ray(server: tuple[str, str], tmp_path: Path) -> None:
    base, url = server
    clip = small_clip(tmp_path)
    headers = creator_headers(base)
    uploader = TusClient(f"{base}/uploads", headers=headers).uploader(
        str(clip), chunk_size=CHUNK, metadata={"filename": "ray.mp4"}
    )
    uploader.upload()
    assert uploader.url is not None
    status = settle(base, headers, uploader.url.rsplit("/", 1)[1], 240)
    assert status["state"] == "ready", status
    with session_scope(url) as session:
        job = session.scalars(
            select(ProcessingJob).where(
                ProcessingJob.video_id == status["video_id"], ProcessingJob.kind == "transcode"
            )
        ).one()
        detail = JobDetail.from_json(job.detail)
    nodes = {unit.node for unit in detail.units.values()}
    assert nodes and "local" not in nodes and None not in nodes  # Ray node ids
    over = wait_processed(
        lambda: httpx.get(f"{base}/videos/{status['video_id']}/processing", headers=headers).json(),
        240,
    )
    assert {s["name"]: s["state"] for s in over["stages"]}["embeddings"] == "done", over
    assert httpx.get(f"{base}/videos/{status['video_id']}/manifest.m3u8").status_code == 200
