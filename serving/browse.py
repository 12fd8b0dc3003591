"""Browsing the catalogue: filters, sort orders and keyset pages over listed videos.

Sorts: ``newest`` (published_at, then id, descending), ``oldest``, ``title`` (then id) and
``popular``: ``play`` events in the last 7 days (the window starts on the hour, so the pages of
one listing share it), then id. Pages are keyset pages (``cursor``); ``offset`` still works for
old clients. Every page comes from ``listed_videos()`` (public and ready).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Select, exists, func, literal, select
from sqlalchemy.orm import Session, selectinload

from core.db.models import InteractionEvent, Video
from core.types import EventType
from serving.cursors import SortKey, after, decode_cursor, encode_cursor, order_by
from serving.visibility import listed_videos

Sort = Literal["newest", "oldest", "popular", "title"]
#: The window of plays the ``popular`` sort counts.
POPULAR_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class BrowseFilters:
    """What a listing keeps (every field optional)."""

    genre: str | None = None
    language: str | None = None
    min_duration_s: float | None = None
    max_duration_s: float | None = None
    published_after: datetime | None = None
    published_before: datetime | None = None
    channel_id: int | None = None


@dataclass(frozen=True)
class BrowsePage:
    """One page: the videos, the filtered total, the cursor of the next page (None at the
    end) and each video's count of recent plays when sorted by popularity."""

    videos: list[Video]
    total: int
    next_cursor: str | None


def _has_genre(session: Session, genre: str) -> Any:
    """Videos whose JSON ``genres`` list holds ``genre`` (case-insensitive), on either engine."""
    if session.get_bind().dialect.name == "postgresql":
        items = func.json_array_elements_text(Video.genres).table_valued("value")
    else:
        items = func.json_each(Video.genres).table_valued("value")
    return exists(
        select(literal(1)).select_from(items).where(func.lower(items.c.value) == genre.lower())
    )


def _filtered(session: Session, filters: BrowseFilters) -> Select[Any]:
    query = listed_videos()
    if filters.genre is not None:
        query = query.where(_has_genre(session, filters.genre))
    if filters.language is not None:
        query = query.where(func.lower(Video.language) == filters.language.lower())
    if filters.min_duration_s is not None:
        query = query.where(Video.duration_s >= filters.min_duration_s)
    if filters.max_duration_s is not None:
        query = query.where(Video.duration_s <= filters.max_duration_s)
    if filters.published_after is not None:
        query = query.where(Video.published_at >= filters.published_after)
    if filters.published_before is not None:
        query = query.where(Video.published_at < filters.published_before)
    if filters.channel_id is not None:
        query = query.where(Video.channel_id == filters.channel_id)
    return query


def _popular_since(now: datetime | None = None) -> datetime:
    hour = (now or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0)
    return hour - POPULAR_WINDOW


def _sorted(query: Select[Any], sort: Sort) -> tuple[Select[Any], list[SortKey]]:
    """The query with the sort's key columns added, and the keys."""
    if sort == "popular":
        plays = (
            select(InteractionEvent.video_id.label("video_id"), func.count().label("plays"))
            .where(
                InteractionEvent.event_type == EventType.PLAY,
                InteractionEvent.event_timestamp >= _popular_since(),
            )
            .group_by(InteractionEvent.video_id)
            .subquery()
        )
        count = func.coalesce(plays.c.plays, 0)
        query = query.outerjoin(plays, plays.c.video_id == Video.id).add_columns(count)
        return query, [SortKey(count, True, int), SortKey(Video.id, True, int)]
    if sort == "title":
        keys = [SortKey(Video.title, False, str), SortKey(Video.id, False, int)]
    else:
        descending = sort == "newest"
        keys = [
            SortKey(Video.published_at, descending, datetime, nullable=True),
            SortKey(Video.id, descending, int),
        ]
    return query.add_columns(*(key.column for key in keys[:-1])), keys


def browse(
    session: Session,
    filters: BrowseFilters,
    sort: Sort = "newest",
    limit: int = 20,
    offset: int = 0,
    cursor: str | None = None,
) -> BrowsePage:
    """One page of listed videos matching ``filters`` in ``sort`` order, after ``cursor``
    (or skipping ``offset``)."""
    query = _filtered(session, filters)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    query, keys = _sorted(query, sort)
    if cursor is not None:
        query = query.where(after(keys, decode_cursor(cursor, sort, keys)))
    query = query.options(selectinload(Video.renditions)).order_by(*order_by(keys))
    rows = session.execute(query.limit(limit + 1).offset(offset)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = encode_cursor(sort, [*last[1:], last[0].id])
    return BrowsePage([row[0] for row in rows], total, next_cursor)
