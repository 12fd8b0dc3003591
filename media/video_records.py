"""Write a video's processing outcome to the catalogue: its status and its published renditions."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete
from sqlalchemy.orm import Session

from core.db.models import Rendition, Video
from core.db.session import session_scope
from core.errors import NotFoundError
from core.types import VideoStatus
from media.errors import MediaError


def _video(session: Session, video_id: int) -> Video:
    """The video row, locked for update where the engine supports it."""
    video = session.get(Video, video_id, with_for_update=True)
    if video is None:
        raise NotFoundError(f"video {video_id} does not exist")
    return video


def mark_processing(database_url: str, video_id: int) -> None:
    """Move an uploaded (or failed, for a retry) video to processing."""
    with session_scope(database_url) as session:
        video = _video(session, video_id)
        if video.status is VideoStatus.PROCESSING:
            return
        if video.status not in (VideoStatus.UPLOADED, VideoStatus.FAILED):
            raise MediaError(
                f"video {video_id} is {video.status}; only an uploaded or failed one "
                "can be processed"
            )
        video.transition(VideoStatus.PROCESSING)


def record_failure(database_url: str, video_id: int, reason: str) -> None:
    """Mark the video failed with ``reason`` (an uploaded one passes through processing)."""
    with session_scope(database_url) as session:
        video = _video(session, video_id)
        if video.status is VideoStatus.READY:
            raise MediaError(f"video {video_id} is already ready; it cannot fail now")
        if video.status is VideoStatus.FAILED:
            video.failure_reason = reason
            return
        video.transition(VideoStatus.FAILED, reason=reason)


def _relative(path: Path, data_root: Path) -> str:
    """``path`` relative to ``data_root`` (POSIX form), or ``MediaError`` if outside it."""
    try:
        return path.resolve().relative_to(data_root.resolve()).as_posix()
    except ValueError:
        raise MediaError(f"{path} is not under the data root {data_root}") from None


def record_rendition(
    database_url: str,
    video_id: int,
    *,
    name: str,
    width: int,
    height: int,
    bitrate: int,
    codecs: str,
    playlist: Path,
    data_root: Path,
) -> bool:
    """Add (or replace) one published rung of the video; the first one makes it ready.

    Returns whether this call made the video ready. The video must be processing (or already
    ready, when better rungs are added); the playlist must exist under ``data_root``.
    """
    if not Path(playlist).is_file():
        raise MediaError(f"rendition {name}: playlist {playlist} is missing")
    relative = _relative(Path(playlist), data_root)
    with session_scope(database_url) as session:
        video = _video(session, video_id)
        if video.status not in (VideoStatus.PROCESSING, VideoStatus.READY):
            raise MediaError(f"video {video_id} is {video.status}; it cannot take a rendition")
        session.execute(
            delete(Rendition).where(Rendition.video_id == video_id, Rendition.name == name)
        )
        session.flush()
        session.add(
            Rendition(
                video_id=video_id,
                name=name,
                width=width,
                height=height,
                bitrate=bitrate,
                codecs=codecs,
                playlist_path=relative,
            )
        )
        if video.status is VideoStatus.PROCESSING:
            video.transition(VideoStatus.READY)
            return True
        return False
