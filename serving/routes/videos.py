"""Catalogue browsing: the filtered, sorted list of videos and one video."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from core.db.models import Video
from core.errors import ReelRankError
from serving.browse import BrowseFilters, Sort, browse
from serving.cursors import Cursor
from serving.deps import SessionDep
from serving.params import MAX_ID, Limit, Offset, VideoId
from serving.schemas import VideoOut, VideoPage
from serving.visibility import viewable_video

router = APIRouter(prefix="/videos", tags=["videos"])

#: Longest duration filter accepted (a week of video).
MAX_DURATION_S = 7 * 86_400.0


def video_out(video: Video) -> VideoOut:
    """``video`` as apps see it (with its manifest when it has renditions)."""
    out = VideoOut.model_validate(video)
    if video.renditions:
        out.manifest_url = f"/videos/{video.id}/manifest.m3u8"
    return out


def page_of(
    session: SessionDep,
    filters: BrowseFilters,
    sort: Sort,
    limit: int,
    offset: int,
    cursor: str | None,
) -> VideoPage:
    """One page of ``browse`` as a response body."""
    if cursor is not None and offset:
        raise ReelRankError("send either cursor or offset, not both")
    page = browse(session, filters, sort, limit, offset, cursor)
    return VideoPage(
        items=[video_out(v) for v in page.videos],
        total=page.total,
        limit=limit,
        offset=offset,
        next_cursor=page.next_cursor,
    )


@router.get("", response_model=VideoPage)
def list_videos(
    session: SessionDep,
    limit: Limit = 20,
    offset: Offset = 0,
    cursor: Cursor = None,
    sort: Annotated[
        Sort, Query(description="newest (default), oldest, title, or popular: plays in 7 days.")
    ] = "newest",
    genre: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    language: Annotated[str | None, Query(min_length=1, max_length=8)] = None,
    min_duration_s: Annotated[float | None, Query(ge=0, le=MAX_DURATION_S)] = None,
    max_duration_s: Annotated[float | None, Query(ge=0, le=MAX_DURATION_S)] = None,
    published_after: Annotated[datetime | None, Query(description="Inclusive.")] = None,
    published_before: Annotated[datetime | None, Query(description="Exclusive.")] = None,
    channel_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> VideoPage:
    """Public, ready videos (premium ones flagged), filtered and sorted, newest first by
    default; page with ``next_cursor`` (or ``offset``)."""
    filters = BrowseFilters(
        genre=genre,
        language=language,
        min_duration_s=min_duration_s,
        max_duration_s=max_duration_s,
        published_after=published_after,
        published_before=published_before,
        channel_id=channel_id,
    )
    return page_of(session, filters, sort, limit, offset, cursor)


@router.get("/{video_id}", response_model=VideoOut)
def get_video(video_id: VideoId, session: SessionDep) -> VideoOut:
    """One video by id."""
    return video_out(viewable_video(session, video_id))
