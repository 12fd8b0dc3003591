"""The flows' deployments and schedules, and ``reelrank flows serve`` / ``run``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment


@dataclass(frozen=True)
class FlowSchedule:
    """One deployment: the flow it runs, its cron schedule (None: on demand), what it does."""

    name: str
    cron: str | None
    description: str


#: What ``reelrank flows serve`` deploys, in order. Times are UTC.
SCHEDULES = (
    FlowSchedule("retrain", "0 3 * * *", "nightly: export, featurize, train, promote or not"),
    FlowSchedule("materialize-features", "0 * * * *", "hourly: new events into the online store"),
    FlowSchedule("ingest-video", None, "on demand: one completed upload through the pipeline"),
)


def flow_function(name: str) -> Callable[..., Any]:
    """The Prefect flow called ``name``; KeyError naming the known ones otherwise."""
    if name == "retrain":
        from flows.retrain import retrain

        return retrain
    if name == "materialize-features":
        from flows.materialize import materialize_features

        return materialize_features
    if name == "ingest-video":
        from flows.ingest import ingest_video

        return ingest_video
    known = ", ".join(s.name for s in SCHEDULES)
    raise KeyError(f"no flow {name!r}; known: {known}")


def deployments() -> list[RunnerDeployment]:
    """One deployment per flow, with its schedule."""
    return [
        flow_function(s.name).to_deployment(  # type: ignore[attr-defined]
            name=s.name, cron=s.cron, description=s.description, tags=["reelrank"]
        )
        for s in SCHEDULES
    ]


def describe() -> list[str]:
    """A line per deployment: name, schedule, purpose."""
    return [
        f"{s.name}/{s.name}: {('cron ' + s.cron + ' UTC') if s.cron else 'on demand'} - "
        f"{s.description}"
        for s in SCHEDULES
    ]


def serve_all() -> None:
    """Serve every deployment from this process until interrupted (schedules run here)."""
    from prefect import serve

    serve(*deployments(), pause_on_shutdown=False)
