"""Transcoding jobs persisted in ``processing_jobs``: per-unit state in ``detail``, progress.

A job's ``detail`` holds the plan (source, rungs, chunks) and the state of every unit of work
(``"<rung>/<chunk>"`` and ``"audio"``), so a failed or interrupted job resumes where it stopped.
Only the driver writes here; Ray tasks return their results to it.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from core.db.models import ProcessingJob, Video, utcnow
from core.db.session import session_scope
from core.errors import NotFoundError
from core.types import JobState, VideoStatus

#: ``ProcessingJob.kind`` of a transcoding job.
TRANSCODE = "transcode"

UNIT_PENDING, UNIT_RUNNING, UNIT_DONE, UNIT_FAILED = "pending", "running", "done", "failed"


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


def unit_key(rung: str, chunk: int) -> str:
    """The key of chunk ``chunk`` of rung ``rung``."""
    return f"{rung}/{chunk}"


def find_job(database_url: str, video_id: int) -> ProcessingJob | None:
    """The latest transcoding job of the video, detached, or None."""
    with session_scope(database_url) as session:
        return session.scalars(
            select(ProcessingJob)
            .where(ProcessingJob.video_id == video_id, ProcessingJob.kind == TRANSCODE)
            .order_by(ProcessingJob.id.desc())
            .limit(1)
        ).first()


def create_job(database_url: str, video_id: int, detail: dict[str, Any]) -> int:
    """A new pending transcoding job for the video with ``detail``; its id."""
    with session_scope(database_url) as session:
        if session.get(Video, video_id) is None:
            raise NotFoundError(f"video {video_id} does not exist")
        job = ProcessingJob(video_id=video_id, kind=TRANSCODE, detail=detail)
        session.add(job)
        session.flush()
        return job.id


def _job(session: Any, job_id: int) -> ProcessingJob:
    job = session.get(ProcessingJob, job_id, with_for_update=True)
    if job is None:
        raise NotFoundError(f"processing job {job_id} does not exist")
    return job


def _progress(detail: dict[str, Any]) -> float:
    """Done work over all work, each unit weighted by its ``weight``."""
    units = detail.get("units", {})
    total = sum(u.get("weight", 1.0) for u in units.values())
    done = sum(u.get("weight", 1.0) for u in units.values() if u["state"] == UNIT_DONE)
    return round(done / total, 4) if total else 0.0


def start_attempt(database_url: str, job_id: int) -> dict[str, Any]:
    """Mark the job running for a new attempt; units not done go back to pending. Its detail."""
    with session_scope(database_url) as session:
        job = _job(session, job_id)
        detail = copy.deepcopy(job.detail)
        for unit in detail.get("units", {}).values():
            if unit["state"] != UNIT_DONE:
                unit["state"] = UNIT_PENDING
        job.detail = detail
        job.state, job.error, job.finished_at = JobState.RUNNING, None, None
        job.attempts += 1
        job.started_at = job.started_at or utcnow()
        job.progress = _progress(detail)
        return copy.deepcopy(detail)


def update_job(
    database_url: str,
    job_id: int,
    units: dict[str, dict[str, Any]] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Merge ``units`` (key -> fields) and top-level ``fields`` into the detail; return it."""
    with session_scope(database_url) as session:
        job = _job(session, job_id)
        detail = copy.deepcopy(job.detail)
        for key, values in (units or {}).items():
            detail.setdefault("units", {}).setdefault(key, {}).update(values)
        detail.update(fields)
        job.detail = detail
        job.progress = _progress(detail)
        return copy.deepcopy(detail)


def finish_job(database_url: str, job_id: int, error: str | None = None) -> None:
    """Mark the job succeeded, or failed with ``error`` (it stays resumable)."""
    with session_scope(database_url) as session:
        job = _job(session, job_id)
        job.state = JobState.FAILED if error else JobState.SUCCEEDED
        job.error = error
        job.finished_at = utcnow()
        job.progress = 1.0 if error is None else _progress(job.detail)


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
        detail = job.detail or {}
        units = detail.get("units", {})
        rungs: dict[str, str] = {}
        published = list(detail.get("published", []))
        progressive = detail.get("progressive") or {}
        live = (progressive.get("state") or {}).get("chunks", 0)
        for spec in detail.get("rungs", []):
            name = spec["name"]
            states = [u["state"] for k, u in units.items() if k.startswith(f"{name}/")]
            if name in published:
                rungs[name] = "published"
            elif progressive.get("rung") == name and live:
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
        return JobStatus(
            job_id=job.id,
            video_id=video_id,
            video_status=video.status,
            state=job.state,
            progress=job.progress,
            attempts=job.attempts,
            error=job.error,
            rungs=rungs,
            published=published,
            units=[
                UnitStatus(
                    key=key,
                    state=u["state"],
                    runs=u.get("runs", 0),
                    node=u.get("node"),
                    seconds=u.get("seconds"),
                )
                for key, u in units.items()
            ],
            master=detail.get("master") if published or live else None,
            started_at=job.started_at,
            finished_at=job.finished_at,
        )
