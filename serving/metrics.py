"""Prometheus metrics of the API: request latency per route, recommendation lists served,
fallbacks and ingested events, rendered for ``GET /metrics``.

The metrics live in prometheus_client's process-wide registry. With several server workers,
``prepare_multiprocess_dir`` (called before the workers start) puts every worker in
prometheus_client's multiprocess mode: each writes its samples to files in one folder and
``render`` sums the folder, so any worker's ``/metrics`` reports the whole server.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: prometheus_client chooses file-backed values when it is first imported, from this variable;
#: ``render`` must read the same mode.
_MULTIPROCESS = bool(os.environ.get(MULTIPROCESS_ENV))
#: Label of requests that matched no route (kept out of the route label to bound its values).
UNMATCHED_ROUTE = "<unmatched>"
#: Latency buckets in seconds, fine below the 20 ms p99 target.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

REQUEST_DURATION = Histogram(
    "reelrank_http_request_duration_seconds",
    "Time to answer an HTTP request, by method, route template and status class.",
    ("method", "route", "status_class"),
    buckets=LATENCY_BUCKETS,
)
RECOMMENDATIONS = Counter(
    "reelrank_recommendations",
    "Recommendation lists served, by surface, experiment variant and whether they fell back.",
    ("surface", "variant", "fallback"),
)
FALLBACKS = Counter(
    "reelrank_fallbacks",
    "Recommendation lists answered by the trending fallback, by surface.",
    ("surface",),
)
EVENTS = Counter(
    "reelrank_events",
    "Client events received: accepted (stored) or duplicate (an event id seen before).",
    ("outcome",),
)
_STATUS_CLASSES = {n: f"{n}xx" for n in range(1, 6)}


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count one answered request of ``route`` (a template such as ``/users/{user_id}/home``)."""
    status_class = _STATUS_CLASSES.get(status // 100, "other")
    REQUEST_DURATION.labels(method, route, status_class).observe(seconds)


def observe_recommendations(surface: str, variant: str | None, fallback: bool) -> None:
    """Count one recommendation list served on ``surface`` (home, watch_next, ...) to an
    experiment ``variant`` (None outside experiments), and the fallback if it was one."""
    RECOMMENDATIONS.labels(surface, variant or "none", "true" if fallback else "false").inc()
    if fallback:
        FALLBACKS.labels(surface).inc()


def observe_events(accepted: int, duplicates: int) -> None:
    """Count the events of one ingested batch: newly stored and already seen."""
    if accepted:
        EVENTS.labels("accepted").inc(accepted)
    if duplicates:
        EVENTS.labels("duplicate").inc(duplicates)


def render() -> tuple[bytes, str]:
    """The text exposition of every metric (summed over the workers in multiprocess mode) and
    its content type."""
    if not _MULTIPROCESS:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry), CONTENT_TYPE_LATEST


def multiprocess_dir(data_root: Path) -> Path:
    """The folder the workers of a server under ``data_root`` share their samples in."""
    return data_root.resolve() / "run" / "prometheus"


def prepare_multiprocess_dir(folder: Path) -> None:
    """Empty ``folder`` (samples of an earlier server would be summed in) and point
    ``PROMETHEUS_MULTIPROC_DIR`` at it, for worker processes started after this call."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    os.environ[MULTIPROCESS_ENV] = str(folder)
