"""Run a video's transcoding job: ingest, attempts and retries, resume; rungs publish as they end.

The ladder is split into units (the audio, and every GOP-aligned chunk of every rung) that run as
Ray tasks, lowest rung first. As soon as every chunk of a rung (and the audio) is done, the
publisher joins the chunks by stream copy, packages the rung, rewrites the master playlist and
records the rendition: the first rung makes the video ready, better rungs join the master as they
finish. Every unit's state is kept in the job's ``JobDetail``, so a failed job resumes with only
the missing units.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO

from pydantic import BaseModel, ConfigDict, Field

from core.db.models import Video
from core.db.session import session_scope
from core.errors import NotFoundError, ReelRankError
from core.paths import DataPaths
from core.periodic import every
from core.settings import get_settings
from core.types import JobState, VideoStatus
from media.errors import MediaError
from media.ingest.upload import IngestLimits, ingest_file
from media.jobs.options import TranscodeOptions
from media.jobs.plan import plan_job, unit_specs
from media.jobs.publisher import Publisher
from media.jobs.records import create_job, find_job, finish_job, lost_for, start_attempt
from media.jobs.state import UNIT_DONE, UNIT_FAILED, JobDetail, PublishedRung
from media.jobs.tasks import UnitOutcome, UnitSpec, run_units_locally, run_units_on_ray
from media.ray_runtime import init_ray
from media.video_records import mark_processing, record_failure

log = logging.getLogger(__name__)


class LadderPackage(BaseModel):
    """A published (complete) HLS package of a video and how it was made."""

    model_config = ConfigDict(frozen=True)

    video_id: int
    job_id: int
    source: Path
    master: Path
    duration_s: float
    renditions: list[PublishedRung]
    audio: Path | None
    seconds: float
    first_playable_s: float | None
    units_run: dict[str, str] = Field(description="Unit key -> Ray node id, for this attempt.")
    peak_rss_mb: float


def _prepare_video(database_url: str, video_id: int) -> VideoStatus:
    """Move the video to processing unless it is ready with a resumable job; its status."""
    with session_scope(database_url) as session:
        video = session.get(Video, video_id)
        if video is None:
            raise NotFoundError(f"video {video_id} does not exist")
        status = video.status
    if status is VideoStatus.READY:
        job = find_job(database_url, video_id)
        if job is None or job.state is JobState.SUCCEEDED:
            raise MediaError(f"video {video_id} is already ready; there is nothing to resume")
        return status
    mark_processing(database_url, video_id)
    return VideoStatus.PROCESSING


def process_video(
    database_url: str,
    video_id: int,
    source: Path,
    data_root: Path,
    options: TranscodeOptions | None = None,
    on_ray: bool = True,
    on_publish: Callable[[PublishedRung], None] | None = None,
) -> LadderPackage:
    """Transcode and package ``source`` for video ``video_id`` into ``<packages>/<video_id>``.

    Resumes the video's unfinished transcoding job of the same source (only missing units run),
    else starts a new one. ``on_ray`` runs units as Ray tasks (local Ray or ``RAY_ADDRESS``),
    otherwise one by one in this process. ``on_publish`` is called as each rung is published.
    Raises ``MediaError`` when units still fail after ``options.attempts`` attempts; the job then
    stays resumable, and a video with no published rung is marked failed.
    """
    options = options or TranscodeOptions()
    source, data_root = Path(source).resolve(), Path(data_root).resolve()
    paths = DataPaths(data_root)
    _prepare_video(database_url, video_id)
    job = find_job(database_url, video_id)
    if (
        job is not None
        and job.state is not JobState.SUCCEEDED
        and JobDetail.from_json(job.detail).source == source
    ):
        job_id = job.id
    else:
        package_dir = paths.packages / str(video_id)
        try:
            detail = plan_job(source, package_dir, paths.media / "work" / str(video_id), options)
        except ReelRankError as exc:
            record_failure(database_url, video_id, f"transcoding failed: {exc}")
            raise
        job_id = create_job(database_url, video_id, detail)
    for attempt in range(1, options.attempts + 1):
        try:
            result = _attempt(
                database_url, video_id, job_id, data_root, options, on_ray, on_publish
            )
        except _AttemptFailed as failed:
            retryable = failed.retryable and attempt < options.attempts
            log.warning(
                "video %s: job %s attempt %d failed (%s)%s",
                video_id,
                job_id,
                attempt,
                failed.message,
                "; retrying" if retryable else "",
            )
            if retryable:
                continue
            finish_job(database_url, job_id, failed.message)
            with session_scope(database_url) as session:
                video = session.get(Video, video_id)
                ready = video is not None and video.status is VideoStatus.READY
            if not ready:
                record_failure(database_url, video_id, f"transcoding failed: {failed.message}")
            raise MediaError(
                f"video {video_id}: transcoding job {job_id} failed: {failed.message} "
                "(the job is resumable; run it again to redo only the missing parts)"
            ) from None
        except Exception as exc:  # a bug or a lost database: the job stays resumable
            finish_job(database_url, job_id, f"{type(exc).__name__}: {exc}")
            raise
        return result
    raise AssertionError("unreachable")  # pragma: no cover


class _AttemptFailed(Exception):
    """Some units of an attempt failed."""

    def __init__(self, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.message, self.retryable = message, retryable


def _heartbeat(publisher: Publisher, interval_s: float) -> AbstractContextManager[None]:
    """Save the job's state (a fresh heartbeat) every ``interval_s`` while the block runs."""
    return every(interval_s, publisher.save, f"heartbeat of job {publisher.job_id}")


def _outcomes(specs: list[UnitSpec], on_ray: bool, max_retries: int) -> Iterator[UnitOutcome]:
    return run_units_on_ray(specs, max_retries) if on_ray else run_units_locally(specs)


def _attempt(
    database_url: str,
    video_id: int,
    job_id: int,
    data_root: Path,
    options: TranscodeOptions,
    on_ray: bool,
    on_publish: Callable[[PublishedRung], None] | None,
) -> LadderPackage:
    """One attempt of the job: run the missing units, publish rungs as they complete."""
    started = time.perf_counter()
    detail = start_attempt(database_url, job_id)
    publisher = Publisher(database_url, video_id, job_id, detail, data_root, options, on_publish)
    specs = unit_specs(detail, options)
    errors: list[str] = []
    retryable = True
    nodes: dict[str, str] = {}
    peak_rss = 0.0
    with _heartbeat(publisher, detail.lease_s / 3):
        publisher.publish_ready_rungs(started)  # rungs finished by an earlier attempt
        for spec, outcome in _outcomes(specs, on_ray, options.max_retries):
            units = publisher.detail.units
            if isinstance(outcome, BaseException):
                errors.append(f"{spec.key}: {outcome}")
                retryable = retryable and not isinstance(outcome, ReelRankError)
                for key in spec.unit_keys:
                    units[key] = units[key].model_copy(
                        update={
                            "state": UNIT_FAILED,
                            "runs": units[key].runs + 1,
                            "error": str(outcome),
                        }
                    )
                publisher.save()
                continue
            for key in spec.unit_keys:
                nodes[key] = outcome.node_id
            peak_rss = max(peak_rss, outcome.peak_rss_mb)
            for key in spec.unit_keys:
                done: dict[str, object] = {
                    "state": UNIT_DONE,
                    "runs": units[key].runs + 1,
                    "node": outcome.node_id,
                    "pid": outcome.pid,
                    "seconds": outcome.seconds,
                    "peak_rss_mb": outcome.peak_rss_mb,
                    "task": spec.key,
                }
                if key in outcome.videos:
                    done["encoded"] = outcome.videos[key]
                units[key] = units[key].model_copy(update=done)
            if outcome.videos:
                publisher.detail.frame_rate = float(next(iter(outcome.videos.values())).frame_rate)
            publisher.save()
            try:
                publisher.publish_ready_rungs(started)
            except ReelRankError as exc:
                errors.append(f"publishing: {exc}")
                retryable = False
    if errors:
        raise _AttemptFailed("; ".join(errors), retryable)
    detail = publisher.detail
    if len(detail.published) != len(detail.rungs) or detail.master is None:
        raise _AttemptFailed("not every rung was published", False)
    finish_job(database_url, job_id)
    for rung in detail.rungs:
        shutil.rmtree(detail.work_dir / rung.name, ignore_errors=True)
    renditions = [detail.renditions[r.name] for r in detail.rungs]
    return LadderPackage(
        video_id=video_id,
        job_id=job_id,
        source=detail.source,
        master=detail.master,
        duration_s=detail.duration_s,
        renditions=renditions,
        audio=detail.audio.playlist if detail.audio else None,
        seconds=round(time.perf_counter() - started, 3),
        first_playable_s=publisher.first_playable_s,
        units_run=nodes,
        peak_rss_mb=peak_rss,
    )


def resume_job(
    database_url: str,
    video_id: int,
    data_root: Path,
    options: TranscodeOptions | None = None,
    on_ray: bool = True,
) -> LadderPackage:
    """Run the video's unfinished transcoding job again; only its missing units are redone."""
    job = find_job(database_url, video_id)
    if job is None:
        raise NotFoundError(f"video {video_id} has no transcoding job")
    if job.state is JobState.SUCCEEDED:
        raise MediaError(f"video {video_id}: transcoding job {job.id} already succeeded")
    detail = JobDetail.from_json(job.detail)
    if job.state is JobState.RUNNING and lost_for(job) is None:
        raise MediaError(
            f"video {video_id}: transcoding job {job.id} is running (its runner is alive); "
            "resume it once it has failed"
        )
    options = options or detail.options
    return process_video(database_url, video_id, detail.source, data_root, options, on_ray)


def ingest_and_process(
    source: Path | BinaryIO,
    *,
    database_url: str | None = None,
    data_root: Path | None = None,
    title: str | None = None,
    filename: str | None = None,
    storage_url: str | None = None,
    limits: IngestLimits | None = None,
    options: TranscodeOptions | None = None,
    on_ray: bool = True,
    on_publish: Callable[[PublishedRung], None] | None = None,
) -> LadderPackage:
    """Ingest an upload as a new video and transcode it; the result's ``master`` is the playlist.

    Defaults come from the settings (catalogue URL, data root). Raises ``MediaError`` for a
    rejected upload or a failed transcode (the video carries the reason).
    """
    settings = get_settings()
    database_url = database_url or settings.resolved_database_url
    data_root = Path(data_root).resolve() if data_root else settings.paths.root
    accepted = ingest_file(
        database_url,
        source,
        title=title,
        filename=filename,
        data_root=data_root,
        storage_url=storage_url,
        limits=limits,
    )
    if on_ray:
        init_ray(settings.resolved_ray_address, DataPaths(data_root).ray_tmp)
    return process_video(
        database_url, accepted.video_id, accepted.local_path, data_root, options, on_ray, on_publish
    )
