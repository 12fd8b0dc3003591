"""Who may watch a video, playback sessions with device limits, and the checks a stream token
must pass. Functions take the request's catalogue session; the caller commits.

Entitlement: public and unlisted videos are open to anyone, private ones to their channel's
owner and admins (404 for everyone else), premium ones to viewers on a premium plan (and the
owner and admins); a free-plan viewer gets 403 naming the plan, an anonymous one 401.

Sessions: a signed-in viewer starts one per device (``start``); it is live while its lease is
renewed (``renew``) within ``playback_lease_s``. A plan allows ``device_limit`` devices at
once; the same device starting again replaces its own session; ending one (``end``) or letting
its lease lapse frees the slot. Stream tokens of a session name it, and every request carrying
one checks it with a single primary-key lookup (``check_grant``): ending a session or losing
its lease stops its segments within one request, at the price of that lookup per segment.
Anonymous tokens (free public/unlisted videos) need no session and cost no lookup: anyone may
watch those anyway, so a device limit could not be enforced on them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.models import PlaybackSession, User, Video, utcnow
from core.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ReelRankError,
    TooManyRequestsError,
)
from core.types import Visibility
from serving.plans import Plan, plan_of
from serving.stream_tokens import StreamGrant, new_session_id
from serving.visibility import owns_video, watchable_video

#: A device id: what the client calls the device (letters, digits and ``._:-``).
DEVICE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


@dataclass(frozen=True)
class Viewer:
    """Who asks to watch: a user id (None: anonymous) and whether they are an admin."""

    user_id: int | None
    is_admin: bool = False


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def entitled_video(session: Session, video_id: int, viewer: Viewer) -> Video:
    """The video if ``viewer`` may watch it; 404 (not found or private to others), 401
    (premium, anonymous) or 403 (premium, not on a premium plan) otherwise."""
    video = watchable_video(session, video_id, viewer.user_id, viewer.is_admin)
    if not video.premium or viewer.is_admin:
        return video
    if viewer.user_id is None:
        raise AuthenticationError(
            f"video {video_id} is premium: sign in with an account on the premium plan"
        )
    if owns_video(session, video, viewer.user_id):
        return video
    plan = plan_of(session, viewer.user_id)
    if not plan.premium:
        raise PermissionDeniedError(
            f"video {video_id} needs the premium plan; yours is {plan.name!r} (see /me/plan)"
        )
    return video


def needs_session(video: Video) -> bool:
    """Whether watching ``video`` needs a playback session (premium or private ones)."""
    return video.premium or video.visibility is Visibility.PRIVATE


def live_sessions(
    session: Session, user_id: int, lease_s: int, now: datetime
) -> list[PlaybackSession]:
    """The user's sessions whose lease has not lapsed, oldest first."""
    return list(
        session.scalars(
            select(PlaybackSession)
            .where(
                PlaybackSession.user_id == user_id,
                PlaybackSession.last_seen_at >= now - timedelta(seconds=lease_s),
                PlaybackSession.ended_at.is_(None),
            )
            .order_by(PlaybackSession.last_seen_at, PlaybackSession.id)
        )
    )


def start(
    session: Session,
    viewer: Viewer,
    video_id: int,
    device_id: str,
    lease_s: int,
    now: datetime | None = None,
) -> tuple[PlaybackSession, Plan]:
    """A new live session of the signed-in ``viewer`` on ``device_id`` (replacing that
    device's own), after the entitlement check; 429 when the plan's devices are all busy."""
    if viewer.user_id is None:
        raise AuthenticationError("sign in to start a playback session")
    if not DEVICE_ID.match(device_id):
        raise ReelRankError("device_id must be 1-64 letters, digits or ._:-")
    now = now or utcnow()
    entitled_video(session, video_id, viewer)
    # Serialise starts of one user (PostgreSQL row lock; SQLite serialises writers anyway).
    session.execute(select(User.id).where(User.id == viewer.user_id).with_for_update())
    plan = plan_of(session, viewer.user_id)
    live = live_sessions(session, viewer.user_id, lease_s, now)
    for row in live:
        if row.device_id == device_id:
            row.ended_at = now
    others = [row for row in live if row.device_id != device_id]
    devices = sorted({row.device_id for row in others})
    if len(devices) >= plan.device_limit:
        soonest = min(_aware(row.last_seen_at) for row in others)
        wait = max(1, int((soonest + timedelta(seconds=lease_s) - now).total_seconds()) + 1)
        playing = ", ".join(f"{row.id} on {row.device_id!r}" for row in others)
        raise TooManyRequestsError(
            f"your {plan.name!r} plan plays on {plan.device_limit} device(s) at once and "
            f"{len(devices)} are playing ({playing}); free one with DELETE /playback/<session "
            f"id>, or wait {wait} s for an idle one's lease to lapse",
            retry_after_s=wait,
        )
    row = PlaybackSession(
        id=new_session_id(),
        user_id=viewer.user_id,
        video_id=video_id,
        device_id=device_id,
        started_at=now,
        last_seen_at=now,
    )
    session.add(row)
    session.flush()
    return row, plan


def _own_session(session: Session, user_id: int, session_id: str) -> PlaybackSession:
    row = session.get(PlaybackSession, session_id)
    if row is None or row.user_id != user_id:
        raise NotFoundError(f"playback session {session_id} not found")
    return row


def renew(
    session: Session, user_id: int, session_id: str, lease_s: int, now: datetime | None = None
) -> PlaybackSession:
    """Renew the lease of the user's live session; 409 when it ended or its lease lapsed."""
    now = now or utcnow()
    row = _own_session(session, user_id, session_id)
    if row.ended_at is not None:
        raise ConflictError(f"playback session {session_id} has ended; start a new one")
    if _aware(row.last_seen_at) + timedelta(seconds=lease_s) < now:
        raise ConflictError(
            f"playback session {session_id} lapsed (no heartbeat for {lease_s} s); start a new one"
        )
    row.last_seen_at = now
    session.flush()
    return row


def end(session: Session, user_id: int, session_id: str, now: datetime | None = None) -> None:
    """End the user's session (again: no change), freeing its device slot."""
    row = _own_session(session, user_id, session_id)
    if row.ended_at is None:
        row.ended_at = now or utcnow()
        session.flush()


def lease_expiry(row: PlaybackSession, lease_s: int) -> datetime:
    """When ``row``'s lease lapses unless renewed."""
    return _aware(row.last_seen_at) + timedelta(seconds=lease_s)


def check_grant(
    session: Session,
    grant: StreamGrant,
    video_id: int,
    caller_id: int | None,
    lease_s: int,
    now: datetime | None = None,
) -> None:
    """Refuse (403) a genuine token used for another video, by another signed-in viewer, or
    whose playback session ended or lapsed; at most one primary-key lookup."""
    if grant.video_id != video_id:
        raise PermissionDeniedError(
            f"this stream token was issued for video {grant.video_id}, not video {video_id}"
        )
    if caller_id is not None and caller_id != grant.viewer_id:
        raise PermissionDeniedError("this stream token was issued to another viewer")
    if grant.session_id is None:
        return
    row = session.get(PlaybackSession, grant.session_id)
    if row is None or row.user_id != grant.viewer_id or row.video_id != video_id:
        raise PermissionDeniedError("this stream token's playback session does not exist")
    if row.ended_at is not None:
        raise PermissionDeniedError(
            f"playback session {row.id} has ended; start a new one (POST "
            f"/videos/{video_id}/playback)"
        )
    if lease_expiry(row, lease_s) < (now or utcnow()):
        raise PermissionDeniedError(
            f"playback session {row.id} lapsed (no heartbeat for {lease_s} s); start a new one"
        )
