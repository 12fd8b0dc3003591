"""The extras of an uploaded video's finished package, step by step: validation, poster,
storyboard, MP4 download, content embeddings (with the near-duplicate check).

Each step's state is kept in a ``processing_jobs`` row of kind ``extras`` (``detail.steps``),
so the creator sees how far they got; a failed extra never fails the video. In Ray mode each
step's work runs as a Ray task (the text model then loads in a Ray worker, not the API).
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select

from core import columns as c
from core.db.models import ProcessingJob, Video, utcnow
from core.db.session import session_scope
from core.types import JobState
from media.enrich.download import make_download_mp4
from media.enrich.embeddings import (
    VideoInput,
    read_embeddings,
    write_embeddings,
)
from media.enrich.storyboard import make_storyboard
from media.enrich.thumbnails import make_poster
from media.errors import MediaError
from media.hls.validate import validate_package
from media.jobs.extras import store_embeddings
from media.jobs.runner import LadderPackage

log = logging.getLogger(__name__)

#: ``ProcessingJob.kind`` of the extras of a package.
EXTRAS = "extras"
#: The steps, in the order they run.
STEPS = ("validate", "poster", "storyboard", "download", "embeddings")

T = TypeVar("T")


def extras_job(database_url: str, video_id: int) -> ProcessingJob | None:
    """The latest extras row of the video, detached, or None."""
    with session_scope(database_url) as session:
        return session.scalars(
            select(ProcessingJob)
            .where(ProcessingJob.video_id == video_id, ProcessingJob.kind == EXTRAS)
            .order_by(ProcessingJob.id.desc())
            .limit(1)
        ).first()


def _save(database_url: str, job_id: int, step: str, state: str, note: str | None) -> bool:
    """Record one step's state; False when the video (and so the row) is gone."""
    with session_scope(database_url) as session:
        job = session.get(ProcessingJob, job_id, with_for_update=True)
        if job is None:
            return False
        steps = dict(job.detail.get("steps", {}))
        steps[step] = {"state": state, "note": note}
        job.detail = {"steps": steps}
        done = sum(s["state"] in ("done", "failed") for s in steps.values())
        job.progress = round(done / len(STEPS), 4)
        if step == STEPS[-1] and state in ("done", "failed"):
            failed = [name for name, s in steps.items() if s["state"] == "failed"]
            job.state = JobState.FAILED if failed else JobState.SUCCEEDED
            job.error = f"failed: {', '.join(failed)}" if failed else None
            job.finished_at = utcnow()
        return True


def _call(on_ray: bool, function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` here, or as a one-CPU Ray task."""
    if not on_ray:
        return function(*args)
    import ray

    remote = ray.remote(num_cpus=1, max_retries=1)(function)
    return ray.get(remote.remote(*args))


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock beside ``path`` (several API workers share the embeddings file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.with_name(f".{path.name}.lock").open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        yield


def _validate(package_dir: Path) -> str:
    report = validate_package(package_dir)
    if not report.ok:
        raise MediaError(f"the package is not valid HLS:\n{report}")
    return "valid HLS"


def _embed(video: VideoInput, target: Path) -> str:
    with _locked(target):
        duplicates = store_embeddings(video, target)
    if duplicates:
        other, score = duplicates[0]
        return f"looks like a re-upload of video {other} (similarity {score:.2f})"
    return "content vector stored"


def forget_embeddings(target: Path, video_id: int) -> None:
    """Drop the video's row from the embeddings file (a deleted video)."""
    if not target.is_file():
        return
    with _locked(target):
        stored = read_embeddings(target)
        if (stored[c.VIDEO_ID] == video_id).any():
            write_embeddings(stored[stored[c.VIDEO_ID] != video_id], target)


def make_extras(
    database_url: str, package: LadderPackage, embeddings_file: Path, on_ray: bool
) -> None:
    """Run every extra of the finished ``package``, recording each step as it goes."""
    video_id = package.video_id
    with session_scope(database_url) as session:
        video = session.get(Video, video_id)
        if video is None:
            return
        text = VideoInput(
            video_id,
            video.title,
            video.description,
            tuple(video.tags),
            tuple(video.genres),
            path=package.source,
        )
        job = ProcessingJob(
            video_id=video_id,
            kind=EXTRAS,
            state=JobState.RUNNING,
            attempts=1,
            started_at=utcnow(),
            detail={"steps": {name: {"state": "pending", "note": None} for name in STEPS}},
        )
        session.add(job)
        session.flush()
        job_id = job.id
    package_dir = package.master.parent
    top = max(package.renditions, key=lambda rung: rung.height)

    def download() -> Path:
        if top.encoded is None:
            raise MediaError(f"rung {top.name} has no encoded MP4")
        return _call(
            on_ray, make_download_mp4, top.encoded, package.audio, package_dir / "download.mp4"
        )

    steps: dict[str, Callable[[], object]] = {
        "validate": lambda: _call(on_ray, _validate, package_dir),
        "poster": lambda: _call(on_ray, make_poster, package.source, package_dir / "poster.jpg"),
        "storyboard": lambda: _call(
            on_ray, make_storyboard, package.source, package_dir / "storyboard"
        ),
        "download": download,
        "embeddings": lambda: _call(on_ray, _embed, text, embeddings_file),
    }
    for name in STEPS:
        if not _save(database_url, job_id, name, "running", None):
            return
        note: str | None
        try:
            result = steps[name]()
        except Exception as exc:  # an extra that fails leaves the video playable
            log.warning("video %s: extra %s failed: %s", video_id, name, exc)
            state, note = "failed", str(exc)
        else:
            state = "done"
            note = result if isinstance(result, str) else getattr(result, "name", None)
        if not _save(database_url, job_id, name, state, note):
            return
