"""Transcoding jobs persisted in ``processing_jobs``: their typed state, progress and status.

A job's ``detail`` is its ``JobDetail`` (``media.jobs.state``) as JSON. Only the driver writes
here; Ray tasks return their results to it. The driver stamps ``heartbeat_at`` while it works, so
a running job whose heartbeat is older than its lease (its driver was killed) reads as failed.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.models import ProcessingJob, Video, utcnow
from core.db.session import session_scope
from core.errors import NotFoundError
from core.types import JobState, VideoStatus
from media.jobs.state import UNIT_DONE, UNIT_FAILED, UNIT_PENDING, UNIT_RUNNING, JobDetail

#: ``ProcessingJob.kind`` of a transcoding job.
TRANSCODE = "transcode"
#: The error a running job whose runner stopped beating reads with.
WORKER_LOST = "worker lost"


class UnitStatus(BaseModel):
    """State of one unit of work (a chunk of a rung, or the audio)."""

    model_config = ConfigDict(frozen=True)

    key: str
    state: str
    runs: int
    node: str | None = None
    seconds: float | None = None


class JobStatus(BaseModel):
    """What the CLI shows for a video's transcoding job."""

    model_config = ConfigDict(frozen=True)

    job_id: int
    video_id: int
    video_status: VideoStatus
    state: JobState
    progress: float
    attempts: int
    error: str | None
    rungs: dict[str, str]
    published: list[str]
    units: list[UnitStatus]
    master: str | None
    started_at: datetime | None
    finished_at: datetime | None

    def describe(self) -> str:
        """A few human-readable lines."""
        lines = [
            f"video {self.video_id} ({self.video_status}): job {self.job_id} {self.state} "
            f"{self.progress:.0%}, attempt {self.attempts}",
            "rungs: " + ", ".join(f"{name} {state}" for name, state in self.rungs.items()),
        ]
        if self.error:
            lines.append(f"error: {self.error}")
        if self.master:
            lines.append(f"master: {self.master}")
        return "\n".join(lines)


def find_job(database_url: str, video_id: int) -> ProcessingJob | None:
    """The latest transcoding job of the video, detached, or None."""
    with session_scope(database_url) as session:
        return session.scalars(
            select(ProcessingJob)
            .where(ProcessingJob.video_id == video_id, ProcessingJob.kind == TRANSCODE)
            .order_by(ProcessingJob.id.desc())
            .limit(1)
        ).first()


def create_job(database_url: str, video_id: int, detail: JobDetail) -> int:
    """A new pending transcoding job for the video with ``detail``; its id."""
    with session_scope(database_url) as session:
        if session.get(Video, video_id) is None:
            raise NotFoundError(f"video {video_id} does not exist")
        job = ProcessingJob(video_id=video_id, kind=TRANSCODE, detail=detail.to_json())
        session.add(job)
        session.flush()
        return job.id


def _job(session: Session, job_id: int) -> ProcessingJob:
    job = session.get(ProcessingJob, job_id, with_for_update=True)
    if job is None:
        raise NotFoundError(f"processing job {job_id} does not exist")
    return job


def start_attempt(database_url: str, job_id: int) -> JobDetail:
    """Mark the job running for a new attempt; units not done go back to pending. Its state."""
    with session_scope(database_url) as session:
        job = _job(session, job_id)
        detail = JobDetail.from_json(job.detail)
        for unit in detail.units.values():
            if unit.state != UNIT_DONE:
                unit.state = UNIT_PENDING
        detail.heartbeat_at = utcnow()
        job.detail = detail.to_json()
        job.state, job.error, job.finished_at = JobState.RUNNING, None, None
        job.attempts += 1
        job.started_at = job.started_at or utcnow()
        job.progress = detail.progress()
        return detail


def save_job(database_url: str, job_id: int, detail: JobDetail) -> None:
    """Store ``detail`` as the job's state with a fresh heartbeat, and its progress."""
    detail.heartbeat_at = utcnow()
    with session_scope(database_url) as session:
        job = _job(session, job_id)
        job.detail = detail.to_json()
        job.progress = detail.progress()


def finish_job(database_url: str, job_id: int, error: str | None = None) -> None:
    """Mark the job succeeded, or failed with ``error`` (it stays resumable)."""
    with session_scope(database_url) as session:
        job = _job(session, job_id)
        job.state = JobState.FAILED if error else JobState.SUCCEEDED
        job.error = error
        job.finished_at = utcnow()
        job.progress = 1.0 if error is None else JobDetail.from_json(job.detail).progress()


def lost_for(job: ProcessingJob, now: datetime | None = None) -> float | None:
    """Seconds since the runner of a running ``job`` last beat, if that is longer than the job's
    lease (the runner is gone: killed, or its machine lost); None for a live or finished job."""
    if job.state is not JobState.RUNNING:
        return None
    detail = JobDetail.from_json(job.detail)
    age = detail.heartbeat_age(now or utcnow(), job.started_at)
    return age if age is not None and age > detail.lease_s else None


def job_status(database_url: str, video_id: int) -> JobStatus:
    """Progress of the latest transcoding job of the video (``NotFoundError`` if none)."""
    with session_scope(database_url) as session:
        video = session.get(Video, video_id)
        if video is None:
            raise NotFoundError(f"video {video_id} does not exist")
        job = session.scalars(
            select(ProcessingJob)
            .where(ProcessingJob.video_id == video_id, ProcessingJob.kind == TRANSCODE)
            .order_by(ProcessingJob.id.desc())
            .limit(1)
        ).first()
        if job is None:
            raise NotFoundError(f"video {video_id} has no transcoding job")
        detail = JobDetail.from_json(job.detail)
        rungs: dict[str, str] = {}
        published = list(detail.published)
        progressive = detail.progressive
        live = progressive.state.chunks if progressive and progressive.state else 0
        for rung in detail.rungs:
            name = rung.name
            states = [u.state for k, u in detail.units.items() if k.startswith(f"{name}/")]
            if name in published:
                rungs[name] = "published"
            elif progressive is not None and progressive.rung == name and live:
                rungs[name] = f"playable, growing ({live}/{len(states)} chunks out)"
            elif states and all(s == UNIT_DONE for s in states):
                rungs[name] = "encoded"
            elif any(s in (UNIT_DONE, UNIT_RUNNING) for s in states):
                done = sum(s == UNIT_DONE for s in states)
                rungs[name] = f"encoding {done}/{len(states)}"
            elif any(s == UNIT_FAILED for s in states):
                rungs[name] = "failed"
            else:
                rungs[name] = "pending"
        lost = lost_for(job)
        return JobStatus(
            job_id=job.id,
            video_id=video_id,
            video_status=video.status,
            state=JobState.FAILED if lost is not None else job.state,
            progress=job.progress,
            attempts=job.attempts,
            error=(
                f"{WORKER_LOST}: no heartbeat for {lost:.0f} s (lease {detail.lease_s:g} s); "
                "resume the job"
                if lost is not None
                else job.error
            ),
            rungs=rungs,
            published=published,
            units=[
                UnitStatus(key=key, state=u.state, runs=u.runs, node=u.node, seconds=u.seconds)
                for key, u in detail.units.items()
            ],
            master=str(detail.master) if detail.master and (published or live) else None,
            started_at=job.started_at,
            finished_at=job.finished_at,
        )
