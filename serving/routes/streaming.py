"""HLS delivery: the master playlist (after the entitlement check) and the package's
playlists, segments, storyboard, poster and MP4 download (behind a stream token); the poster
of a listed or unlisted video also without one, for cards."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi import Path as PathParam

from core.errors import AuthenticationError, NotFoundError
from serving import stream_service, tokens
from serving.auth import OptionalPrincipal, request_key
from serving.deps import SessionDep, SettingsDep
from serving.params import VideoId
from serving.playback import Viewer
from serving.playback_models import StreamOut
from serving.stream_files import MAX_FILE_PATH, PLAYLIST_CACHE, POSTER, file_response, package_dir
from serving.stream_tokens import MAX_TOKEN
from serving.visibility import viewable_video

router = APIRouter(prefix="/videos", tags=["streaming"])

Token = Annotated[
    str | None,
    Query(max_length=MAX_TOKEN, description="The stream token the playlists put in each URL."),
]


def _playlist(playlist: stream_service.Playlist) -> Response:
    return Response(
        playlist.text, media_type=playlist.media_type, headers={"Cache-Control": PLAYLIST_CACHE}
    )


def bearer_user_id(request: Request) -> int | None:
    """The user of the request's bearer token (signature and expiry only, no lookup), to
    compare with a stream token's viewer; None without one."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value:
        raise AuthenticationError("the Authorization header must be 'Bearer <access token>'")
    try:
        return tokens.verify(request_key(request), value.strip(), "access").user_id
    except tokens.TokenError as exc:
        raise AuthenticationError(str(exc)) from None


@router.get("/{video_id}/manifest.m3u8", response_class=Response)
def master_playlist(
    request: Request,
    video_id: VideoId,
    session: SessionDep,
    settings: SettingsDep,
    principal: OptionalPrincipal,
    token: Token = None,
) -> Response:
    """The HLS master playlist; its variant, audio and I-frame URIs carry a fresh token.

    Without a token: free public and unlisted videos, for anyone. With one (a playback
    session's ``manifest_url``): the token's video and viewer, while the session is live."""
    caller = Viewer(principal.user_id, principal.is_admin) if principal else Viewer(None)
    return _playlist(
        stream_service.master_playlist(
            session, settings, request_key(request), video_id, caller, token
        )
    )


@router.get(
    "/{video_id}/stream",
    response_model=StreamOut,
    responses={
        401: {"description": "A premium video, asked for without signing in."},
        403: {"description": "The video plays within a playback session only."},
        404: {"description": "No such video (for this caller), or no streams yet."},
    },
)
def stream_urls(
    request: Request,
    video_id: VideoId,
    session: SessionDep,
    settings: SettingsDep,
    principal: OptionalPrincipal,
) -> StreamOut:
    """The master playlist, poster, storyboard and download URLs, with one token bound to
    the caller (anonymous too), for a free public or unlisted video; premium and private
    videos play within a playback session (``POST /videos/{id}/playback``)."""
    caller = Viewer(principal.user_id, principal.is_admin) if principal else Viewer(None)
    token, expires = stream_service.open_stream(
        session, settings, request_key(request), video_id, caller
    )
    return StreamOut(
        video_id=video_id,
        manifest_url=stream_service.master_url(video_id, token),
        token_expires_at=datetime.fromtimestamp(expires, UTC),
        **stream_service.extra_urls(settings, video_id, token),
    )


#: How long a browser keeps a card's poster (seconds).
POSTER_MAX_AGE_S = 3600


@router.get("/{video_id}/poster.jpg", response_class=Response)
def poster(
    video_id: VideoId,
    session: SessionDep,
    settings: SettingsDep,
    if_none_match: Annotated[str | None, Header(max_length=1024)] = None,
) -> Response:
    """The poster of a video anyone may see listed (premium ones too: the poster is the
    video's card, not its content); 404 for private videos and before the poster exists."""
    viewable_video(session, video_id)
    path = package_dir(settings.paths.packages, video_id) / POSTER
    if not path.is_file():
        raise NotFoundError(f"video {video_id} has no poster yet")
    return file_response(path, if_none_match, POSTER_MAX_AGE_S)


@router.get("/{video_id}/hls/{file_path:path}", response_class=Response)
def package_file(
    request: Request,
    video_id: VideoId,
    file_path: Annotated[str, PathParam(max_length=MAX_FILE_PATH)],
    session: SessionDep,
    settings: SettingsDep,
    token: Token = None,
    if_none_match: Annotated[str | None, Header(max_length=1024)] = None,
) -> Response:
    """A media playlist or storyboard index (rewritten, tokens renewed), or a segment, init
    segment, sprite, poster or ``download.mp4`` (Range, ETag, If-None-Match -> 304).

    401: no token, a malformed or an expired one; 403: a tampered token, or one for another
    video, another viewer or an ended playback session; 404: no such file in the package."""
    answer = stream_service.package_response(
        session,
        settings,
        request_key(request),
        video_id,
        file_path,
        token,
        bearer_user_id(request),
        if_none_match,
    )
    return _playlist(answer) if isinstance(answer, stream_service.Playlist) else answer
