"""Catalogue browsing: the list of videos and one video."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import func, select

from core.db.models import Video
from serving.deps import SessionDep
from serving.params import Limit, Offset, VideoId
from serving.schemas import VideoOut, VideoPage
from serving.visibility import listed_videos, viewable_video

router = APIRouter(prefix="/videos", tags=["videos"])


def _out(video: Video) -> VideoOut:
    out = VideoOut.model_validate(video)
    if video.renditions:
        out.manifest_url = f"/videos/{video.id}/manifest.m3u8"
    return out


@router.get("", response_model=VideoPage)
def list_videos(
    session: SessionDep,
    limit: Limit = 20,
    offset: Offset = 0,
) -> VideoPage:
    """Public, ready videos, newest first."""
    query = listed_videos()
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Video.published_at.desc().nulls_last(), Video.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return VideoPage(items=[_out(v) for v in rows], total=total, limit=limit, offset=offset)


@router.get("/{video_id}", response_model=VideoOut)
def get_video(video_id: VideoId, session: SessionDep) -> VideoOut:
    """One video by id."""
    return _out(viewable_video(session, video_id))
