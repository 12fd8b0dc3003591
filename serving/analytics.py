"""Viewing analytics over the interaction event log, aggregated in SQL.

Definitions (the player property contract is in ``docs/analytics.md``):

* A *playback session* is the events of one user and one video with one ``session_id``; events
  without a ``session_id`` are grouped by user, video and UTC day. Events count in a window by
  their own timestamp, so a session crossing a window edge is split at it.
* A *view* is a playback session with a ``play`` event in the window; sessions without one
  count for nothing here. *Unique viewers* are the distinct users of the views.
* A view's *watch time* is the largest ``watch_seconds`` of its ``play``, ``progress`` and
  ``complete`` events (players report the session's cumulative watch time, so a lost or
  repeated heartbeat changes nothing); 0 when none reports it.
* *Completion rate* is views with a ``complete`` event over views (the per-session form of
  ``features.completion``, so never above 1).
* *Stall time* sums the view's ``rebuffer`` events (``value`` seconds, else
  ``properties.duration_ms`` / 1000); the video's *rebuffer ratio* is total stall over total
  watch plus stall time. *Quality switches* count ``quality_change`` events whose
  ``properties.reason`` is not ``manual``; per minute over total watch minutes.
* *QoE* (``serving.qoe``) is scored per view on the most recent ``MAX_SCORED`` views of the
  window, with the start-up time (the largest ``properties.startup_ms`` of its ``play``
  events) and the mean ``properties.buffer_s`` of its ``progress`` events; start-up
  percentiles are linear interpolations over the scored views that report one.
* *Daily active viewers*: distinct users with a ``play``, ``progress`` or ``complete`` event
  on a UTC day.
* *Daily QoE*: the same view figures over every video, one UTC day at a time.

Numbers outside a plausible range (negative, or above a day for seconds) read as missing.
The per-video queries use ``ix_events_video_time``; the top list and daily actives scan the
window's events.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Subquery, and_, case, func, select
from sqlalchemy.orm import Session

from core.db.models import InteractionEvent, Video
from core.errors import NotFoundError
from core.types import EventType
from features.watch_time import WATCH_EVENTS
from serving.analytics_models import (
    ActiveDay,
    DailyActiveOut,
    DailyQoeOut,
    QoeBucket,
    QoeDay,
    QoeSummary,
    TopBy,
    TopVideoOut,
    TopVideosOut,
    VideoAnalyticsOut,
)
from serving.analytics_sql import json_number, json_text, utc_day
from serving.qoe import SessionQuality, qoe_score

#: Most views one request scores for QoE (the most recent ones of the window).
MAX_SCORED = 100_000
#: Largest plausible seconds (stall, buffer) and start-up milliseconds one event reports.
MAX_SECONDS = 86_400
MAX_STARTUP_MS = 3_600_000
#: Width of a QoE histogram bucket.
QOE_BUCKET = 10

E = InteractionEvent
#: Events the per-video figures read.
PLAYER_EVENTS = (*WATCH_EVENTS, EventType.REBUFFER, EventType.QUALITY_CHANGE)


def _of(kind: EventType, value: ColumnElement[Any] | int) -> ColumnElement[Any]:
    """``value`` on events of type ``kind``, else NULL."""
    return case((E.event_type == kind, value))


def _session_key() -> tuple[ColumnElement[Any], ColumnElement[Any], ColumnElement[Any]]:
    """The columns a playback session is grouped by (besides the video)."""
    day = case((E.session_id.is_(None), utc_day(E.event_timestamp)))
    return (E.user_id.expression, E.session_id.expression, day)


def _window(start: datetime, end: datetime) -> ColumnElement[bool]:
    return and_(E.event_timestamp >= start, E.event_timestamp < end)


def _views(video_id: int | None, start: datetime, end: datetime) -> Subquery:
    """One row per view of ``video_id`` (of every video for ``None``) in the window, with its
    player figures."""
    stall = case(
        (E.value.between(0, MAX_SECONDS), E.value),
        (
            E.value.is_(None),
            json_number(E.properties, "duration_ms", 0, 1000 * MAX_SECONDS) / 1000.0,
        ),
    )
    startup = json_number(E.properties, "startup_ms", 0, MAX_STARTUP_MS)
    buffer = json_number(E.properties, "buffer_s", 0, MAX_SECONDS)
    automatic = func.coalesce(json_text(E.properties, "reason"), "") != "manual"
    return (
        select(
            E.user_id.label("user_id"),
            func.coalesce(
                func.max(case((E.event_type.in_(WATCH_EVENTS), E.watch_seconds))), 0.0
            ).label("watch"),
            func.coalesce(func.max(_of(EventType.COMPLETE, 1)), 0).label("completed"),
            func.coalesce(func.sum(_of(EventType.REBUFFER, stall)), 0.0).label("stall"),
            func.count(case((and_(E.event_type == EventType.QUALITY_CHANGE, automatic), 1))).label(
                "switches"
            ),
            func.max(_of(EventType.PLAY, startup)).label("startup_ms"),
            func.avg(_of(EventType.PROGRESS, buffer)).label("buffer_s"),
            func.max(E.event_timestamp).label("last_at"),
        )
        .where(
            *([E.video_id == video_id] if video_id is not None else []),
            E.event_type.in_(PLAYER_EVENTS),
            _window(start, end),
        )
        .group_by(E.video_id, *_session_key())
        .having(func.max(_of(EventType.PLAY, 1)) == 1)
        .subquery()
    )


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


def video_analytics(
    session: Session, video_id: int, start: datetime, end: datetime
) -> VideoAnalyticsOut:
    """Views, viewers, watch time, completion, stalling, switches and QoE of one video in
    ``[start, end)`` (aware UTC datetimes); ``NotFoundError`` for an unknown video."""
    if session.get(Video, video_id) is None:
        raise NotFoundError(f"video {video_id} not found")
    views = _views(video_id, start, end)
    count, viewers, watch, completed, stall, switches = _totals(session, views)
    return VideoAnalyticsOut(
        from_=start,
        to=end,
        video_id=video_id,
        views=count,
        unique_viewers=viewers,
        watch_seconds=watch,
        avg_watch_seconds=_ratio(watch, count),
        completed_views=int(completed),
        completion_rate=_ratio(int(completed), count),
        stall_seconds=stall,
        rebuffer_ratio=_ratio(stall, watch + stall),
        quality_switches=int(switches),
        switches_per_minute=_ratio(int(switches), watch / 60.0),
        qoe=_qoe(session, views, count),
    )


def _totals(session: Session, views: Subquery) -> tuple[int, int, float, int, float, int]:
    """Views, unique viewers, watch seconds, completed views, stall seconds and switches."""
    count, viewers, watch, completed, stall, switches = session.execute(
        select(
            func.count(),
            func.count(func.distinct(views.c.user_id)),
            func.coalesce(func.sum(views.c.watch), 0.0),
            func.coalesce(func.sum(views.c.completed), 0),
            func.coalesce(func.sum(views.c.stall), 0.0),
            func.coalesce(func.sum(views.c.switches), 0),
        )
    ).one()
    return int(count), int(viewers), float(watch), int(completed), float(stall), int(switches)


def daily_qoe(session: Session, first: date, last: date) -> DailyQoeOut:
    """Views, stalling, switches and QoE over every video per UTC day in ``[first, last)``,
    every day listed."""
    days = []
    for offset in range((last - first).days):
        day = first + timedelta(days=offset)
        start = datetime.combine(day, time(), UTC)
        views = _views(None, start, start + timedelta(days=1))
        count, _viewers, watch, _completed, stall, switches = _totals(session, views)
        days.append(
            QoeDay(
                day=day,
                views=count,
                watch_seconds=watch,
                stall_seconds=stall,
                rebuffer_ratio=_ratio(stall, watch + stall),
                quality_switches=switches,
                switches_per_minute=_ratio(switches, watch / 60.0),
                qoe=_qoe(session, views, count),
            )
        )
    return DailyQoeOut(from_=first, to=last, days=days)


def _qoe(session: Session, views: Subquery, count: int) -> QoeSummary:
    """QoE and start-up summary of the most recent ``MAX_SCORED`` of ``count`` views."""
    rows = session.execute(
        select(views.c.watch, views.c.stall, views.c.switches, views.c.startup_ms, views.c.buffer_s)
        .order_by(views.c.last_at.desc())
        .limit(MAX_SCORED)
    )
    scores: list[float] = []
    startups: list[float] = []
    for watch, stall, switches, startup_ms, buffer_s in rows:
        startup = None if startup_ms is None else float(startup_ms)
        buffer = None if buffer_s is None else float(buffer_s)
        quality = SessionQuality(float(watch), float(stall), int(switches), startup, buffer)
        scores.append(qoe_score(quality))
        if startup is not None:
            startups.append(startup)
    edges = range(0, 100, QOE_BUCKET)
    counts = np.bincount(
        np.minimum(np.array(scores, dtype=float) // QOE_BUCKET, len(edges) - 1).astype(int),
        minlength=len(edges),
    )
    p50, p90 = np.percentile(startups, [50, 90]).tolist() if startups else (None, None)
    return QoeSummary(
        sessions=len(scores),
        truncated=count > len(scores),
        mean=float(np.mean(scores)) if scores else None,
        histogram=[
            QoeBucket(low=low, high=low + QOE_BUCKET, sessions=int(n))
            for low, n in zip(edges, counts, strict=True)
        ],
        startup_sessions=len(startups),
        startup_ms_p50=p50,
        startup_ms_p90=p90,
    )


def top_videos(
    session: Session, start: datetime, end: datetime, by: TopBy, limit: int
) -> TopVideosOut:
    """The ``limit`` videos with the most views (or watch time) in ``[start, end)``; ties go to
    the other figure, then to the lower id. Videos without views are left out."""
    sessions = (
        select(
            E.video_id.label("video_id"),
            func.coalesce(func.max(E.watch_seconds), 0.0).label("watch"),
        )
        .where(E.event_type.in_(WATCH_EVENTS), _window(start, end))
        .group_by(E.video_id, *_session_key())
        .having(func.max(_of(EventType.PLAY, 1)) == 1)
        .subquery()
    )
    views = func.count().label("views")
    watch = func.sum(sessions.c.watch).label("watch")
    order = (views.desc(), watch.desc()) if by == "views" else (watch.desc(), views.desc())
    rows = session.execute(
        select(sessions.c.video_id, Video.title, views, watch)
        .outerjoin(Video, Video.id == sessions.c.video_id)
        .group_by(sessions.c.video_id, Video.title)
        .order_by(*order, sessions.c.video_id)
        .limit(limit)
    )
    return TopVideosOut(
        from_=start,
        to=end,
        by=by,
        videos=[
            TopVideoOut(video_id=v, title=t, views=n, watch_seconds=float(w)) for v, t, n, w in rows
        ],
    )


def daily_active(session: Session, first: date, last: date) -> DailyActiveOut:
    """Distinct viewers per UTC day in ``[first, last)``, every day listed (0 when none)."""
    day = utc_day(E.event_timestamp).label("day")
    start = datetime.combine(first, time(), UTC)
    end = datetime.combine(last, time(), UTC)
    rows = session.execute(
        select(day, func.count(func.distinct(E.user_id)))
        .where(E.event_type.in_(WATCH_EVENTS), _window(start, end))
        .group_by(day)
    )
    active = {date.fromisoformat(str(d)): int(n) for d, n in rows}
    days = [first + timedelta(days=i) for i in range((last - first).days)]
    return DailyActiveOut(
        from_=first,
        to=last,
        days=[ActiveDay(day=d, active_viewers=active.get(d, 0)) for d in days],
    )
