"""Signed stream tokens: the ``?token=`` of playlist, segment and package-file URLs.

Format (URL-safe, no padding): ``s1.<video_id>.<viewer_id>.<session_id or 0>.<expires>.<sig>``
where ``expires`` is a Unix time in seconds and ``sig`` the base64url HMAC-SHA256 of everything
before it, keyed with a stream-only key derived from the app's signing key (so a stream token
can never pass for an access token, nor the reverse). Viewer 0 is an anonymous viewer.

Refusals: a missing, malformed or expired token is 401 (fetch a fresh playlist); a token whose
signature does not match (tampered or forged) is 403; so is a genuine token used for another
video or by another viewer (checked by the callers, see ``serving.playback``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from core.errors import AuthenticationError, PermissionDeniedError

VERSION = "s1"
#: Longest token accepted (real ones are about 110 characters).
MAX_TOKEN = 256
_SESSION_ID = re.compile(r"^(0|[0-9a-f]{32})$")
_NUMBER = re.compile(r"^(0|[1-9][0-9]{0,18})$")
_SIGNATURE = re.compile(r"^[A-Za-z0-9_-]{43}$")


class StreamTokenMissing(AuthenticationError):
    """A protected file was requested without a token."""


class StreamTokenMalformed(AuthenticationError):
    """Not a stream token at all."""


class StreamTokenExpired(AuthenticationError):
    """A genuine token past its expiry."""


class StreamTokenForged(PermissionDeniedError):
    """A token whose signature does not match its content (tampered or forged)."""


@dataclass(frozen=True)
class StreamGrant:
    """What a genuine, unexpired stream token allows."""

    video_id: int
    viewer_id: int
    session_id: str | None
    expires_at: int


def new_session_id() -> str:
    """A random 32-hex-digit playback session id."""
    return secrets.token_hex(16)


def stream_key(key: bytes) -> bytes:
    """The stream-token key derived from the app's signing key."""
    return hmac.new(key, b"reelrank stream token v1", hashlib.sha256).digest()


def _sign(key: bytes, payload: str) -> str:
    digest = hmac.new(stream_key(key), payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue(
    key: bytes, video_id: int, viewer_id: int, session_id: str | None, expires_at: int
) -> str:
    """A token for ``video_id`` and ``viewer_id`` (0: anonymous), optionally bound to a
    playback session, valid until ``expires_at`` (Unix seconds)."""
    if session_id is not None and not _SESSION_ID.match(session_id):
        raise ValueError(f"session id {session_id!r} is not 32 hex digits")
    payload = f"{VERSION}.{video_id}.{viewer_id}.{session_id or 0}.{expires_at}"
    return f"{payload}.{_sign(key, payload)}"


def expiry(ttl_s: int, now: float | None = None) -> int:
    """The Unix time ``ttl_s`` seconds from now."""
    return int(now if now is not None else time.time()) + ttl_s


def verify(key: bytes, token: str | None, now: float | None = None) -> StreamGrant:
    """The grant of a genuine, unexpired token; a 401 (missing, malformed, expired) or 403
    (signature mismatch) error otherwise."""
    if not token:
        raise StreamTokenMissing(
            "this file needs a stream token (?token=): take the URLs from the video's "
            "master playlist or from POST /videos/{id}/playback"
        )
    parts = token.split(".")
    if (
        len(token) > MAX_TOKEN
        or len(parts) != 6
        or parts[0] != VERSION
        or not all(_NUMBER.match(part) for part in (parts[1], parts[2], parts[4]))
        or not _SESSION_ID.match(parts[3])
        or not _SIGNATURE.match(parts[5])
    ):
        raise StreamTokenMalformed("malformed stream token")
    payload, signature = token.rsplit(".", 1)
    if not hmac.compare_digest(signature.encode(), _sign(key, payload).encode()):
        raise StreamTokenForged("stream token signature does not match (tampered or forged)")
    expires_at = int(parts[4])
    if expires_at <= (now if now is not None else time.time()):
        raise StreamTokenExpired("stream token expired; fetch the master playlist again")
    return StreamGrant(
        video_id=int(parts[1]),
        viewer_id=int(parts[2]),
        session_id=None if parts[3] == "0" else parts[3],
        expires_at=expires_at,
    )
