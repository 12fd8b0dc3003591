"""The upload store: ``Upload`` rows and their partial files under ``<media>/uploads``.

A PATCH appends to the partial file under an exclusive lock, then flushes and fsyncs it before
it commits the new offset, so the stored offset never counts a byte that is not on disk; the
next PATCH first truncates the file back to the stored offset (bytes written after the last
commit by a process that died). The last byte turns the upload into a video of the creator's
channel (status uploaded) and hands it to the media queue.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import anyio
from anyio import to_thread
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.requests import ClientDisconnect

from core.db.models import Upload, User, Video, utcnow
from core.db.session import session_scope
from core.errors import ConflictError, NotFoundError
from core.settings import Settings
from core.types import VideoStatus
from serving.accounts import ensure_channel
from serving.auth import Principal
from serving.tus import CHECKSUM_MISMATCH, TusError, check_patch
from serving.upload_models import MAX_FILENAME, UploadOut, UploadState, VideoFields

log = logging.getLogger(__name__)

RECEIVING: UploadState = "receiving"
PROCESSING: UploadState = "processing"
READY: UploadState = "ready"
FAILED: UploadState = "failed"
#: Metadata keys a tus client may send for the file's name (tus-js-client and Uppy use these).
FILENAME_KEYS = ("filename", "name")
#: Metadata keys that become the video's fields.
FIELD_KEYS = ("title", "description", "tags", "genres", "language", "visibility", "premium")
_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no", ""}


def aware(moment: datetime) -> datetime:
    """``moment`` as timezone-aware UTC (SQLite hands back naive UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def uploads_dir(settings: Settings) -> Path:
    """Where partial files live."""
    return settings.paths.media / "uploads"


def partial_path(settings: Settings, upload_id: str) -> Path:
    """The partial file of an upload."""
    return uploads_dir(settings) / f"{upload_id}.part"


def _labels(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def parse_fields(metadata: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """The file name and the video fields (as JSON) carried by tus metadata; 400 if invalid.
    Unknown keys (``filetype``, a client's own) are ignored."""
    name = next((metadata[k] for k in FILENAME_KEYS if metadata.get(k)), "upload")
    printable = "".join(ch for ch in name if ch.isprintable())  # no NUL or control characters
    filename = Path(printable.replace("\\", "/")).name.strip()[:MAX_FILENAME] or "upload"
    raw: dict[str, Any] = {k: metadata[k] for k in FIELD_KEYS if k in metadata}
    for key in ("tags", "genres"):
        if key in raw:
            raw[key] = _labels(raw[key])
    if "premium" in raw:
        flag = raw["premium"].strip().lower()
        if flag not in _TRUE | _FALSE:
            raise TusError(400, f"metadata premium must be true or false, got {flag[:20]!r}")
        raw["premium"] = flag in _TRUE
    try:
        fields = VideoFields.model_validate(raw)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(p) for p in problem["loc"])
        raise TusError(400, f"metadata {where}: {problem['msg']}") from None
    return filename, fields.model_dump(mode="json", exclude_none=True)


#: The window of the daily upload quota.
QUOTA_WINDOW = timedelta(hours=24)


def check_daily_quota(
    session: Session, principal: Principal, length: int, settings: Settings
) -> None:
    """Refuse (413) an upload of ``length`` bytes that would take the creator past
    ``upload_daily_quota_bytes`` counted over the uploads they started in the last 24 hours
    (whole declared lengths, finished or not; terminated uploads no longer count)."""
    quota = settings.upload_daily_quota_bytes
    if quota == 0 or principal.is_admin:
        return
    since = utcnow() - QUOTA_WINDOW
    used = session.scalar(
        select(func.coalesce(func.sum(Upload.length), 0)).where(
            Upload.user_id == principal.user_id, Upload.created_at >= since
        )
    )
    used = int(used or 0)
    if used + length > quota:
        raise TusError(
            413,
            f"daily upload quota: {used} of {quota} bytes started in the last 24 hours; "
            f"an upload of {length} bytes would pass it",
        )


def create_upload(
    session: Session, user_id: int, length: int, metadata: dict[str, str], settings: Settings
) -> Upload:
    """A new upload of ``length`` bytes with an empty partial file (flushed, not committed)."""
    filename, fields = parse_fields(metadata)
    now = utcnow()
    upload = Upload(
        id=secrets.token_hex(16),
        user_id=user_id,
        length=length,
        offset=0,
        filename=filename,
        meta=fields,
        state=RECEIVING,
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(seconds=settings.upload_ttl_s),
    )
    folder = uploads_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    partial_path(settings, upload.id).touch()
    session.add(upload)
    session.flush()
    return upload


def owned_upload(session: Session, upload_id: str, principal: Principal) -> Upload:
    """The caller's upload (any upload for an admin); someone else's reads as missing."""
    upload = session.get(Upload, upload_id)
    if upload is None or (upload.user_id != principal.user_id and not principal.is_admin):
        raise NotFoundError(f"upload {upload_id} not found")
    return upload


def expired(upload: Upload, now: datetime | None = None) -> bool:
    """Whether an unfinished upload is past its expiry."""
    return upload.state == RECEIVING and aware(upload.expires_at) <= (now or utcnow())


def receivable_upload(session: Session, upload_id: str, principal: Principal) -> Upload:
    """An upload the caller may read the offset of or append to; 410 once expired."""
    upload = owned_upload(session, upload_id, principal)
    if expired(upload) or (upload.state == FAILED and upload.video_id is None):
        raise TusError(410, f"upload {upload_id} expired at {aware(upload.expires_at)}")
    return upload


def state_of(upload: Upload, video: Video | None) -> UploadState:
    """The upload's state, following its video once processing (ready as soon as it plays)."""
    if upload.state in (PROCESSING, READY) and video is not None:
        if video.status is VideoStatus.READY:
            return READY
        if video.status is VideoStatus.FAILED:
            return FAILED
    if upload.state == RECEIVING and expired(upload):
        return FAILED
    return upload.state  # type: ignore[return-value]


def upload_out(session: Session, upload: Upload) -> UploadOut:
    """The upload's status for its creator."""
    video = session.get(Video, upload.video_id) if upload.video_id is not None else None
    state = state_of(upload, video)
    error = upload.error
    if error is None and state == FAILED:
        if video is not None and video.failure_reason:
            error = video.failure_reason
        elif upload.state == RECEIVING:
            error = "the upload expired before its last byte arrived"
    return UploadOut(
        id=upload.id,
        state=state,
        offset=upload.offset,
        length=upload.length,
        filename=upload.filename,
        video_id=upload.video_id,
        error=error,
        created_at=upload.created_at,
        expires_at=upload.expires_at if upload.state == RECEIVING else None,
    )


def complete(session: Session, upload: Upload) -> datetime:
    """Turn a fully received upload into a video of its creator's channel (status uploaded)
    and mark it processing; the claim stamp the media queue takes it by."""
    user = session.get(User, upload.user_id)
    if user is None:
        raise NotFoundError(f"the owner of upload {upload.id} no longer exists")
    channel = ensure_channel(session, user)
    fields = VideoFields.model_validate(upload.meta)
    title = fields.title or Path(upload.filename).stem[:200] or "untitled"
    video = Video(
        title=title,
        description=fields.description or "",
        tags=fields.tags or [],
        genres=fields.genres or [],
        language=fields.language,
        channel_id=channel.id,
        status=VideoStatus.UPLOADED,
        premium=bool(fields.premium),
        updated_at=utcnow(),
    )
    if fields.visibility is not None:
        video.visibility = fields.visibility
    session.add(video)
    session.flush()
    stamp = utcnow()
    upload.video_id, upload.state, upload.updated_at = video.id, PROCESSING, stamp
    return stamp


@dataclass(frozen=True)
class Received:
    """What a PATCH left: the committed offset, and the claim stamp if it completed the upload."""

    offset: int
    length: int
    completed: datetime | None
    disconnected: bool


def _open_locked(path: Path, upload_id: str) -> BinaryIO:
    """The partial file, opened for writing under an exclusive lock (423 when another request
    is writing to it)."""
    try:
        handle = path.open("r+b")
    except FileNotFoundError:
        raise TusError(410, f"upload {upload_id} has lost its partial file; start again") from None
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise TusError(423, f"upload {upload_id} is receiving another PATCH; retry") from None
    return handle


def _commit_offset(
    settings: Settings, upload_id: str, start: int, handle: BinaryIO, written: int
) -> tuple[int, int, datetime | None]:
    """Make the appended bytes durable, then store the new offset; complete the upload when
    it is whole. The new offset, the length and the claim stamp if completed."""
    handle.flush()
    os.fsync(handle.fileno())
    with session_scope(settings.resolved_database_url) as session:
        upload = session.get(Upload, upload_id, with_for_update=True)
        if upload is None or upload.state != RECEIVING:
            raise TusError(410, f"upload {upload_id} ended (expired or terminated) meanwhile")
        if upload.offset != start:
            raise ConflictError(f"upload {upload_id} changed while receiving; HEAD and resume")
        upload.offset = start + written
        upload.updated_at = utcnow()
        stamp = complete(session, upload) if upload.offset == upload.length else None
        return upload.offset, upload.length, stamp


async def receive(
    settings: Settings,
    principal: Principal,
    upload_id: str,
    claimed_offset: int,
    content_length: int | None,
    body: AsyncIterator[bytes],
    checksum: tuple[str, bytes] | None = None,
) -> Received:
    """Append a PATCH body at ``claimed_offset`` (which must be the stored offset).

    Bytes are written as they arrive, never held whole in memory. When the client goes away
    mid-body, the bytes that arrived are kept and committed, so it resumes from there. A body
    that would pass ``Upload-Length`` is refused (413) and nothing of it is kept. With a
    ``checksum`` (algorithm, digest), the body is kept only when it arrived whole and matches
    (else 460, nothing kept).
    """
    url = settings.resolved_database_url

    def load() -> tuple[int, int, str]:
        with session_scope(url) as session:
            upload = receivable_upload(session, upload_id, principal)
            if upload.state != RECEIVING and not (
                claimed_offset == upload.offset == upload.length and not content_length
            ):
                raise ConflictError(f"upload {upload_id} is complete; it takes no more bytes")
            check_patch(claimed_offset, upload.offset, upload.length, content_length)
            return upload.offset, upload.length, upload.state

    start, length, state = await to_thread.run_sync(load)
    if state != RECEIVING:
        return Received(start, length, None, False)
    handle = await to_thread.run_sync(_open_locked, partial_path(settings, upload_id), upload_id)
    written, disconnected, too_long, mismatch = 0, False, False, False
    digest = hashlib.new(checksum[0]) if checksum else None
    try:
        handle.truncate(start)  # bytes past the stored offset were never committed
        handle.seek(start)
        try:
            async for chunk in body:
                if start + written + len(chunk) > length:
                    too_long = True
                    break
                handle.write(chunk)
                if digest is not None:
                    digest.update(chunk)
                written += len(chunk)
        except ClientDisconnect:
            disconnected = True
            log.info("upload %s: client left after %d bytes", upload_id, written)
        if checksum is not None and digest is not None and not too_long:
            mismatch = disconnected or digest.digest() != checksum[1]
        if too_long or mismatch:
            handle.truncate(start)
            written = 0
        with anyio.CancelScope(shield=True):
            offset, length, stamp = await to_thread.run_sync(
                _commit_offset, settings, upload_id, start, handle, written
            )
    finally:
        handle.close()  # releases the lock
    if too_long:
        raise TusError(413, f"the body goes past Upload-Length {length}; nothing was kept")
    if mismatch:
        raise TusError(
            CHECKSUM_MISMATCH,
            "Checksum Mismatch: the body did not arrive whole or does not match its "
            f"Upload-Checksum; nothing was kept, send it again from offset {offset}",
        )
    return Received(offset, length, stamp, disconnected)


def terminate(session: Session, settings: Settings, upload: Upload) -> None:
    """Delete an unfinished upload and its partial file (a finished one made a video: delete
    that instead)."""
    if upload.state != RECEIVING:
        raise ConflictError(
            f"upload {upload.id} is complete; delete video {upload.video_id} instead"
        )
    partial = partial_path(settings, upload.id)
    handle = _open_locked(partial, upload.id) if partial.exists() else None
    try:
        session.delete(upload)
        session.flush()
        partial.unlink(missing_ok=True)
    finally:
        if handle is not None:
            handle.close()


def drop_expired(settings: Settings, now: datetime | None = None) -> int:
    """Remove the partial files of expired unfinished uploads (their rows stay, read as
    failed: expired); one still receiving a PATCH waits for the next round. How many went."""
    now = now or utcnow()
    dropped = 0
    with session_scope(settings.resolved_database_url) as session:
        rows = session.scalars(
            select(Upload).where(Upload.state == RECEIVING, Upload.expires_at <= now).limit(1000)
        )
        for upload in rows:
            partial = partial_path(settings, upload.id)
            try:
                handle = _open_locked(partial, upload.id) if partial.exists() else None
            except TusError:
                continue
            try:
                upload.state = FAILED
                upload.error = "the upload expired before its last byte arrived"
                upload.updated_at = now
                session.flush()
                partial.unlink(missing_ok=True)
            finally:
                if handle is not None:
                    handle.close()
            dropped += 1
    return dropped
