"""Accept an upload: stream it to storage, probe it, and reject hostile or over-limit files.

A rejected upload marks its video failed with the reason, deletes the stored bytes and raises
``MediaError`` with the same reason; nothing of it is published.
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path
from typing import BinaryIO

import av
from pydantic import BaseModel, ConfigDict, Field

from core.db.models import Video
from core.db.session import session_scope
from core.paths import DataPaths
from core.settings import get_settings
from media.errors import MediaError
from media.ingest.originals import Storage
from media.ingest.probe import ProbeResult, open_media, probe
from media.video_records import record_failure

log = logging.getLogger(__name__)


class IngestLimits(BaseModel):
    """What an upload may be at most (and at least)."""

    model_config = ConfigDict(frozen=True)

    max_bytes: int = Field(8 << 30, gt=0, description="Largest upload, bytes.")
    max_duration_s: float = Field(4 * 3600.0, gt=0, description="Longest video, seconds.")
    min_duration_s: float = Field(0.1, ge=0, description="Shortest video, seconds.")
    max_long_side: int = Field(3840, gt=0, description="Largest longer side, pixels.")
    max_short_side: int = Field(2160, gt=0, description="Largest shorter side, pixels.")
    truncation_tolerance_s: float = Field(
        1.0, ge=0, description="How far the last video packet may end before the stated duration."
    )


class IngestResult(BaseModel):
    """An accepted upload."""

    model_config = ConfigDict(frozen=True)

    video_id: int
    original_url: str
    local_path: Path
    size: int
    sha256: str
    probe: ProbeResult


def _suffix(name: str) -> str:
    """A safe lowercase file extension from an upload's name ('' if none)."""
    match = re.search(r"\.([A-Za-z0-9]{1,8})$", name)
    return f".{match.group(1).lower()}" if match else ""


def _check_stream(path: Path, info: ProbeResult, limits: IngestLimits) -> None:
    """Demux every video packet and decode the last GOPs: truncation and resolution changes."""
    declared = (info.declared_width, info.declared_height)
    if (info.width, info.height) != declared:
        raise MediaError(
            f"{path.name}: declared resolution {declared[0]}x{declared[1]} does not match the "
            f"decoded frames ({info.width}x{info.height})"
        )
    last_s, position = 0.0, 0.0
    with open_media(path) as container:
        stream = container.streams.video[0]
        base = stream.time_base
        if base is None:
            raise MediaError(f"{path.name}: the video stream has no time base")
        start = stream.start_time or 0
        try:
            for packet in container.demux(stream):
                if packet.pts is not None and base is not None:
                    position = float((packet.pts - start) * base)
                    if packet.duration:
                        last_s = max(last_s, position + float(packet.duration * base))
                    else:
                        last_s = max(last_s, position + 1 / info.fps)
        except (av.FFmpegError, ValueError) as exc:
            raise MediaError(
                f"{path.name}: the file is truncated or corrupt near {position:.2f} s ({exc})"
            ) from exc
        if last_s + limits.truncation_tolerance_s < info.duration_s:
            raise MediaError(
                f"{path.name}: the file is truncated: video stops at {last_s:.2f} s of the "
                f"{info.duration_s:.2f} s it declares"
            )
        tail = max(0.0, last_s - 3.0)
        container.seek(int(start + tail / base), stream=stream, backward=True)
        decoded = 0
        try:
            for frame in container.decode(stream):
                decoded += 1
                if (frame.width, frame.height) != declared:
                    at = float(frame.pts * base) if frame.pts is not None else tail
                    raise MediaError(
                        f"{path.name}: declared resolution {declared[0]}x{declared[1]} does not "
                        f"match the decoded frames ({frame.width}x{frame.height} at {at:.2f} s)"
                    )
        except (av.FFmpegError, ValueError) as exc:
            raise MediaError(
                f"{path.name}: the video cannot be decoded near {tail:.2f} s ({exc})"
            ) from exc
        if decoded == 0:
            raise MediaError(f"{path.name}: the end of the video stream cannot be decoded")


def inspect_media(path: Path, limits: IngestLimits | None = None) -> ProbeResult:
    """Probe ``path`` and check it against ``limits``; ``MediaError`` says what is wrong.

    Rejects empty, non-video, truncated or undecodable files, files with no video stream,
    videos over the duration or resolution limits, and streams whose decoded frames do not have
    the declared resolution. Never lets a decoder error escape as anything but ``MediaError``.
    """
    limits = limits or IngestLimits()
    path = Path(path)
    if path.is_file() and path.stat().st_size > limits.max_bytes:
        raise MediaError(
            f"{path.name}: the file has {path.stat().st_size} bytes, over the limit of "
            f"{limits.max_bytes}"
        )
    try:
        info = probe(path)
        if not limits.min_duration_s <= info.duration_s <= limits.max_duration_s:
            raise MediaError(
                f"{path.name}: duration {info.duration_s:.2f} s is outside the allowed "
                f"{limits.min_duration_s:g}-{limits.max_duration_s:g} s"
            )
        long_side, short_side = max(info.width, info.height), min(info.width, info.height)
        if long_side > limits.max_long_side or short_side > limits.max_short_side:
            raise MediaError(
                f"{path.name}: resolution {info.width}x{info.height} is over the limit of "
                f"{limits.max_long_side}x{limits.max_short_side}"
            )
        _check_stream(path, info, limits)
    except MediaError:
        raise
    except Exception as exc:  # hostile input must never crash the worker
        raise MediaError(f"{path.name}: cannot read the file as a video ({exc})") from exc
    return info


def ingest_file(
    database_url: str,
    source: Path | BinaryIO,
    *,
    title: str | None = None,
    filename: str | None = None,
    video_id: int | None = None,
    data_root: Path | None = None,
    storage_url: str | None = None,
    limits: IngestLimits | None = None,
    description: str = "",
    tags: list[str] | None = None,
    channel_id: int | None = None,
) -> IngestResult:
    """Stream an upload (a path or a binary stream) to storage and accept or reject it.

    Creates the video (status uploaded) unless ``video_id`` names one. The original goes to
    ``storage_url`` (default: ``originals/`` under the data root) as ``<video_id><ext>``. A
    rejected upload marks the video failed with the reason, deletes the stored original and
    raises ``MediaError``.
    """
    limits = limits or IngestLimits()
    paths = DataPaths(Path(data_root).resolve()) if data_root else get_settings().paths
    name = filename or (Path(source).name if isinstance(source, (str, Path)) else "upload")
    if video_id is None:
        with session_scope(database_url) as session:
            video = Video(
                title=title or Path(name).stem or "untitled",
                description=description,
                tags=list(tags or []),
                channel_id=channel_id,
            )
            session.add(video)
            session.flush()
            video_id = video.id
    storage = Storage(storage_url or paths.originals)
    key = f"{video_id}{_suffix(name)}"
    cache = paths.media / "work" / str(video_id) / "original"
    try:
        try:
            if isinstance(source, (str, Path)):
                with open_upload(Path(source)) as stream:
                    stored = storage.put_stream(stream, key, limits.max_bytes)
            else:
                stored = storage.put_stream(source, key, limits.max_bytes)
            if stored.size == 0:
                raise MediaError(f"{name}: the file is empty (0 bytes), not a video")
            local = storage.local_copy(key, cache)
            info = inspect_media(local, limits)
        except MediaError:
            storage.delete(key)
            shutil.rmtree(cache, ignore_errors=True)
            raise
    except MediaError as exc:
        record_failure(database_url, video_id, f"upload rejected: {exc}")
        log.warning("video %s: upload rejected: %s", video_id, exc)
        raise
    with session_scope(database_url) as session:
        row = session.get(Video, video_id)
        if row is not None:
            row.duration_s = round(info.duration_s, 3)
    log.info("video %s: accepted %s (%d bytes) at %s", video_id, name, stored.size, stored.url)
    return IngestResult(
        video_id=video_id,
        original_url=stored.url,
        local_path=local,
        size=stored.size,
        sha256=stored.sha256,
        probe=info,
    )


def open_upload(path: Path) -> BinaryIO:
    """``path`` opened for streaming, or ``MediaError`` if it cannot be read."""
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise MediaError(f"{path}: no such file to upload") from None
    except OSError as exc:
        raise MediaError(f"{path}: cannot read the upload ({exc.strerror})") from exc
