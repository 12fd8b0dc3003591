"""The ``ingest-video`` flow: one completed upload through the media pipeline.

The stages (``ingest``: probe and safe ingest; ``ladder``: transcode, package, the lowest rung
playable first, on Ray; ``extras``: poster, storyboard, MP4, content embeddings that the
recommender's freshness path and search read) are those the API's media queue runs, each as
a Prefect task here. Job state lives in the catalogue database: the flow claims the upload
as the queue does, so a flow and a queue never process it twice, and a dead run is resumed
from its missing parts by whichever takes it next.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

if TYPE_CHECKING:
    from prefect import Task
    from prefect.client.schemas.objects import TaskRun
    from prefect.states import State

T = TypeVar("T")

#: Retries per stage: a hostile file is rejected once and for all (MediaError is not retried).
RETRIES = {"ingest": 1, "ladder": 2, "extras": 2}


def _retryable(task_: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Retry unless the media pipeline rejected the input."""
    from media.errors import MediaError

    try:
        state.result()
    except MediaError:
        return False
    except Exception:
        return True
    return True


def _as_task(name: str, function: Callable[..., T], *args: object) -> T:
    """Run one stage as a Prefect task with its retries."""
    stage = task(
        name=name,
        retries=RETRIES.get(name, 0),
        retry_delay_seconds=2,
        retry_condition_fn=_retryable,
        cache_policy=NO_CACHE,
    )(function)
    return stage(*args)


@flow(name="ingest-video", log_prints=True)
def ingest_video(upload_id: str, lease_s: float = 60.0) -> str:
    """Process completed upload ``upload_id``; its state (ready, failed, or why it was left)."""
    from core.settings import get_settings
    from media.ray_runtime import init_ray
    from serving.media_queue import claim_upload, holding_upload, process_upload, upload_stamp

    settings = get_settings()
    url = settings.resolved_database_url
    logger = get_run_logger()
    stamp = upload_stamp(url, upload_id)
    if stamp is None:
        logger.info("upload %s is not waiting for processing", upload_id)
        return "not processing"
    if not claim_upload(url, upload_id, stamp):
        logger.info("upload %s was claimed by another worker", upload_id)
        return "claimed elsewhere"

    def start_compute() -> None:
        import ray

        if settings.media_processing == "ray" and not ray.is_initialized():
            init_ray(settings.resolved_ray_address, settings.paths.ray_tmp)

    with holding_upload(url, upload_id, lease_s):
        state = process_upload(settings, upload_id, start_compute, _as_task)
    logger.info("upload %s: %s", upload_id, state)
    return state
