"""HLS delivery: the master playlist and the files of a video's package."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, PlainTextResponse, Response

from core.db.models import Video
from core.errors import NotFoundError
from serving.deps import SessionDep, SettingsDep
from serving.params import VideoId
from serving.visibility import viewable_video

router = APIRouter(prefix="/videos", tags=["streaming"])

#: A relative URI attribute of a playlist tag (audio renditions, I-frame playlists).
_TAG_URI = re.compile(r'URI="(?![a-zA-Z][a-zA-Z0-9+.-]*://)([^"]+)"')

#: Longest file path accepted inside a package (real ones are a few dozen characters).
MAX_FILE_PATH = 200

HLS_MEDIA_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".ts": "video/mp2t",
    ".vtt": "text/vtt",
    ".jpg": "image/jpeg",
}


def _package_dir(settings: SettingsDep, video: Video) -> Path:
    if not video.renditions:
        raise NotFoundError(f"video {video.id} has no streams yet")
    master = settings.paths.root / video.renditions[0].playlist_path
    return master.parent.parent


#: Playlists change (rungs join the master, a growing rung's EVENT playlist is appended to):
#: caches must revalidate. Segments and init segments are written once and never change.
PLAYLIST_CACHE = "no-cache"
SEGMENT_CACHE = "public, max-age=86400"


@router.get(
    "/{video_id}/manifest.m3u8",
    response_class=Response,
    responses={
        200: {
            "description": "The master playlist.",
            "content": {HLS_MEDIA_TYPES[".m3u8"]: {"schema": {"type": "string"}}},
        }
    },
)
def master_playlist(
    video_id: VideoId, session: SessionDep, settings: SettingsDep
) -> PlainTextResponse:
    """The HLS master playlist; its variant URIs point under ``hls/``."""
    video = viewable_video(session, video_id)
    master = _package_dir(settings, video) / "master.m3u8"
    if not master.is_file():
        raise NotFoundError(f"video {video_id} has no master playlist")
    lines = []
    for line in master.read_text().splitlines():
        if line.startswith("#"):
            line = _TAG_URI.sub(r'URI="hls/\1"', line)
        elif line and "://" not in line:
            line = f"hls/{line}"
        lines.append(line)
    return PlainTextResponse(
        "\n".join(lines) + "\n",
        media_type=HLS_MEDIA_TYPES[".m3u8"],
        headers={"Cache-Control": PLAYLIST_CACHE},
    )


@router.get("/{video_id}/hls/{file_path:path}")
def hls_file(
    video_id: VideoId,
    file_path: Annotated[str, PathParam(max_length=MAX_FILE_PATH)],
    session: SessionDep,
    settings: SettingsDep,
) -> FileResponse:
    """A media playlist, init segment or media segment of the video's package."""
    video = viewable_video(session, video_id)
    package = _package_dir(settings, video).resolve()
    target = (package / file_path).resolve()
    media_type = HLS_MEDIA_TYPES.get(target.suffix)
    if not target.is_relative_to(package) or media_type is None or not target.is_file():
        raise NotFoundError(f"video {video_id} has no file {file_path!r}")
    cache = PLAYLIST_CACHE if target.suffix == ".m3u8" else SEGMENT_CACHE
    return FileResponse(target, media_type=media_type, headers={"Cache-Control": cache})
