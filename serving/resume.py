"""Where a viewer left a video: the ``position_s`` of their latest ``progress`` or ``pause``
event of it, unless a ``complete`` event came after (then the video starts over)."""

from __future__ import annotations

import math

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.models import InteractionEvent
from core.types import EventType

#: Events that say where playback stood, and the one that ends it.
POSITION_EVENTS = (EventType.PROGRESS, EventType.PAUSE, EventType.COMPLETE)
#: Positions are read from at most this many of the viewer's latest events of the video.
SCAN = 20


def resume_position(session: Session, user_id: int, video_id: int) -> float | None:
    """Seconds into ``video_id`` where ``user_id`` stopped, or None (never watched, finished,
    or no event reported a plausible position)."""
    E = InteractionEvent
    rows = session.execute(
        select(E.event_type, E.properties)
        .where(E.user_id == user_id, E.video_id == video_id, E.event_type.in_(POSITION_EVENTS))
        .order_by(E.event_timestamp.desc(), E.received_at.desc())
        .limit(SCAN)
    ).all()
    for kind, properties in rows:
        if kind == EventType.COMPLETE:
            return None
        value = (properties or {}).get("position_s")
        if (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
            and value >= 0
        ):
            return float(value)
    return None
