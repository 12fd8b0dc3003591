"""Which videos a viewer may see: the visibility rules every catalogue query applies."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from core.db.models import Video
from core.errors import NotFoundError
from core.types import VideoStatus, Visibility


def listed_videos() -> Select[Video]:
    """Videos that appear in lists and search: public and ready."""
    return select(Video).where(
        Video.visibility == Visibility.PUBLIC, Video.status == VideoStatus.READY
    )


def viewable_video(session: Session, video_id: int) -> Video:
    """A video reachable by id (public or unlisted, and ready), else NotFoundError."""
    video = session.get(Video, video_id)
    if (
        video is None
        or video.visibility is Visibility.PRIVATE
        or video.status is not VideoStatus.READY
    ):
        raise NotFoundError(f"video {video_id} not found")
    return video


def unavailable_video_ids(session: Session) -> set[int]:
    """Ids of videos that must never be recommended (not public, or not ready)."""
    rows = session.scalars(
        select(Video.id).where(
            (Video.visibility != Visibility.PUBLIC) | (Video.status != VideoStatus.READY)
        )
    )
    return set(rows)
