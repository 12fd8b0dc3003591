"""Playback sessions: start (entitlement and device limit), heartbeat, end, list."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from core.db.models import utcnow
from serving import playback, stream_tokens
from serving.auth import CurrentPrincipal, request_key
from serving.deps import SessionDep, SettingsDep
from serving.params import VideoId
from serving.playback_models import LeaseOut, PlaybackOut, PlaybackStart, SessionOut
from serving.resume import resume_position
from serving.stream_service import extra_urls, master_url

router = APIRouter(tags=["playback"])

SessionId = Annotated[
    str, Path(min_length=32, max_length=32, pattern="^[0-9a-f]{32}$", description="A session id.")
]


@router.post("/videos/{video_id}/playback", status_code=201)
def start_playback(
    request: Request,
    video_id: VideoId,
    body: PlaybackStart,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
) -> PlaybackOut:
    """Start playing on ``device_id`` (replacing that device's own session): 403/404 when the
    caller may not watch, 429 when every device slot of their plan is live."""
    viewer = playback.Viewer(principal.user_id, principal.is_admin)
    row, plan = playback.start(session, viewer, video_id, body.device_id, settings.playback_lease_s)
    expires = stream_tokens.expiry(settings.stream_token_ttl_s)
    token = stream_tokens.issue(request_key(request), video_id, principal.user_id, row.id, expires)
    out = PlaybackOut(
        session_id=row.id,
        video_id=video_id,
        device_id=row.device_id,
        manifest_url=master_url(video_id, token),
        token_expires_at=datetime.fromtimestamp(expires, UTC),
        lease_expires_at=playback.lease_expiry(row, settings.playback_lease_s),
        lease_s=settings.playback_lease_s,
        plan=plan.name,
        device_limit=plan.device_limit,
        resume_position_s=resume_position(session, principal.user_id, video_id),
        **extra_urls(settings, video_id, token),
    )
    session.commit()
    return out


@router.post("/playback/{session_id}/heartbeat")
def heartbeat(
    session_id: SessionId, principal: CurrentPrincipal, session: SessionDep, settings: SettingsDep
) -> LeaseOut:
    """Renew the session's lease for ``playback_lease_s``; 409 once it ended or lapsed."""
    row = playback.renew(session, principal.user_id, session_id, settings.playback_lease_s)
    out = LeaseOut(
        session_id=row.id, lease_expires_at=playback.lease_expiry(row, settings.playback_lease_s)
    )
    session.commit()
    return out


@router.delete("/playback/{session_id}", status_code=204)
def end_playback(
    session_id: SessionId, principal: CurrentPrincipal, session: SessionDep
) -> Response:
    """End the session, freeing its device; its stream tokens stop working."""
    playback.end(session, principal.user_id, session_id)
    session.commit()
    return Response(status_code=204)


@router.get("/playback")
def my_sessions(
    principal: CurrentPrincipal, session: SessionDep, settings: SettingsDep
) -> list[SessionOut]:
    """The caller's live sessions (at most their plan's device limit)."""
    rows = playback.live_sessions(session, principal.user_id, settings.playback_lease_s, utcnow())
    return [
        SessionOut(
            session_id=row.id,
            video_id=row.video_id,
            device_id=row.device_id,
            started_at=row.started_at,
            lease_expires_at=playback.lease_expiry(row, settings.playback_lease_s),
        )
        for row in rows
    ]
