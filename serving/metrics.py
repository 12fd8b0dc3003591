"""Prometheus counters of the service."""

from __future__ import annotations

from prometheus_client import Counter

EVENTS = Counter("reelrank_events_total", "Events received through POST /events.", ["outcome"])


def observe_events(accepted: int, duplicates: int) -> None:
    """Count a batch's newly stored and already stored events."""
    EVENTS.labels(outcome="accepted").inc(accepted)
    EVENTS.labels(outcome="duplicate").inc(duplicates)
