"""Background processing of completed uploads in the API process: ingest, transcode, extras.

An upload stays ``processing`` (its status reads ready as soon as its video plays) until the
whole ladder and the extras are done; then it is ``ready``.

The database is the queue: a completed upload is ``processing`` until its video is ready or
failed. A worker claims an upload by moving its ``updated_at`` stamp (compare-and-set, so one
process of several wins) and keeps stamping it while it works. Uploads submitted here are
claimed at once; every ``scan_interval_s`` (and at start-up) the worker also claims uploads
whose stamp is older than ``lease_s`` - their worker died - and finishes them: a video not
yet ingested is ingested again from the partial file, a transcoding job that died (its
heartbeat lapsed, ``lost_for``) is resumed with only its missing parts redone.

With ``media_dispatch = "prefect"`` a completed upload starts a run of the ``ingest-video``
deployment instead (``flows/ingest.py``: the same stages, ``process_upload``, as Prefect
tasks, claiming the upload the same way); one that no flow took is recovered here.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol, TypeVar

from sqlalchemy import select, update

from core.db.models import Upload, Video, utcnow
from core.db.session import session_scope
from core.periodic import every
from core.settings import Settings
from core.types import JobState, VideoStatus
from media.errors import MediaError
from media.ingest.upload import IngestLimits, ingest_file
from media.jobs.records import find_job, lost_for
from media.jobs.runner import LadderPackage, process_video, resume_job
from media.ray_runtime import init_ray
from media.video_records import record_failure
from serving.package_extras import make_extras
from serving.uploads import FAILED, PROCESSING, READY, drop_expired, partial_path

log = logging.getLogger(__name__)
T = TypeVar("T")


class StepRunner(Protocol):
    """Runs one named processing stage: ``step(name, function, *args)``."""

    def __call__(self, name: str, function: Callable[..., T], *args: object) -> T: ...


class MediaQueue:
    """One background thread that processes completed uploads, one at a time."""

    def __init__(
        self, settings: Settings, scan_interval_s: float = 30.0, lease_s: float = 60.0
    ) -> None:
        self.settings = settings
        self.url = settings.resolved_database_url
        self.on_ray = settings.media_processing == "ray"
        self.scan_interval_s, self.lease_s = scan_interval_s, lease_s
        self._queue: queue.Queue[tuple[str, datetime, bool]] = queue.Queue()  # id, stamp, recovered
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._busy: str | None = None
        self._started_ray = False

    def start(self) -> None:
        """Start the worker (it first recovers uploads left unfinished by a dead worker)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="media-queue", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop taking work; a job in progress finishes in the background or, if the process
        exits first, is resumed by the next worker once its lease lapses."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.warning("media queue: upload %s still processing at shutdown", self._busy)
                return
        if self._started_ray:
            import ray

            ray.shutdown()

    def submit(self, upload_id: str, stamp: datetime) -> None:
        """Process a just-completed upload (``stamp``: its ``updated_at`` at completion)."""
        self._queue.put((upload_id, stamp, False))

    @property
    def pending(self) -> int:
        """Uploads waiting in this process."""
        return self._queue.qsize()

    def _run(self) -> None:
        next_scan = 0.0
        while not self._stop.is_set():
            if time.monotonic() >= next_scan:
                try:
                    self.scan()
                except Exception:
                    log.exception("media queue: recovery scan failed")
                next_scan = time.monotonic() + self.scan_interval_s
            try:
                upload_id, stamp, recovered = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            try:
                if (
                    self.settings.media_dispatch == "prefect"
                    and not recovered
                    and trigger_ingest_flow(upload_id)
                ):
                    continue  # the flow claims it; an upload no flow took is recovered here
                if self._claim(upload_id, stamp):
                    self._busy = upload_id
                    self.process(upload_id)
            except Exception:  # one broken upload must not stop the queue
                log.exception("media queue: upload %s failed", upload_id)
            finally:
                self._busy = None

    def scan(self) -> int:
        """Drop expired partial uploads and queue completed uploads no live worker holds;
        how many were queued."""
        drop_expired(self.settings)
        stale = utcnow() - timedelta(seconds=self.lease_s)
        with session_scope(self.url) as session:
            rows = session.execute(
                select(Upload.id, Upload.updated_at)
                .where(Upload.state == PROCESSING, Upload.updated_at < stale)
                .order_by(Upload.updated_at)
                .limit(1000)
            ).all()
        for upload_id, stamp in rows:
            log.info("media queue: recovering upload %s (no worker since %s)", upload_id, stamp)
            self._queue.put((upload_id, stamp, True))
        return len(rows)

    def _claim(self, upload_id: str, stamp: datetime) -> bool:
        return claim_upload(self.url, upload_id, stamp)

    def process(self, upload_id: str) -> None:
        """Take a claimed upload as far as it goes: ready (and its extras) or failed."""
        with holding_upload(self.url, upload_id, self.lease_s):
            process_upload(self.settings, upload_id, self._start_ray)

    def _start_ray(self) -> None:
        """Start (or join) Ray for the job, once per process."""
        if self.on_ray and not self._started_ray:
            import ray

            if not ray.is_initialized():
                init_ray(self.settings.resolved_ray_address, self.settings.paths.ray_tmp)
                self._started_ray = True


#: The Prefect deployment that processes one upload (``flows/ingest.py``).
INGEST_DEPLOYMENT = "ingest-video/ingest-video"


def trigger_ingest_flow(upload_id: str) -> bool:
    """Start a run of the ingest-video deployment for the upload; False (logged) when Prefect
    cannot be reached or has no such deployment."""
    try:
        from prefect.deployments import run_deployment

        run = run_deployment(INGEST_DEPLOYMENT, parameters={"upload_id": upload_id}, timeout=0)
    except Exception as exc:
        log.warning(
            "upload %s: cannot start %s (%s); the API processes it",
            upload_id,
            INGEST_DEPLOYMENT,
            exc,
        )
        return False
    log.info("upload %s: flow run %s of %s", upload_id, getattr(run, "id", "?"), INGEST_DEPLOYMENT)
    return True


def claim_upload(database_url: str, upload_id: str, stamp: datetime) -> bool:
    """Take the upload if nobody moved its stamp since ``stamp``."""
    with session_scope(database_url) as session:
        result = session.execute(
            update(Upload)
            .where(
                Upload.id == upload_id,
                Upload.state == PROCESSING,
                Upload.updated_at == stamp,
            )
            .values(updated_at=utcnow())
        )
        return bool(getattr(result, "rowcount", 0))


def upload_stamp(database_url: str, upload_id: str) -> datetime | None:
    """The stamp a claim compares with: the upload's ``updated_at`` while it is processing."""
    with session_scope(database_url) as session:
        return session.scalar(
            select(Upload.updated_at).where(Upload.id == upload_id, Upload.state == PROCESSING)
        )


def holding_upload(
    database_url: str, upload_id: str, lease_s: float
) -> AbstractContextManager[None]:
    """Keep the claim on ``upload_id`` fresh (a stamp every third of the lease) while the
    block runs."""

    def stamp() -> None:
        with session_scope(database_url) as session:
            session.execute(
                update(Upload)
                .where(Upload.id == upload_id, Upload.state == PROCESSING)
                .values(updated_at=utcnow())
            )

    return every(lease_s / 3, stamp, f"claim of upload {upload_id}")


def _finish(settings: Settings, upload_id: str, state: str, error: str | None) -> None:
    with session_scope(settings.resolved_database_url) as session:
        upload = session.get(Upload, upload_id)
        if upload is not None:
            upload.state, upload.error, upload.updated_at = state, error, utcnow()
    if state in (READY, FAILED):
        partial_path(settings, upload_id).unlink(missing_ok=True)


def _failure(database_url: str, video_id: int, fallback: str) -> tuple[str, str | None]:
    """The upload's end state after an error: ready if the video plays anyway (a better
    rung failed), else failed with the video's reason."""
    with session_scope(database_url) as session:
        video = session.get(Video, video_id)
        if video is None:
            return FAILED, "the video was deleted while it was processed"
        if video.status is VideoStatus.READY:
            return READY, fallback
        if video.status is not VideoStatus.FAILED:
            record_failure(database_url, video_id, fallback)
            return FAILED, fallback
        return FAILED, video.failure_reason or fallback


def _direct(name: str, function: Callable[..., T], *args: object) -> T:
    """Run a stage in place."""
    return function(*args)


def _ingest(settings: Settings, upload_id: str, video_id: int, filename: str) -> Path:
    """Probe and safely ingest the uploaded bytes; the accepted original's path."""
    partial = partial_path(settings, upload_id)
    if not partial.is_file():
        raise MediaError("the uploaded bytes are gone (the partial file is lost)")
    accepted = ingest_file(
        settings.resolved_database_url,
        partial,
        filename=filename,
        video_id=video_id,
        data_root=settings.paths.root,
        limits=IngestLimits(max_bytes=settings.max_upload_bytes),
    )
    partial.unlink(missing_ok=True)
    return accepted.local_path


def _ladder(settings: Settings, video_id: int, original: Path | None) -> LadderPackage:
    """Transcode and package the ladder (lowest rung first); once the video has a job (a
    dead worker's, or this stage's failed attempt), resume it, redoing only missing parts."""
    on_ray = settings.media_processing == "ray"
    url, root = settings.resolved_database_url, settings.paths.root
    if original is not None and find_job(url, video_id) is None:
        return process_video(url, video_id, original, root, on_ray=on_ray)
    return resume_job(url, video_id, root, on_ray=on_ray)


def _extras(settings: Settings, package: LadderPackage) -> None:
    """Poster, storyboard, MP4 download and content embeddings (near-duplicate check)."""
    make_extras(
        settings.resolved_database_url,
        package,
        settings.paths.embeddings_file,
        settings.media_processing == "ray",
    )


def process_upload(
    settings: Settings,
    upload_id: str,
    start_compute: Callable[[], None] = lambda: None,
    step: StepRunner = _direct,
) -> str:
    """Take a claimed upload as far as it goes: ready (and its extras) or failed; its state.

    Each stage (``ingest``, ``ladder``, ``extras``) runs through ``step(name, function,
    *args)``: in place here, as a Prefect task in the ``ingest-video`` flow.
    """
    url = settings.resolved_database_url
    with session_scope(url) as session:
        upload = session.get(Upload, upload_id)
        if upload is None or upload.video_id is None:
            return "missing"
        video = session.get(Video, upload.video_id)
        video_id, filename = upload.video_id, upload.filename
        status = video.status if video is not None else None
        reason = video.failure_reason if video is not None else None
    if status is None:
        _finish(settings, upload_id, FAILED, "the video was deleted before it was processed")
        return FAILED
    job = find_job(url, video_id)
    if job is None and status is VideoStatus.FAILED:
        _finish(settings, upload_id, FAILED, reason)
        return FAILED
    if job is not None and job.state is JobState.RUNNING and lost_for(job) is None:
        log.info("upload %s: job %s is alive elsewhere; leaving it", upload_id, job.id)
        return PROCESSING
    try:
        package: LadderPackage | None = None
        if job is None:
            original = step("ingest", _ingest, settings, upload_id, video_id, filename)
            start_compute()
            package = step("ladder", _ladder, settings, video_id, original)
        elif job.state is not JobState.SUCCEEDED:
            start_compute()
            package = step("ladder", _ladder, settings, video_id, None)
        if package is not None:
            step("extras", _extras, settings, package)
    except MediaError as exc:
        state, error = _failure(url, video_id, str(exc))
        _finish(settings, upload_id, state, error)
        return state
    except Exception as exc:
        log.exception("upload %s: processing broke", upload_id)
        state, error = _failure(url, video_id, f"processing broke: {exc}")
        _finish(settings, upload_id, state, error)
        return state
    _finish(settings, upload_id, READY, None)
    log.info("upload %s: video %s is ready", upload_id, video_id)
    return READY
