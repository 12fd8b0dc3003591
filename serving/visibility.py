"""Which videos a viewer may see: the visibility rules every catalogue query applies."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from core.db.models import Channel, Video
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


def watchable_video(
    session: Session, video_id: int, viewer_id: int | None, is_admin: bool = False
) -> Video:
    """A ready video ``viewer_id`` (None: anonymous) may open: public or unlisted for
    anyone, private only for its channel's owner or an admin; NotFoundError otherwise (a
    stranger learns nothing of a private video). Premium is checked by ``serving.playback``."""
    video = session.get(Video, video_id)
    if video is None or video.status is not VideoStatus.READY:
        raise NotFoundError(f"video {video_id} not found")
    if video.visibility is Visibility.PRIVATE and not (
        is_admin or (viewer_id is not None and owns_video(session, video, viewer_id))
    ):
        raise NotFoundError(f"video {video_id} not found")
    return video


def owns_video(session: Session, video: Video, user_id: int) -> bool:
    """Whether ``user_id`` owns the channel ``video`` belongs to."""
    if video.channel_id is None:
        return False
    owner = session.scalar(select(Channel.owner_id).where(Channel.id == video.channel_id))
    return owner == user_id


def unavailable_video_ids(session: Session) -> set[int]:
    """Ids of videos that must never be recommended (not public, or not ready)."""
    rows = session.scalars(
        select(Video.id).where(
            (Video.visibility != Visibility.PUBLIC) | (Video.status != VideoStatus.READY)
        )
    )
    return set(rows)
