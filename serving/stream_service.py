"""Protected HLS delivery: the master playlist after the entitlement check, and the package's
playlists and files behind a stream token (see ``serving.stream_tokens``, ``serving.playback``).

Signed-in viewers of premium or private videos play inside a playback session: its
``manifest_url`` carries a session-bound token; the master without a token is refused for them
(403). Free public and unlisted videos need no session: the master answers anyone with tokens
bound to the caller (0 when anonymous). Media playlists are rewritten per fetch (EVENT
playlists keep growing) with a fresh token that lives ``stream_token_ttl_s`` plus the
playlist's duration, so a VOD played without pauses never outlives its segment tokens.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from fastapi import Response
from sqlalchemy.orm import Session

from core.db.models import User, Video
from core.errors import NotFoundError, PermissionDeniedError
from core.settings import Settings
from core.types import Role, VideoStatus, Visibility
from serving import stream_tokens
from serving.playback import Viewer, check_grant, entitled_video, needs_session
from serving.stream_files import (
    DOWNLOAD,
    MEDIA_TYPES,
    POSTER,
    STORYBOARD,
    file_response,
    file_url,
    package_dir,
    package_file,
)
from serving.stream_playlists import (
    playlist_seconds,
    rewrite_playlist,
    rewrite_storyboard,
)
from serving.stream_tokens import StreamGrant


@dataclass(frozen=True)
class Playlist:
    """A rewritten playlist: its text and media type."""

    text: str
    media_type: str


def master_url(video_id: int, token: str) -> str:
    """The master playlist's URL with ``token`` (served here, never from the CDN)."""
    return f"/videos/{video_id}/manifest.m3u8?token={token}"


def _viewer_of(session: Session, grant: StreamGrant) -> Viewer:
    if grant.viewer_id == 0:
        return Viewer(None)
    user = session.get(User, grant.viewer_id)
    if user is None:
        raise PermissionDeniedError("this stream token's viewer no longer exists")
    return Viewer(user.id, user.role is Role.ADMIN)


def master_playlist(
    session: Session,
    settings: Settings,
    key: bytes,
    video_id: int,
    caller: Viewer,
    token: str | None,
) -> Playlist:
    """The master playlist for ``caller`` (or for the token's viewer), its URIs tokenised."""
    if token is not None:
        grant = stream_tokens.verify(key, token)
        check_grant(session, grant, video_id, caller.user_id, settings.playback_lease_s)
        video = entitled_video(session, video_id, _viewer_of(session, grant))
        viewer_id, session_id = grant.viewer_id, grant.session_id
        if session_id is None and needs_session(video):
            raise PermissionDeniedError(f"video {video_id} plays within a playback session")
    else:
        video = entitled_video(session, video_id, caller)
        if needs_session(video):
            raise PermissionDeniedError(
                f"video {video_id} plays within a playback session: POST "
                f"/videos/{video_id}/playback and use its manifest_url"
            )
        viewer_id, session_id = caller.user_id or 0, None
    if not video.renditions:
        raise NotFoundError(f"video {video_id} has no streams yet")
    master = package_dir(settings.paths.packages, video_id) / "master.m3u8"
    if not master.is_file():
        raise NotFoundError(f"video {video_id} has no master playlist")
    fresh = stream_tokens.issue(
        key, video_id, viewer_id, session_id, stream_tokens.expiry(settings.stream_token_ttl_s)
    )
    text = rewrite_playlist(
        master.read_text(), "", lambda path: file_url(None, video_id, path, fresh)
    )
    return Playlist(text, MEDIA_TYPES[".m3u8"])


def open_stream(
    session: Session, settings: Settings, key: bytes, video_id: int, caller: Viewer
) -> tuple[str, int]:
    """A token for a video that plays without a playback session (free, public or unlisted,
    or the caller's own), bound to the caller (0 when anonymous), and its expiry (epoch
    seconds); 403 for a video that needs a session, 404 before it has streams."""
    video = entitled_video(session, video_id, caller)
    if needs_session(video):
        raise PermissionDeniedError(
            f"video {video_id} plays within a playback session: POST "
            f"/videos/{video_id}/playback and use its URLs"
        )
    if not video.renditions:
        raise NotFoundError(f"video {video_id} has no streams yet")
    expires = stream_tokens.expiry(settings.stream_token_ttl_s)
    return stream_tokens.issue(key, video_id, caller.user_id or 0, None, expires), expires


def _still_open(session: Session, video_id: int) -> None:
    """An anonymous grant's video must still be free, ready and not private."""
    video = session.get(Video, video_id)
    if (
        video is None
        or video.status is not VideoStatus.READY
        or video.visibility is Visibility.PRIVATE
        or video.premium
    ):
        raise PermissionDeniedError(f"video {video_id} is no longer open to anonymous viewers")


def package_response(
    session: Session,
    settings: Settings,
    key: bytes,
    video_id: int,
    file_path: str,
    token: str | None,
    caller_id: int | None,
    if_none_match: str | None,
) -> Playlist | Response:
    """What to send for ``file_path`` of the package: a rewritten playlist or storyboard, or
    the file (Range, ETag, 304; the download as an attachment)."""
    grant = stream_tokens.verify(key, token)
    check_grant(session, grant, video_id, caller_id, settings.playback_lease_s)
    target = package_file(settings.paths.packages, video_id, file_path)
    relative = target.relative_to(package_dir(settings.paths.packages, video_id).resolve())
    folder = relative.parent.as_posix().removeprefix(".")
    if target.suffix in (".m3u8", ".vtt"):
        if grant.viewer_id == 0:
            _still_open(session, video_id)
        text = target.read_text()
        lifetime = settings.stream_token_ttl_s + math.ceil(playlist_seconds(text))
        fresh = stream_tokens.issue(
            key, video_id, grant.viewer_id, grant.session_id, stream_tokens.expiry(lifetime)
        )

        def url_for(path: str) -> str:
            return file_url(settings.cdn_base_url, video_id, path, fresh)

        if target.suffix == ".m3u8":
            return Playlist(rewrite_playlist(text, folder, url_for), MEDIA_TYPES[".m3u8"])
        return Playlist(rewrite_storyboard(text, folder, url_for), MEDIA_TYPES[".vtt"])
    max_age = int(grant.expires_at - time.time())
    name = f"video-{video_id}.mp4" if relative.as_posix() == DOWNLOAD else None
    return file_response(target, if_none_match, max_age, name)


def extra_urls(settings: Settings, video_id: int, token: str) -> dict[str, str | None]:
    """Tokenised URLs of the package's poster, storyboard index and MP4 download (None for
    those the pipeline has not written)."""
    package = package_dir(settings.paths.packages, video_id)
    return {
        name: file_url(settings.cdn_base_url, video_id, path, token)
        if (package / path).is_file()
        else None
        for name, path in (
            ("poster_url", POSTER),
            ("storyboard_url", STORYBOARD),
            ("download_url", DOWNLOAD),
        )
    }
