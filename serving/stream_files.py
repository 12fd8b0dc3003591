"""Files of a video's package: safe path resolution, their URLs, and conditional responses.

Starlette's ``FileResponse`` (1.x) already answers ``Range`` (206 + Content-Range, 416 for a
range past the end, ``If-Range``) and sets an ETag, but ignores ``If-None-Match``; this module
adds the 304 and uses its own ETag (mtime + size) for both, so the two always agree.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import Response
from fastapi.responses import FileResponse

from core.errors import NotFoundError

#: Longest file path accepted inside a package (real ones are a few dozen characters).
MAX_FILE_PATH = 200

MEDIA_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".ts": "video/mp2t",
    ".vtt": "text/vtt",
    ".jpg": "image/jpeg",
}

#: The MP4 download the media pipeline writes at the package root.
DOWNLOAD = "download.mp4"
POSTER = "poster.jpg"
STORYBOARD = "storyboard/storyboard.vtt"

#: Playlists change (rungs join the master, EVENT playlists grow) and carry tokens: every use
#: revalidates, and shared caches must not keep them.
PLAYLIST_CACHE = "private, no-cache"
#: Package files never change once written, but the response was authorised by the token in
#: the URL: browsers may reuse it while the token lives; shared caches must not store it (a
#: CDN that checks tokens at its edge is configured with its own policy).
MAX_FILE_AGE_S = 86_400


def package_dir(packages: Path, video_id: int) -> Path:
    """Where the media pipeline writes video ``video_id``'s package."""
    return packages / str(video_id)


def package_file(packages: Path, video_id: int, file_path: str) -> Path:
    """The file ``file_path`` of the video's package: inside it, of an allowed kind, and
    present; NotFoundError otherwise (``..``, absolute paths, backslashes, NUL included)."""
    missing = NotFoundError(f"video {video_id} has no file {file_path!r}")
    if (
        not file_path
        or len(file_path) > MAX_FILE_PATH
        or "\x00" in file_path
        or "\\" in file_path
        or file_path.startswith("/")
    ):
        raise missing
    package = package_dir(packages, video_id).resolve()
    target = (package / file_path).resolve()
    if (
        not target.is_relative_to(package)
        or target.suffix not in MEDIA_TYPES
        or not target.is_file()
    ):
        raise missing
    return target


def file_url(base_url: str | None, video_id: int, file_path: str, token: str) -> str:
    """The URL of a package file with its token: under ``base_url`` (a CDN) when set, else
    root-relative."""
    prefix = base_url.rstrip("/") if base_url else ""
    return f"{prefix}/videos/{video_id}/hls/{quote(file_path, safe='/')}?token={token}"


def _etag_matches(header: str, etag: str) -> bool:
    wanted = etag.removeprefix("W/")
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == wanted:
            return True
    return False


def file_response(
    path: Path,
    if_none_match: str | None,
    max_age_s: int,
    download_name: str | None = None,
) -> Response:
    """``path`` with Range support, its ETag and ``private, max-age``; 304 when the client's
    ``If-None-Match`` names the current ETag."""
    stat = path.stat()
    etag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'
    headers = {
        "ETag": etag,
        "Cache-Control": f"private, max-age={max(0, min(max_age_s, MAX_FILE_AGE_S))}",
    }
    if if_none_match is not None and _etag_matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return FileResponse(
        path,
        media_type=MEDIA_TYPES[path.suffix],
        headers=headers,
        stat_result=stat,
        filename=download_name,
    )
