"""Ratings: one per viewer and video, changeable; each change is also a ``rate`` event."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.db.models import Rating, utcnow
from core.types import EventType
from serving.event_sink import EventSink
from serving.product_events import record, server_event
from serving.social_models import RatingOut
from serving.visibility import viewable_video


def rating_of(session: Session, user_id: int | None, video_id: int) -> RatingOut:
    """The caller's rating (when signed in) and the video's average and count."""
    viewable_video(session, video_id)
    average, count = session.execute(
        select(func.avg(Rating.value), func.count()).where(Rating.video_id == video_id)
    ).one()
    mine = None
    if user_id is not None:
        mine = session.scalar(
            select(Rating.value).where(Rating.user_id == user_id, Rating.video_id == video_id)
        )
    return RatingOut(
        video_id=video_id,
        value=mine,
        average=None if average is None else round(float(average), 4),
        count=count,
    )


def rate(session: Session, sink: EventSink, user_id: int, video_id: int, value: float) -> RatingOut:
    """Set the caller's rating (an upsert on the unique user+video pair, safe when two
    requests race), then log a ``rate`` event with the value."""
    viewable_video(session, video_id)
    now = utcnow()
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    insert = dialect.insert(Rating).values(
        user_id=user_id, video_id=video_id, value=value, created_at=now, updated_at=now
    )
    session.execute(
        insert.on_conflict_do_update(
            index_elements=["user_id", "video_id"],
            set_={"value": insert.excluded.value, "updated_at": insert.excluded.updated_at},
        )
    )
    session.commit()
    record(sink, server_event(user_id, video_id, EventType.RATE, value))
    return rating_of(session, user_id, video_id)


def unrate(session: Session, user_id: int, video_id: int) -> None:
    """Remove the caller's rating (the event log keeps the history)."""
    viewable_video(session, video_id)
    session.execute(delete(Rating).where(Rating.user_id == user_id, Rating.video_id == video_id))
    session.commit()
