"""Whether the users and videos a batch of events names exist in the catalogue."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.models import User, Video
from serving.event_models import ClientEvent

#: Most unknown ids named in a message.
SHOWN_IDS = 10


def unknown_references(session: Session, events: Sequence[ClientEvent]) -> str | None:
    """A message naming the batch's user and video ids missing from the catalogue, or None."""
    users = {event.user_id for event in events}
    videos = {event.video_id for event in events}
    known_users = set(session.scalars(select(User.id).where(User.id.in_(users))))
    known_videos = set(session.scalars(select(Video.id).where(Video.id.in_(videos))))
    problems = [
        f"unknown {kind} ids: {_shown(missing)}"
        for kind, missing in (("user", users - known_users), ("video", videos - known_videos))
        if missing
    ]
    return "; ".join(problems) + " (nothing of this batch was stored)" if problems else None


def _shown(ids: set[int]) -> str:
    ordered = sorted(ids)
    more = f" and {len(ordered) - SHOWN_IDS} more" if len(ordered) > SHOWN_IDS else ""
    return ", ".join(map(str, ordered[:SHOWN_IDS])) + more
