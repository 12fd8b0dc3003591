"""The creator's studio: their videos in every state, edits, and deletion with the files.

Who may touch a video: its channel's owner, or an admin. Anyone else is refused the same way
everywhere: 404 when they could not see the video anyway (private, or not ready), 403 when they
can see it but it is not theirs. Viewers are refused (403) before any video is looked up.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core.db.models import Channel, Upload, Video, utcnow
from core.errors import ConflictError, NotFoundError, PermissionDeniedError
from core.settings import Settings
from core.types import JobState, VideoStatus, Visibility
from media.jobs.records import find_job, lost_for
from serving.auth import Principal
from serving.package_extras import extras_job, forget_embeddings
from serving.upload_models import StudioPage, StudioVideo, VideoFields
from serving.uploads import FAILED, PROCESSING, RECEIVING, aware, partial_path

log = logging.getLogger(__name__)

#: A worker's claim on an upload lapses after this long without a beat (``MediaQueue``).
CLAIM_LEASE_S = 60.0


def owns(session: Session, principal: Principal, video: Video) -> bool:
    """Whether the caller owns the video's channel (admins own everything)."""
    if principal.is_admin:
        return True
    if video.channel_id is None:
        return False
    owner = session.scalar(select(Channel.owner_id).where(Channel.id == video.channel_id))
    return owner == principal.user_id


def owned_video(session: Session, principal: Principal, video_id: int) -> Video:
    """The video, if the caller may manage it; 404 if they cannot see it, else 403."""
    video = session.get(Video, video_id)
    if video is None:
        raise NotFoundError(f"video {video_id} not found")
    if owns(session, principal, video):
        return video
    if video.visibility is Visibility.PRIVATE or video.status is not VideoStatus.READY:
        raise NotFoundError(f"video {video_id} not found")
    raise PermissionDeniedError(f"video {video_id} belongs to another creator")


def studio_video(video: Video) -> StudioVideo:
    """The creator's view of a video."""
    out = StudioVideo.model_validate(video)
    if video.renditions:
        out.manifest_url = f"/videos/{video.id}/manifest.m3u8"
    return out


def my_videos(session: Session, principal: Principal, limit: int, offset: int) -> StudioPage:
    """The caller's videos (every channel they own), in every state, newest first."""
    query = (
        select(Video)
        .join(Channel, Channel.id == Video.channel_id)
        .where(Channel.owner_id == principal.user_id)
    )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Video.created_at.desc(), Video.id.desc()).limit(limit).offset(offset)
    )
    return StudioPage(
        items=[studio_video(v) for v in rows], total=total, limit=limit, offset=offset
    )


def edit_video(session: Session, principal: Principal, video_id: int, edit: VideoFields) -> Video:
    """Apply the fields set in ``edit``; stamps ``updated_at`` when anything changed."""
    video = owned_video(session, principal, video_id)
    changed = False
    for name, value in edit.model_dump(exclude_unset=True).items():
        if value is None:
            continue
        if name == "visibility":
            value = Visibility(value)
        if getattr(video, name) != value:
            setattr(video, name, value)
            changed = True
    if changed:
        video.updated_at = utcnow()
    session.flush()
    return video


def _busy(session: Session, settings: Settings, video: Video) -> bool:
    """Whether a live worker may still write the video's files: its transcoding job or its
    extras run, or a live claim on its upload before any extras ran (ingest, hand-over)."""
    url = settings.resolved_database_url
    job = find_job(url, video.id)
    if job is not None and job.state is JobState.RUNNING and lost_for(job) is None:
        return True
    extras = extras_job(url, video.id)
    if extras is not None:
        return extras.state is JobState.RUNNING and (
            extras.started_at is None
            or (utcnow() - aware(extras.started_at)).total_seconds() < CLAIM_LEASE_S * 60
        )
    claimed = session.scalars(
        select(Upload.updated_at).where(Upload.video_id == video.id, Upload.state == PROCESSING)
    ).all()
    return any((utcnow() - aware(stamp)).total_seconds() < CLAIM_LEASE_S for stamp in claimed)


def video_files(settings: Settings, video_id: int) -> list[Path]:
    """Every file and folder of the video on disk: package, originals and work files."""
    paths = settings.paths
    found = [paths.packages / str(video_id), paths.media / "work" / str(video_id)]
    if paths.originals.is_dir():
        found += sorted(paths.originals.glob(f"{video_id}.*"))
        found.append(paths.originals / str(video_id))
    return [p for p in found if p.exists()]


def delete_video(session: Session, settings: Settings, principal: Principal, video_id: int) -> None:
    """Delete the video (its renditions, jobs, comments, ratings ... cascade), then its files
    and its content vector; 409 while a live worker is still processing it."""
    video = owned_video(session, principal, video_id)
    if _busy(session, settings, video):
        raise ConflictError(
            f"video {video_id} is being processed; delete it once it is ready or failed"
        )
    uploads = session.scalars(select(Upload.id).where(Upload.video_id == video_id)).all()
    session.execute(
        update(Upload)
        .where(Upload.video_id == video_id, Upload.state.in_((RECEIVING, PROCESSING)))
        .values(state=FAILED, error="the video was deleted", updated_at=utcnow())
    )
    session.delete(video)
    session.commit()
    for path in video_files(settings, video_id):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    for upload_id in uploads:
        partial_path(settings, upload_id).unlink(missing_ok=True)
    forget_embeddings(settings.paths.embeddings_file, video_id)
    log.info("video %s deleted with its files", video_id)
