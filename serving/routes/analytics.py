"""Viewing analytics (admin): one video's figures, the top videos, daily active viewers and
the platform's daily playback quality.

Windows are half-open, ``[from, to)``: ``from`` before ``to``, at most ``MAX_WINDOW_DAYS``
long, inside ``[1970-01-01, 2100-01-01)``. A time without a timezone (or a bare date) is taken
as UTC; the answer gives the window in UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query

from serving.analytics import daily_active, daily_qoe, top_videos, video_analytics
from serving.analytics_models import (
    DailyActiveOut,
    DailyQoeOut,
    TopBy,
    TopVideosOut,
    VideoAnalyticsOut,
)
from serving.deps import SessionDep, require_admin
from serving.params import MAX_LIMIT, VideoId

router = APIRouter(prefix="/analytics", tags=["analytics"], dependencies=[Depends(require_admin)])

#: Longest window a request may ask for.
MAX_WINDOW_DAYS = 366
#: Longest window of the daily QoE (one query per day).
MAX_QOE_DAYS = 92
#: Earliest start and latest end of a window.
EARLIEST, LATEST = date(1970, 1, 1), date(2100, 1, 1)

From = Annotated[datetime, Query(alias="from", description="Window start (inclusive).")]
To = Annotated[datetime, Query(description="Window end (exclusive).")]
FromDay = Annotated[date, Query(alias="from", description="First UTC day (inclusive).")]
ToDay = Annotated[date, Query(description="Last UTC day (exclusive).")]
TopLimit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Videos listed.")]

_REFUSED: dict[int | str, dict[str, Any]] = {
    422: {"description": "A bad window: reversed, empty, too long or out of range."}
}


def _utc(moment: datetime, name: str) -> datetime:
    """``moment`` in UTC (naive taken as UTC); 422 when outside the accepted range."""
    try:
        utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:
        utc = None
    low = datetime.combine(EARLIEST, datetime.min.time(), UTC)
    high = datetime.combine(LATEST, datetime.min.time(), UTC)
    if utc is None or not low <= utc <= high:
        raise HTTPException(422, f"{name!r} must lie between {EARLIEST} and {LATEST} (UTC)")
    return utc


def _check(start: date, end: date) -> None:
    """422 unless ``start < end`` and the window is at most ``MAX_WINDOW_DAYS`` long (both
    days, or both datetimes)."""
    if start >= end:
        raise HTTPException(422, f"'from' ({start.isoformat()}) must be before 'to'")
    if end - start > timedelta(days=MAX_WINDOW_DAYS):
        raise HTTPException(422, f"a window spans at most {MAX_WINDOW_DAYS} days")


def time_window(from_: From, to: To) -> tuple[datetime, datetime]:
    """The validated ``[from, to)`` window in UTC."""
    start, end = _utc(from_, "from"), _utc(to, "to")
    _check(start, end)
    return start, end


def day_window(from_: FromDay, to: ToDay) -> tuple[date, date]:
    """The validated ``[from, to)`` window of UTC days."""
    for name, day in (("from", from_), ("to", to)):
        if not EARLIEST <= day <= LATEST:
            raise HTTPException(422, f"{name!r} must lie between {EARLIEST} and {LATEST}")
    _check(from_, to)
    return from_, to


TimeWindow = Annotated[tuple[datetime, datetime], Depends(time_window)]
DayWindow = Annotated[tuple[date, date], Depends(day_window)]


@router.get(
    "/videos/{video_id}",
    response_model=VideoAnalyticsOut,
    responses={404: {"description": "No such video."}, **_REFUSED},
)
def get_video_analytics(
    video_id: VideoId, window: TimeWindow, session: SessionDep
) -> VideoAnalyticsOut:
    """Views, unique viewers, watch time, completion, stalling, switches and QoE of a video."""
    return video_analytics(session, video_id, *window)


@router.get("/top", response_model=TopVideosOut, responses=_REFUSED)
def get_top_videos(
    window: TimeWindow, session: SessionDep, by: TopBy = "views", limit: TopLimit = 10
) -> TopVideosOut:
    """The videos with the most views or watch time in the window."""
    return top_videos(session, *window, by, limit)


@router.get("/daily-active", response_model=DailyActiveOut, responses=_REFUSED)
def get_daily_active(window: DayWindow, session: SessionDep) -> DailyActiveOut:
    """Distinct viewers per UTC day (with a play, progress or complete event)."""
    return daily_active(session, *window)


@router.get("/qoe/daily", response_model=DailyQoeOut, responses=_REFUSED)
def get_daily_qoe(window: DayWindow, session: SessionDep) -> DailyQoeOut:
    """Views, rebuffering, quality switches and the QoE distribution over every video, per
    UTC day (at most ``MAX_QOE_DAYS`` days)."""
    first, last = window
    if last - first > timedelta(days=MAX_QOE_DAYS):
        raise HTTPException(422, f"the daily QoE spans at most {MAX_QOE_DAYS} days")
    return daily_qoe(session, first, last)
