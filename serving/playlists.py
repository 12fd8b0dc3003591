"""Playlists: a user's ordered lists of videos, their items and order, and share links.

Positions are 0-based and dense. ``(playlist_id, position)`` is unique and checked row by row
on both engines, so every move goes through negative positions first (a range of negatives
never meets the non-negative ones), then lands on the final positions. A mutation locks the
playlist row (``FOR UPDATE`` on PostgreSQL; SQLite runs one writer at a time).

Someone else's private playlist answers 404 (as if it did not exist); a visible one that is not
the caller's answers 403 to changes.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db.models import Playlist, PlaylistItem, Video, utcnow
from core.errors import ConflictError, NotFoundError, PermissionDeniedError, ReelRankError
from core.types import EventType, VideoStatus, Visibility
from serving.event_sink import EventSink
from serving.product_events import record, server_event
from serving.social_models import (
    MAX_PLAYLIST_ITEMS,
    PlaylistCreate,
    PlaylistEdit,
    PlaylistItemOut,
    PlaylistList,
    PlaylistOut,
    PlaylistSummary,
    ShareLink,
)
from serving.visibility import viewable_video

#: Most playlists one user keeps.
MAX_PLAYLISTS = 1000


def _missing(playlist_id: int) -> NotFoundError:
    return NotFoundError(f"playlist {playlist_id} not found")


def readable(session: Session, user_id: int | None, playlist_id: int) -> Playlist:
    """The playlist when the caller owns it or it is public or unlisted; else 404."""
    playlist = session.get(Playlist, playlist_id)
    if playlist is None or (
        playlist.user_id != user_id and playlist.visibility is Visibility.PRIVATE
    ):
        raise _missing(playlist_id)
    return playlist


def owned(session: Session, user_id: int, playlist_id: int) -> Playlist:
    """The caller's playlist, locked for a change; another's is 404 when private, else 403."""
    playlist = session.scalar(select(Playlist).where(Playlist.id == playlist_id).with_for_update())
    if playlist is None or (
        playlist.user_id != user_id and playlist.visibility is Visibility.PRIVATE
    ):
        raise _missing(playlist_id)
    if playlist.user_id != user_id:
        raise PermissionDeniedError("only the playlist's owner may change it")
    return playlist


def _count(session: Session, playlist_id: int) -> int:
    return session.scalar(select(func.count()).where(PlaylistItem.playlist_id == playlist_id)) or 0


def _summary(playlist: Playlist, count: int, owner: bool) -> PlaylistSummary:
    return PlaylistSummary(
        id=playlist.id,
        user_id=playlist.user_id,
        title=playlist.title,
        description=playlist.description,
        visibility=playlist.visibility,
        item_count=count,
        shared=owner and playlist.share_token is not None,
        created_at=playlist.created_at,
        updated_at=playlist.updated_at,
    )


def playlist_out(session: Session, playlist: Playlist, user_id: int | None) -> PlaylistOut:
    """The playlist with its items in order; videos nobody may open now show unavailable."""
    rows = session.execute(
        select(
            PlaylistItem.position,
            PlaylistItem.video_id,
            Video.title,
            Video.duration_s,
            Video.visibility,
            Video.status,
        )
        .join(Video, Video.id == PlaylistItem.video_id)
        .where(PlaylistItem.playlist_id == playlist.id)
        .order_by(PlaylistItem.position)
    ).all()
    items = []
    for position, video_id, title, duration, visibility, status in rows:
        available = visibility is not Visibility.PRIVATE and status is VideoStatus.READY
        items.append(
            PlaylistItemOut(
                position=position,
                video_id=video_id,
                available=available,
                title=title if available else None,
                duration_s=duration if available else None,
            )
        )
    summary = _summary(playlist, len(items), playlist.user_id == user_id)
    return PlaylistOut(**summary.model_dump(), items=items)


def create(session: Session, user_id: int, body: PlaylistCreate) -> Playlist:
    """A new playlist of the caller's."""
    count = session.scalar(select(func.count()).where(Playlist.user_id == user_id)) or 0
    if count >= MAX_PLAYLISTS:
        raise ConflictError(f"you already have {MAX_PLAYLISTS} playlists; delete some first")
    playlist = Playlist(
        user_id=user_id,
        title=body.title.strip(),
        description=body.description,
        visibility=body.visibility,
        updated_at=utcnow(),
    )
    session.add(playlist)
    session.commit()
    return playlist


def edit(session: Session, user_id: int, playlist_id: int, body: PlaylistEdit) -> Playlist:
    """Change title, description or visibility."""
    playlist = owned(session, user_id, playlist_id)
    if body.title is not None:
        playlist.title = body.title.strip()
    if body.description is not None:
        playlist.description = body.description
    if body.visibility is not None:
        playlist.visibility = body.visibility
    playlist.updated_at = utcnow()
    session.commit()
    return playlist


def remove(session: Session, user_id: int, playlist_id: int) -> None:
    """Delete the playlist and its items."""
    playlist = owned(session, user_id, playlist_id)
    session.execute(delete(PlaylistItem).where(PlaylistItem.playlist_id == playlist_id))
    session.delete(playlist)
    session.commit()


def mine(session: Session, user_id: int, limit: int, offset: int) -> PlaylistList:
    """The caller's playlists, newest first, with their item counts."""
    total = session.scalar(select(func.count()).where(Playlist.user_id == user_id)) or 0
    counts = (
        select(PlaylistItem.playlist_id, func.count().label("n"))
        .group_by(PlaylistItem.playlist_id)
        .subquery()
    )
    rows = session.execute(
        select(Playlist, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.playlist_id == Playlist.id)
        .where(Playlist.user_id == user_id)
        .order_by(Playlist.created_at.desc(), Playlist.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    items = [_summary(playlist, count, True) for playlist, count in rows]
    return PlaylistList(items=items, total=total, limit=limit, offset=offset)


def _shift(session: Session, playlist_id: int, start: int, step: int) -> None:
    """Move every item at ``start`` or later by ``step`` (+1 or -1), through negatives."""
    here = PlaylistItem.playlist_id == playlist_id
    session.execute(
        update(PlaylistItem)
        .where(here, PlaylistItem.position >= start)
        .values(position=-PlaylistItem.position - 1)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(PlaylistItem)
        .where(here, PlaylistItem.position < 0)
        .values(position=-PlaylistItem.position - 1 + step)
        .execution_options(synchronize_session=False)
    )


def _committed(session: Session) -> None:
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ConflictError("the playlist changed at the same time; retry") from None


def add_item(
    session: Session,
    sink: EventSink,
    user_id: int,
    playlist_id: int,
    video_id: int,
    position: int | None,
) -> Playlist:
    """Add a viewable video at ``position`` (the end by default), once per playlist; log a
    ``like`` event of the owner for it."""
    playlist = owned(session, user_id, playlist_id)
    viewable_video(session, video_id)
    present = session.scalar(
        select(PlaylistItem.id).where(
            PlaylistItem.playlist_id == playlist_id, PlaylistItem.video_id == video_id
        )
    )
    if present is not None:
        raise ConflictError(f"video {video_id} is already in playlist {playlist_id}")
    count = _count(session, playlist_id)
    if count >= MAX_PLAYLIST_ITEMS:
        raise ConflictError(f"a playlist holds at most {MAX_PLAYLIST_ITEMS} videos")
    at = count if position is None else min(position, count)
    if at < count:
        _shift(session, playlist_id, at, +1)
    session.add(PlaylistItem(playlist_id=playlist_id, video_id=video_id, position=at))
    playlist.updated_at = utcnow()
    _committed(session)
    record(sink, server_event(user_id, video_id, EventType.LIKE))
    return playlist


def remove_item(session: Session, user_id: int, playlist_id: int, video_id: int) -> None:
    """Take a video out; the later ones move up."""
    playlist = owned(session, user_id, playlist_id)
    item = session.scalar(
        select(PlaylistItem).where(
            PlaylistItem.playlist_id == playlist_id, PlaylistItem.video_id == video_id
        )
    )
    if item is None:
        raise NotFoundError(f"video {video_id} is not in playlist {playlist_id}")
    at = item.position
    session.delete(item)
    session.flush()
    _shift(session, playlist_id, at + 1, -1)
    playlist.updated_at = utcnow()
    _committed(session)


def reorder(session: Session, user_id: int, playlist_id: int, video_ids: Sequence[int]) -> None:
    """Put the items in the order of ``video_ids``: exactly the current videos, each once."""
    playlist = owned(session, user_id, playlist_id)
    items = dict(
        session.execute(
            select(PlaylistItem.video_id, PlaylistItem.id).where(
                PlaylistItem.playlist_id == playlist_id
            )
        ).all()
    )
    if len(set(video_ids)) != len(video_ids):
        raise ReelRankError("video_ids names a video twice")
    if set(video_ids) != set(items):
        missing = sorted(set(items) - set(video_ids))[:10]
        extra = sorted(set(video_ids) - set(items))[:10]
        raise ReelRankError(
            "video_ids must list every video of the playlist exactly once"
            f" (missing: {missing}, not in the playlist: {extra})"
        )
    if items:
        session.execute(
            update(PlaylistItem)
            .where(PlaylistItem.playlist_id == playlist_id)
            .values(position=-PlaylistItem.position - 1)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(PlaylistItem),
            [{"id": items[v], "position": i} for i, v in enumerate(video_ids)],
        )
    playlist.updated_at = utcnow()
    _committed(session)


def share(session: Session, user_id: int, playlist_id: int) -> ShareLink:
    """The playlist's share link, made on first use."""
    playlist = owned(session, user_id, playlist_id)
    token = playlist.share_token
    if token is None:
        token = playlist.share_token = secrets.token_urlsafe(32)
        playlist.updated_at = utcnow()
        _committed(session)
    return ShareLink(playlist_id=playlist.id, share_token=token, path=f"/playlists/shared/{token}")


def unshare(session: Session, user_id: int, playlist_id: int) -> None:
    """Revoke the share link (the old link answers 404 from now on)."""
    playlist = owned(session, user_id, playlist_id)
    playlist.share_token = None
    playlist.updated_at = utcnow()
    session.commit()


def shared(session: Session, token: str) -> Playlist:
    """The playlist behind a share link, whatever its visibility."""
    playlist = session.scalar(select(Playlist).where(Playlist.share_token == token))
    if playlist is None:
        raise NotFoundError("no playlist is shared under this link (revoked or wrong)")
    return playlist
