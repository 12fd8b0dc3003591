"""A video's way from upload to ready, stage by stage: upload, probe, transcode (per rung),
package, ready, then the extras (validate, poster, storyboard, download, embeddings); read
from its upload row, its transcoding job (``media.jobs.records``) and its extras row."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.models import Upload, Video
from core.errors import NotFoundError
from core.settings import Settings
from core.types import JobState, VideoStatus
from media.jobs.records import JobStatus, job_status
from media.jobs.state import UNIT_DONE
from serving.package_extras import STEPS, extras_job
from serving.upload_models import ProcessingOut, RungOut, StageOut
from serving.uploads import PROCESSING, RECEIVING, aware

#: The prefix ``media.ingest.upload`` gives the reason of a rejected upload.
REJECTED = "upload rejected"


def _upload_stage(upload: Upload | None) -> StageOut:
    if upload is None:
        return StageOut(name="upload", state="skipped", progress=1.0, detail="not uploaded here")
    share = upload.offset / upload.length if upload.length else 1.0
    if upload.state == RECEIVING:
        return StageOut(
            name="upload",
            state="running",
            progress=round(share, 4),
            detail=f"{upload.offset} of {upload.length} bytes; expires {aware(upload.expires_at)}",
        )
    if upload.offset < upload.length:
        return StageOut(
            name="upload", state="failed", progress=round(share, 4), detail=upload.error
        )
    return StageOut(name="upload", state="done", progress=1.0, detail=f"{upload.length} bytes")


def _probe_stage(video: Video, upload: Upload | None, job: JobStatus | None) -> StageOut:
    reason = video.failure_reason or ""
    if video.status is VideoStatus.FAILED and reason.startswith(REJECTED):
        return StageOut(name="probe", state="failed", progress=0.0, detail=reason)
    if job is not None or video.duration_s is not None:
        detail = f"{video.duration_s:g} s of video" if video.duration_s else None
        return StageOut(name="probe", state="done", progress=1.0, detail=detail)
    if upload is not None and upload.state == PROCESSING:
        return StageOut(name="probe", state="running", progress=0.0)
    return StageOut(name="probe", state="pending", progress=0.0)


def _rungs(job: JobStatus) -> list[RungOut]:
    rungs = []
    for name, state in job.rungs.items():
        units = [u for u in job.units if u.key.startswith(f"{name}/")]
        done = sum(u.state == UNIT_DONE for u in units)
        progress = 1.0 if name in job.published else (done / len(units) if units else 0.0)
        rungs.append(RungOut(name=name, state=state, progress=round(progress, 4)))
    return rungs


def _transcode_stage(video: Video, job: JobStatus | None) -> StageOut:
    if job is None:
        if video.status is VideoStatus.FAILED:
            return StageOut(name="transcode", state="skipped", progress=0.0)
        return StageOut(name="transcode", state="pending", progress=0.0)
    encoded = all(u.state == UNIT_DONE for u in job.units)
    if encoded:
        state = "done"
    elif job.state is JobState.FAILED:
        state = "failed"
    elif job.state is JobState.RUNNING:
        state = "running"
    else:
        state = "pending"
    progress = 1.0 if encoded else job.progress
    return StageOut(name="transcode", state=state, progress=progress, detail=job.error)


def _package_stage(job: JobStatus | None) -> StageOut:
    if job is None or not job.rungs:
        return StageOut(name="package", state="pending", progress=0.0)
    share = len(job.published) / len(job.rungs)
    if share == 1.0:
        state = "done"
    elif job.state is JobState.FAILED:
        state = "failed"
    else:
        state = "running" if job.published or job.master else "pending"
    detail = f"{len(job.published)} of {len(job.rungs)} rungs published"
    return StageOut(name="package", state=state, progress=round(share, 4), detail=detail)


def _extras_stages(database_url: str, video: Video) -> list[StageOut]:
    job = extras_job(database_url, video.id)
    steps: dict[str, dict[str, str | None]] = job.detail.get("steps", {}) if job else {}
    stages = []
    for name in STEPS:
        step = steps.get(name, {})
        state = step.get("state") or (
            "skipped" if video.status is VideoStatus.FAILED else "pending"
        )
        done = state in ("done", "failed", "skipped")
        stages.append(
            StageOut(
                name=name,
                state=state,
                progress=1.0 if done else 0.0,
                detail=step.get("note"),
            )
        )
    return stages


def _ready_stage(video: Video) -> StageOut:
    if video.status is VideoStatus.READY:
        return StageOut(name="ready", state="done", progress=1.0, detail="playable")
    if video.status is VideoStatus.FAILED:
        return StageOut(name="ready", state="failed", progress=0.0, detail=video.failure_reason)
    return StageOut(name="ready", state="pending", progress=0.0)


def processing_of(session: Session, settings: Settings, video: Video) -> ProcessingOut:
    """The video's processing status (the caller checked who may read it)."""
    upload = session.scalars(
        select(Upload).where(Upload.video_id == video.id).order_by(Upload.created_at.desc())
    ).first()
    try:
        job: JobStatus | None = job_status(settings.resolved_database_url, video.id)
    except NotFoundError:
        job = None
    return ProcessingOut(
        video_id=video.id,
        video_status=video.status,
        failure_reason=video.failure_reason,
        upload_id=upload.id if upload else None,
        job_id=job.job_id if job else None,
        job_state=job.state if job else None,
        progress=job.progress if job else 0.0,
        stages=[
            _upload_stage(upload),
            _probe_stage(video, upload, job),
            _transcode_stage(video, job),
            _package_stage(job),
            _ready_stage(video),
            *_extras_stages(settings.resolved_database_url, video),
        ],
        rungs=_rungs(job) if job else [],
        manifest_url=f"/videos/{video.id}/manifest.m3u8" if video.renditions else None,
    )
