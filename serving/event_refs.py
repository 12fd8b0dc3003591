"""Whether the users and videos a batch of events names exist in the catalogue."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from core.db.models import User, Video
from serving.event_models import ClientEvent

#: Most unknown ids named in a message.
SHOWN_IDS = 10

#: PostgreSQL: the batch's user and video ids (one array each) missing from the catalogue, in
#: one statement whose text does not grow with the batch.
_PG_MISSING = (
    "SELECT 'user', u FROM unnest(%s::bigint[]) AS u "
    f"WHERE NOT EXISTS (SELECT 1 FROM {User.__tablename__} WHERE id = u) "
    "UNION ALL "
    "SELECT 'video', v FROM unnest(%s::bigint[]) AS v "
    f"WHERE NOT EXISTS (SELECT 1 FROM {Video.__tablename__} WHERE id = v)"
)


class UnknownReferencesError(ValueError):
    """A batch names users or videos missing from the catalogue; nothing of it was stored."""


def unknown_references(db: Session | Connection, events: Sequence[ClientEvent]) -> str | None:
    """A message naming the batch's user and video ids missing from the catalogue, or None."""
    users = {event.user_id for event in events}
    videos = {event.video_id for event in events}
    missing: dict[str, set[int]] = {"user": set(), "video": set()}
    connection = db.connection() if isinstance(db, Session) else db
    if connection.dialect.name == "postgresql":
        for kind, id_ in connection.exec_driver_sql(_PG_MISSING, (list(users), list(videos))):
            missing[kind].add(id_)
    else:
        known_users = connection.scalars(select(User.id).where(User.id.in_(users)))
        known_videos = connection.scalars(select(Video.id).where(Video.id.in_(videos)))
        missing["user"] = users - set(known_users)
        missing["video"] = videos - set(known_videos)
    problems = [f"unknown {kind} ids: {_shown(ids)}" for kind, ids in missing.items() if ids]
    return "; ".join(problems) + " (nothing of this batch was stored)" if problems else None


def _shown(ids: set[int]) -> str:
    ordered = sorted(ids)
    more = f" and {len(ordered) - SHOWN_IDS} more" if len(ordered) > SHOWN_IDS else ""
    return ", ".join(map(str, ordered[:SHOWN_IDS])) + more
