"""Response bodies of the analytics routes. Counts and sums of an empty window are 0; a ratio or
mean without a denominator (no views, no watch time, no scored sessions) is null."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: What the top list is ordered by.
TopBy = Literal["views", "watch_time"]


class _Window(BaseModel):
    """A half-open time window ``[from, to)`` in UTC."""

    model_config = ConfigDict(populate_by_name=True)

    from_: datetime = Field(alias="from", description="Start of the window (inclusive), UTC.")
    to: datetime = Field(description="End of the window (exclusive), UTC.")


class QoeBucket(BaseModel):
    """Sessions whose QoE lies in ``[low, high)`` (the last bucket includes 100)."""

    low: int
    high: int
    sessions: int


class QoeSummary(BaseModel):
    """QoE and start-up time over the scored views (the most recent ``MAX_SCORED`` ones)."""

    sessions: int = Field(description="Views scored.")
    truncated: bool = Field(description="Whether the window had more views than were scored.")
    mean: float | None = Field(description="Mean QoE (0-100) of the scored views.")
    histogram: list[QoeBucket] = Field(description="Scored views per QoE bucket of 10 points.")
    startup_sessions: int = Field(description="Scored views that reported a start-up time.")
    startup_ms_p50: float | None = Field(description="Median start-up time (ms).")
    startup_ms_p90: float | None = Field(description="90th percentile start-up time (ms).")


class VideoAnalyticsOut(_Window):
    """One video's viewing in a window; a view is a playback session with a ``play`` event."""

    video_id: int
    views: int
    unique_viewers: int
    watch_seconds: float = Field(description="Sum over views of the session's watch time.")
    avg_watch_seconds: float | None = Field(description="Watch time per view.")
    completed_views: int = Field(description="Views with a ``complete`` event.")
    completion_rate: float | None = Field(description="Completed views over views.")
    stall_seconds: float = Field(description="Rebuffering time of the views.")
    rebuffer_ratio: float | None = Field(description="Stall time / (watch time + stall time).")
    quality_switches: int = Field(description="Quality switches not chosen by the viewer.")
    switches_per_minute: float | None = Field(description="Switches per minute watched.")
    qoe: QoeSummary


class TopVideoOut(BaseModel):
    """A video of the top list."""

    video_id: int
    title: str | None = Field(description="The catalogue title (null if the video is gone).")
    views: int
    watch_seconds: float


class TopVideosOut(_Window):
    """The videos with the most views or watch time in a window."""

    by: TopBy
    videos: list[TopVideoOut]


class ActiveDay(BaseModel):
    """Distinct viewers with a ``play``, ``progress`` or ``complete`` event on a UTC day."""

    day: date
    active_viewers: int


class _DayWindow(BaseModel):
    """A half-open window of UTC days, ``[from, to)``."""

    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from", description="First day (inclusive).")
    to: date = Field(description="Last day (exclusive).")


class DailyActiveOut(_DayWindow):
    """Daily active viewers for every UTC day in ``[from, to)``."""

    days: list[ActiveDay]


class QoeDay(BaseModel):
    """The platform's playback quality on one UTC day (every video's views)."""

    day: date
    views: int = Field(description="Views (playback sessions with a play) on the day.")
    watch_seconds: float = Field(description="Sum over views of the session's watch time.")
    stall_seconds: float = Field(description="Rebuffering time of the views.")
    rebuffer_ratio: float | None = Field(description="Stall time / (watch time + stall time).")
    quality_switches: int = Field(description="Quality switches not chosen by the viewer.")
    switches_per_minute: float | None = Field(description="Switches per minute watched.")
    qoe: QoeSummary


class DailyQoeOut(_DayWindow):
    """Playback quality over all videos for every UTC day in ``[from, to)``."""

    days: list[QoeDay]
