"""The ``materialize_features`` flow: new events into the online feature store, incrementally."""

from __future__ import annotations

from prefect import flow, get_run_logger

from flows.feature_tasks import build_features, export_events, materialize_online


@flow(name="materialize-features", log_prints=True)
def materialize_features(incremental: bool = True) -> str:
    """Export the event log, rebuild the feature tables and load what changed online."""
    from core.settings import get_settings

    settings = get_settings()
    events = export_events(settings)
    tables = build_features(settings)
    loaded = materialize_online(settings, tables, incremental)
    summary = f"{events} events; {loaded}"
    get_run_logger().info(summary)
    return summary
