"""Recording processing outcomes in the catalogue (SQLite and PostgreSQL): status, renditions."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from core.db.models import Rendition, Video
from core.db.session import session_scope
from core.errors import NotFoundError
from core.types import VideoStatus
from media.encode.testpattern import make_test_clip
from media.errors import MediaError
from media.jobs.runner import process_video
from media.video_records import mark_processing, record_failure, record_rendition


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_test_clip(tmp_path_factory.mktemp("src") / "clip.mp4", seconds=1.2)


def _new_video(database_url: str) -> int:
    with session_scope(database_url) as session:
        video = Video(title="test pattern")
        session.add(video)
        session.flush()
        return video.id


def _load(database_url: str, video_id: int) -> tuple[Video, list[Rendition]]:
    with session_scope(database_url) as session:
        video = session.get(Video, video_id)
        rows = session.scalars(select(Rendition).where(Rendition.video_id == video_id)).all()
        return video, list(rows)


def test_process_video_retries_a_failed_video(
    database_url: str, data_root: Path, clip: Path
) -> None:
    video_id = _new_video(database_url)
    upload = data_root / "media" / "originals" / "upload.mp4"
    upload.parent.mkdir(parents=True)
    upload.write_text("a text file, not a video")
    with pytest.raises(MediaError, match="not a readable media file"):
        process_video(database_url, video_id, upload, data_root, on_ray=False)
    video, _ = _load(database_url, video_id)
    assert video.status is VideoStatus.FAILED
    assert video.failure_reason.startswith("transcoding failed: ")
    assert "not a readable media file" in video.failure_reason
    assert not (data_root / "media" / "hls" / str(video_id)).exists()

    package = process_video(database_url, video_id, clip, data_root, on_ray=False)
    video, rows = _load(database_url, video_id)
    assert video.status is VideoStatus.READY and video.failure_reason is None
    assert [r.playlist_path for r in rows] == [
        f"media/hls/{video_id}/240p/index.m3u8",
        f"media/hls/{video_id}/360p/index.m3u8",
    ]
    assert [r.bitrate for r in rows] == [r.bandwidth for r in package.renditions]
    assert package.master == data_root / "media" / "hls" / str(video_id) / "master.m3u8"
    with pytest.raises(MediaError, match="already ready; there is nothing to resume"):
        process_video(database_url, video_id, clip, data_root, on_ray=False)
    with pytest.raises(MediaError, match="only an uploaded or failed one can be processed"):
        mark_processing(database_url, video_id)
    with pytest.raises(MediaError, match="already ready; it cannot fail now"):
        record_failure(database_url, video_id, "late error")


def test_record_rendition_publishes_rung_by_rung(database_url: str, data_root: Path) -> None:
    video_id = _new_video(database_url)
    playlists = {}
    for name in ("240p", "360p"):
        playlists[name] = data_root / "media" / "hls" / str(video_id) / name / "index.m3u8"
        playlists[name].parent.mkdir(parents=True)
        playlists[name].write_text("#EXTM3U\n")
    fields = {"width": 426, "height": 240, "bitrate": 500_000, "codecs": "avc1.640015"}
    with pytest.raises(MediaError, match=f"video {video_id} is uploaded; it cannot take a rend"):
        record_rendition(
            database_url,
            video_id,
            name="240p",
            playlist=playlists["240p"],
            data_root=data_root,
            **fields,
        )
    mark_processing(database_url, video_id)
    assert record_rendition(
        database_url,
        video_id,
        name="240p",
        playlist=playlists["240p"],
        data_root=data_root,
        **fields,
    )
    video, rows = _load(database_url, video_id)
    assert video.status is VideoStatus.READY and [r.name for r in rows] == ["240p"]
    fields.update(width=640, height=360, bitrate=900_000)
    assert not record_rendition(
        database_url,
        video_id,
        name="360p",
        playlist=playlists["360p"],
        data_root=data_root,
        **fields,
    )
    assert [(r.name, r.bitrate) for r in _load(database_url, video_id)[1]] == [
        ("240p", 500_000),
        ("360p", 900_000),
    ]
    with pytest.raises(MediaError, match=r"rendition 720p: playlist .* is missing"):
        record_rendition(
            database_url,
            video_id,
            name="720p",
            playlist=data_root / "nope.m3u8",
            data_root=data_root,
            **fields,
        )
    outside = data_root.parent / "elsewhere" / "index.m3u8"
    outside.parent.mkdir()
    outside.write_text("#EXTM3U\n")
    with pytest.raises(MediaError, match="is not under the data root"):
        record_rendition(
            database_url, video_id, name="720p", playlist=outside, data_root=data_root, **fields
        )
    assert [r.name for r in _load(database_url, video_id)[1]] == ["240p", "360p"]
    with pytest.raises(NotFoundError, match="video 999999 does not exist"):
        record_rendition(
            database_url,
            999_999,
            name="240p",
            playlist=playlists["240p"],
            data_root=data_root,
            **fields,
        )
