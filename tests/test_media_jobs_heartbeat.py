"""A killed ingest: its job reads as failed (worker lost) once the heartbeat lease runs out, and
``media resume`` finishes it, redoing only what the killed process had not recorded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from core.db.models import ProcessingJob
from core.db.session import session_scope
from core.errors import NotFoundError
from core.types import JobState
from flows.cli import main
from media.encode.testpattern import make_test_clip
from media.hls.validate import validate_package
from media.jobs.records import JobStatus, job_status

ROOT = Path(__file__).resolve().parent.parent
LEASE_S = 5.0

#: ``reelrank media ingest`` without the extras, with a short lease, in its own process.
DRIVER = f"""
import sys
from pathlib import Path
from media.jobs.options import TranscodeOptions
from media.jobs.runner import ingest_and_process
ingest_and_process(
    Path(sys.argv[1]),
    database_url=sys.argv[2],
    title="killed",
    options=TranscodeOptions(chunk_seconds=2, lease_seconds={LEASE_S}),
    on_ray=False,
)
"""


def _status(database_url: str) -> JobStatus | None:
    try:
        return job_status(database_url, 1)
    except NotFoundError:
        return None


def _wait_for(
    database_url: str, ready: Callable[[JobStatus], bool], timeout_s: float, what: str
) -> JobStatus:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = _status(database_url)
        if status is not None and ready(status):
            return status
        time.sleep(0.1)
    raise AssertionError(f"{what} within {timeout_s} s; last status: {_status(database_url)}")


@pytest.mark.slow
def test_a_killed_ingest_reads_as_worker_lost_and_media_resume_finishes_it(
    local_ray: Path,
    sqlite_url: str,
    data_root: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = make_test_clip(tmp_path / "clip.mp4", seconds=12, width=640, height=360)
    env = {
        **os.environ,
        "REELRANK_DATA_ROOT": str(data_root),
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(source), sqlite_url],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        running = _wait_for(
            sqlite_url,
            lambda s: s.state is JobState.RUNNING and any(u.state == "done" for u in s.units),
            120,
            "the ingest did not record a finished unit",
        )
        assert driver.poll() is None, driver.communicate()[1].decode()[-3000:]
        # while its runner is alive, the job is running and cannot be resumed a second time
        assert main(["media", "resume", "1"]) == 2
        assert "is running (its runner is alive)" in capsys.readouterr().err
        driver.send_signal(signal.SIGKILL)
        assert driver.wait(timeout=30) == -signal.SIGKILL
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    assert 0 < running.progress < 1

    lost = _wait_for(
        sqlite_url,
        lambda s: s.state is JobState.FAILED,
        LEASE_S + 30,
        "the killed job did not read as failed",
    )
    assert lost.error is not None and lost.error.startswith("worker lost: no heartbeat for ")
    assert main(["media", "status", "1"]) == 0
    out = capsys.readouterr().out
    assert "job 1 failed" in out and "error: worker lost" in out
    with session_scope(sqlite_url) as session:
        job = session.scalars(select(ProcessingJob)).one()
        assert job.state is JobState.RUNNING, "the row still says running: only reads say failed"
        done_before = {k for k, u in job.detail["units"].items() if u["state"] == "done"}
    assert done_before

    assert main(["media", "resume", "1"]) == 0
    master = Path(capsys.readouterr().out.strip().splitlines()[-1])
    status = job_status(sqlite_url, 1)
    assert (status.state, status.progress, status.error) == (JobState.SUCCEEDED, 1.0, None)
    assert validate_package(master.parent).ok
    with session_scope(sqlite_url) as session:
        units = session.scalars(select(ProcessingJob)).one().detail["units"]
    assert {k for k, u in units.items() if u["pid"] == driver.pid} == done_before, (
        "units the killed process finished are kept; the rest ran again, on Ray"
    )
    assert all(u["state"] == "done" and u["runs"] == 1 for u in units.values())
