"""Transcoding jobs: state in processing_jobs, progress, failure, resume, a killed Ray worker."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import psutil
import pytest

from core.db.models import ProcessingJob, Rendition, Video
from core.db.session import session_scope
from core.errors import NotFoundError
from core.types import JobState, VideoStatus
from media.encode.testpattern import make_test_clip
from media.errors import MediaError
from media.hls.playlists import parse_media_playlist
from media.hls.validate import validate_package
from media.ingest.upload import ingest_file
from media.jobs.options import TranscodeOptions
from media.jobs.records import job_status
from media.jobs.runner import LadderPackage, process_video, resume_job
from media.jobs.state import PublishedRung


def _rendition_names(database_url: str, video_id: int) -> list[str]:
    with session_scope(database_url) as session:
        rows = session.query(Rendition).filter_by(video_id=video_id).order_by(Rendition.height)
        return [r.name for r in rows]


def _job(database_url: str, video_id: int) -> ProcessingJob:
    with session_scope(database_url) as session:
        return session.query(ProcessingJob).filter_by(video_id=video_id).one()


def test_failed_units_leave_a_resumable_job_that_redoes_only_them(
    sqlite_url: str, data_root: Path, tmp_path: Path
) -> None:
    source = make_test_clip(tmp_path / "clip.mp4", seconds=4.2, width=640, height=360)
    good = source.read_bytes()
    accepted = ingest_file(sqlite_url, source, title="resumable")
    video_id, original = accepted.video_id, accepted.local_path
    options = TranscodeOptions(chunk_seconds=2)

    def break_source(rung: PublishedRung) -> None:
        # after the first rung is out, the original goes bad: every later unit fails
        original.write_bytes(good[:1000])

    with pytest.raises(MediaError, match=r"transcoding job \d+ failed: 360p/0: .*resumable"):
        process_video(
            sqlite_url,
            video_id,
            original,
            data_root,
            options,
            on_ray=False,
            on_publish=break_source,
        )
    status = job_status(sqlite_url, video_id)
    assert status.state is JobState.FAILED and status.video_status is VideoStatus.READY
    assert status.rungs == {"240p": "published", "360p": "failed"}
    assert 0 < status.progress < 1 and status.attempts == 1
    assert "360p/0" in status.error and status.master is not None
    assert _rendition_names(sqlite_url, video_id) == ["240p"], "the first rung stays playable"
    low_playlist = data_root / "media" / "hls" / str(video_id) / "240p" / "index.m3u8"
    low_mtime = low_playlist.stat().st_mtime_ns

    original.write_bytes(good)
    package = resume_job(sqlite_url, video_id, data_root, on_ray=False)
    assert isinstance(package, LadderPackage)
    assert set(package.units_run) == {"360p/0", "360p/1"}, "only the missing units"
    assert low_playlist.stat().st_mtime_ns == low_mtime
    assert [r.name for r in package.renditions] == ["240p", "360p"]
    assert _rendition_names(sqlite_url, video_id) == ["240p", "360p"]
    status = job_status(sqlite_url, video_id)
    assert (status.state, status.progress, status.attempts) == (JobState.SUCCEEDED, 1.0, 2)
    assert status.rungs == {"240p": "published", "360p": "published"}
    runs = {u.key: u.runs for u in status.units}
    assert runs == {
        "audio": 1,
        "240p/0": 1,  # the lowest rung is chunked on 6 s segments: one chunk here
        "360p/0": 2,
        "360p/1": 2,
    }
    assert validate_package(package.master.parent).ok
    assert "360p published" in status.describe()
    with pytest.raises(MediaError, match="already succeeded"):
        resume_job(sqlite_url, video_id, data_root, on_ray=False)


@pytest.mark.slow
def test_a_job_failing_while_the_lowest_rung_grows_resumes_where_it_stopped(
    sqlite_url: str, data_root: Path, tmp_path: Path
) -> None:
    source = make_test_clip(tmp_path / "clip.mp4", seconds=14, width=640, height=360)
    good = source.read_bytes()
    accepted = ingest_file(sqlite_url, source, title="grows, fails, resumes")
    video_id, original = accepted.video_id, accepted.local_path
    options = TranscodeOptions(chunk_seconds=30)
    growing: list[float] = []

    def break_source(rung: PublishedRung) -> None:
        # the first 6 s of 240p are out (EVENT playlist); then the original goes bad
        if not rung.complete:
            growing.append(parse_media_playlist(rung.playlist).duration_s)
            original.write_bytes(good[:1000])

    with pytest.raises(MediaError, match=r"transcoding job \d+ failed: 240p/1: .*resumable"):
        process_video(
            sqlite_url,
            video_id,
            original,
            data_root,
            options,
            on_ray=False,
            on_publish=break_source,
        )
    assert growing == [6.0]
    status = job_status(sqlite_url, video_id)
    assert status.state is JobState.FAILED and status.video_status is VideoStatus.READY
    assert status.rungs["240p"] == "playable, growing (1/3 chunks out)"
    live = data_root / "media" / "hls" / str(video_id) / "240p" / "live.m3u8"
    playlist = parse_media_playlist(live)
    assert (playlist.playlist_type, playlist.endlist) == ("EVENT", False), "more is to come"
    first_segment = live.parent / playlist.segments[0].uri
    first_bytes = first_segment.read_bytes()

    original.write_bytes(good)
    package = resume_job(sqlite_url, video_id, data_root, on_ray=False)
    assert set(package.units_run) == {"240p/1", "240p/2", "360p/0"}, "only the missing units"
    assert first_segment.read_bytes() == first_bytes, "published segments never change"
    assert parse_media_playlist(live).endlist
    assert parse_media_playlist(package.renditions[0].playlist).duration_s == pytest.approx(14)
    assert validate_package(package.master.parent).ok


def test_status_of_unknown_videos_and_jobs(sqlite_url: str) -> None:
    with pytest.raises(NotFoundError, match="video 4242 does not exist"):
        job_status(sqlite_url, 4242)
    with session_scope(sqlite_url) as session:
        video = Video(title="never processed")
        session.add(video)
        session.flush()
        video_id = video.id
    with pytest.raises(NotFoundError, match=f"video {video_id} has no transcoding job"):
        job_status(sqlite_url, video_id)


def _kill_worker_running(unit: str, timeout_s: float = 60) -> int:
    """SIGKILL the Ray worker process whose title says it is encoding ``unit``; its pid."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for process in psutil.process_iter(["pid", "cmdline"]):
            cmdline = " ".join(process.info["cmdline"] or [])
            task = cmdline.strip()
            if task.startswith("ray::encode ") and unit in task.split(" ", 1)[1].split("+"):
                os.kill(process.info["pid"], signal.SIGKILL)
                return process.info["pid"]
        time.sleep(0.01)
    raise AssertionError(f"no Ray worker encoded {unit!r} within {timeout_s} s")


def _run_in_thread(target: object, *args: object) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["result"] = target(*args)  # type: ignore[operator]
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


@pytest.mark.slow
def test_killed_worker_fails_the_job_and_resume_redoes_only_its_chunk(
    local_ray: Path, sqlite_url: str, data_root: Path, tmp_path: Path
) -> None:
    source = make_test_clip(tmp_path / "clip.mp4", seconds=8, width=1280, height=720)
    video_id = ingest_file(sqlite_url, source, title="killed").video_id
    original = data_root / "media" / "originals" / f"{video_id}.mp4"
    options = TranscodeOptions(chunk_seconds=4, max_retries=0, attempts=1)
    thread, outcome = _run_in_thread(
        process_video, sqlite_url, video_id, original, data_root, options
    )
    killed = _kill_worker_running("720p/0")
    thread.join(timeout=120)
    error = outcome.get("error")
    assert isinstance(error, MediaError), outcome
    assert "720p/0:" in str(error) and "resumable" in str(error)
    status = job_status(sqlite_url, video_id)
    assert status.state is JobState.FAILED
    # 360p and 720p of a chunk share one decode, so the killed task held both
    assert status.rungs == {
        "240p": "published",
        "360p": "encoding 1/2",
        "720p": "encoding 1/2",
    }
    units = {u.key: u for u in status.units}
    assert units["720p/0"].state == units["360p/0"].state == "failed"
    assert units["720p/1"].state == units["360p/1"].state == "done"
    assert _job(sqlite_url, video_id).detail["units"]["720p/1"]["pid"] != killed

    package = resume_job(sqlite_url, video_id, data_root)
    assert set(package.units_run) == {"360p/0", "720p/0"}, "only the killed chunk runs again"
    assert [r.name for r in package.renditions] == ["240p", "360p", "720p"]
    assert job_status(sqlite_url, video_id).state is JobState.SUCCEEDED
    report = validate_package(package.master.parent)
    assert report.ok, str(report)


@pytest.mark.slow
def test_ray_reruns_a_killed_task_by_itself(
    local_ray: Path, sqlite_url: str, data_root: Path, tmp_path: Path
) -> None:
    source = make_test_clip(tmp_path / "clip.mp4", seconds=4, width=1280, height=720)
    video_id = ingest_file(sqlite_url, source, title="retried").video_id
    original = data_root / "media" / "originals" / f"{video_id}.mp4"
    options = TranscodeOptions(chunk_seconds=None, max_retries=2, attempts=1)
    thread, outcome = _run_in_thread(
        process_video, sqlite_url, video_id, original, data_root, options
    )
    killed = _kill_worker_running("720p/0")
    thread.join(timeout=120)
    assert "error" not in outcome, outcome
    detail = _job(sqlite_url, video_id).detail
    assert detail["units"]["720p/0"]["pid"] != killed and detail["units"]["720p/0"]["runs"] == 1
    assert job_status(sqlite_url, video_id).state is JobState.SUCCEEDED
