"""The demo's creator uploads a clip through the resumable (tus) endpoint, and its premium
viewer streams it through signed URLs: the product API end to end, in process."""

from __future__ import annotations

import base64
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.settings import Settings
from flows.demo_accounts import DemoAccount

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

#: Bytes per PATCH, small enough that the clip takes several (as a real client's chunks).
CHUNK = 256 * 1024
TUS = {"Tus-Resumable": "1.0.0"}
TITLE = "Uploaded test pattern"


def upload_and_stream(settings: Settings, creator: DemoAccount, viewer: DemoAccount) -> str:
    """Upload a generated clip as ``creator`` in chunks, wait until it plays, then fetch its
    master playlist, a media playlist and a segment as ``viewer``; a summary."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from media.encode.testpattern import make_test_clip
    from serving.app import create_app

    with TestClient(create_app(settings)) as client:
        maker = _bearer(client, creator)
        mine = client.get("/me/videos", params={"limit": 100}, headers=maker).json()["items"]
        earlier = [v["id"] for v in mine if v["title"] == TITLE and v["status"] == "ready"]
        if earlier:
            video_id, chunks, seconds = earlier[0], 0, 0.0
        else:
            clip = make_test_clip(
                settings.paths.media / "work" / "demo-upload.mp4", seconds=4, width=640, height=360
            )
            video_id, chunks = _tus_upload(client, maker, clip)
            seconds = _wait_until_ready(client, maker, video_id)
        watcher = _bearer(client, viewer)
        started = client.post(
            f"/videos/{video_id}/playback", json={"device_id": "demo-tv"}, headers=watcher
        )
        _ok(started, "start playback")
        playback = started.json()
        master = client.get(playback["manifest_url"], headers=watcher)
        _ok(master, "master playlist")
        media_uri = next(line for line in master.text.splitlines() if line and line[0] != "#")
        media = client.get(media_uri, headers=watcher)
        _ok(media, "media playlist")
        segment_uri = _first_segment(media.text)
        segment = client.get(segment_uri, headers=watcher)
        _ok(segment, "segment")
        tampered = client.get(segment_uri[:-1] + ("A" if segment_uri[-1] != "A" else "B"))
        if tampered.status_code < 400:
            raise RuntimeError("a tampered stream token was accepted")
        client.delete(f"/playback/{playback['session_id']}", headers=watcher)
    uploaded = (
        f"video {video_id} uploaded by {creator.username} in {chunks} tus chunks, playable "
        f"after {seconds:.0f} s"
        if chunks
        else f"reusing uploaded video {video_id}"
    )
    return (
        f"{uploaded}; {viewer.username} streamed it with signed URLs "
        f"({len(segment.content)} bytes of the first segment; a tampered token got "
        f"{tampered.status_code})"
    )


def _bearer(client: TestClient, account: DemoAccount) -> dict[str, str]:
    response = client.post(
        "/auth/token", data={"username": account.username, "password": account.password}
    )
    _ok(response, f"sign in as {account.username}")
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _tus_upload(client: TestClient, headers: dict[str, str], clip: Path) -> tuple[int, int]:
    data = clip.read_bytes()
    meta = ",".join(
        f"{key} {base64.b64encode(value.encode()).decode()}"
        for key, value in {
            "filename": clip.name,
            "title": TITLE,
            "description": "A clip the demo's creator uploaded through the tus endpoint.",
            "tags": "demo,upload",
            "visibility": "public",
            "premium": "true",
        }.items()
    )
    created = client.post(
        "/uploads",
        headers=headers | TUS | {"Upload-Length": str(len(data)), "Upload-Metadata": meta},
    )
    _ok(created, "create the upload")
    location = created.headers["Location"]
    chunks = 0
    for offset in range(0, len(data), CHUNK):
        sent = client.patch(
            location,
            content=data[offset : offset + CHUNK],
            headers=headers
            | TUS
            | {"Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"},
        )
        _ok(sent, f"PATCH at offset {offset}")
        chunks += 1
    upload_id = location.rstrip("/").rsplit("/", 1)[-1]
    deadline = time.monotonic() + 60
    while True:
        status = client.get(f"/uploads/{upload_id}", headers=headers).json()
        if status["video_id"] is not None:
            return int(status["video_id"]), chunks
        if status["state"] == "failed" or time.monotonic() > deadline:
            raise RuntimeError(f"the upload did not become a video: {status}")
        time.sleep(0.5)


def _wait_until_ready(client: TestClient, headers: dict[str, str], video_id: int) -> float:
    started = time.monotonic()
    while time.monotonic() - started < 600:
        video = client.get(f"/videos/{video_id}", headers=headers)
        if video.status_code == 200 and video.json()["status"] == "ready":
            return time.monotonic() - started
        processing = client.get(f"/videos/{video_id}/processing", headers=headers)
        if processing.status_code == 200 and "failed" in str(processing.json().get("state")):
            raise RuntimeError(f"processing failed: {processing.json()}")
        time.sleep(1)
    raise RuntimeError(f"video {video_id} was not playable within 10 minutes")


def _first_segment(playlist: str) -> str:
    for line in playlist.splitlines():
        if line and not line.startswith("#"):
            return line
    found = re.search(r'URI="([^"]+)"', playlist)
    if found is None:
        raise RuntimeError("the media playlist names no segment")
    return found.group(1)


def _ok(response: Any, what: str) -> None:
    status = response.status_code
    if status >= 400:
        raise RuntimeError(f"{what} answered {status}: {response.text}")
