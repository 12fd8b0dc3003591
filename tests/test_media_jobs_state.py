"""The typed job state: planned from a clip, stored as JSON in the layout jobs have always had."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from core.db.models import ProcessingJob, Video, utcnow
from core.db.session import session_scope
from core.types import JobState
from media.encode.ladder import LADDER
from media.encode.testpattern import make_test_clip
from media.jobs.options import TranscodeOptions
from media.jobs.plan import plan_job, unit_specs
from media.jobs.records import create_job, finish_job, job_status, start_attempt
from media.jobs.state import UNIT_DONE, JobDetail, unit_key

#: The keys of ``processing_jobs.detail`` written by the untyped job code.
LAYOUT = {
    "source",
    "package_dir",
    "work_dir",
    "duration_s",
    "rungs",
    "chunks",
    "rung_chunks",
    "progressive",
    "units",
    "published",
    "renditions",
    "options",
}


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("clip")
    return make_test_clip(folder / "clip.mp4", seconds=4.2, width=640, height=360)


def test_a_plan_round_trips_through_json_in_the_old_layout(clip: Path, tmp_path: Path) -> None:
    options = TranscodeOptions(chunk_seconds=2)
    detail = plan_job(clip, tmp_path / "pkg", tmp_path / "work", options)
    stored = json.loads(json.dumps(detail.to_json()))
    assert set(stored) >= LAYOUT
    assert JobDetail.from_json(stored) == detail
    assert [r.name for r in detail.rungs] == ["240p", "360p"]
    assert detail.progressive is not None and detail.progressive.rung == "240p"
    assert set(detail.units) == {"audio"} | {
        unit_key(rung, chunk.index) for rung in ("240p", "360p") for chunk in detail.chunks_of(rung)
    }
    assert detail.progress() == 0.0
    first = unit_specs(detail, options)[0]
    assert first.unit_keys == ["240p/0"], "the lowest rung's first chunk goes first"


def test_a_detail_written_before_the_typed_model_still_reads(tmp_path: Path) -> None:
    rung = LADDER[0]
    old = {
        "source": str(tmp_path / "clip.mp4"),
        "package_dir": str(tmp_path / "pkg"),
        "work_dir": str(tmp_path / "work"),
        "duration_s": 4.0,
        "rungs": [rung.model_dump()],
        "chunks": [
            {"index": 0, "start_s": None, "end_s": 2.0},
            {"index": 1, "start_s": 2.0, "end_s": None},
        ],
        "rung_chunks": {},
        "progressive": None,
        "units": {
            "audio": {"state": "done", "runs": 1, "weight": 0.08, "node": "n1", "pid": 7},
            "240p/0": {"state": "failed", "runs": 1, "weight": 0.4, "error": "boom"},
            "240p/1": {"state": "pending", "runs": 0, "weight": 0.4},
        },
        "published": [],
        "renditions": {},
        "options": TranscodeOptions(chunk_seconds=2).model_dump(mode="json"),
        "frame_rate": 25.0,
    }
    detail = JobDetail.from_json(old)
    assert detail.source == tmp_path / "clip.mp4"
    assert detail.units["audio"].state == UNIT_DONE and detail.units["240p/0"].error == "boom"
    assert detail.progress() == pytest.approx(0.08 / 0.88, abs=1e-4)
    assert detail.options == TranscodeOptions(chunk_seconds=2)
    specs = unit_specs(detail, detail.options)
    assert [s.key for s in specs] == ["240p/0", "audio", "240p/1"], "audio's file is missing"


def test_a_running_job_without_a_recent_heartbeat_reads_as_worker_lost(
    sqlite_url: str, clip: Path, tmp_path: Path
) -> None:
    with session_scope(sqlite_url) as session:
        video = Video(title="heartbeat")
        session.add(video)
        session.flush()
        video_id = video.id
    detail = plan_job(clip, tmp_path / "pkg", tmp_path / "work", TranscodeOptions(lease_seconds=30))
    assert detail.lease_s == 30
    job_id = create_job(sqlite_url, video_id, detail)
    assert job_status(sqlite_url, video_id).state is JobState.PENDING
    start_attempt(sqlite_url, job_id)  # beats
    assert job_status(sqlite_url, video_id).state is JobState.RUNNING

    def beat_at(seconds_ago: float) -> None:
        with session_scope(sqlite_url) as session:
            job = session.get(ProcessingJob, job_id)
            assert job is not None
            stale = JobDetail.from_json(job.detail)
            stale.heartbeat_at = utcnow() - timedelta(seconds=seconds_ago)
            job.detail = stale.to_json()

    beat_at(20)
    assert job_status(sqlite_url, video_id).state is JobState.RUNNING
    beat_at(45)
    status = job_status(sqlite_url, video_id)
    assert status.state is JobState.FAILED
    assert status.error == "worker lost: no heartbeat for 45 s (lease 30 s); resume the job"
    finish_job(sqlite_url, job_id, "boom")
    assert job_status(sqlite_url, video_id).error == "boom", "a finished job is never lost"
