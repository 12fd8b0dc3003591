"""Prefect tasks shared by the flows that refresh data: export the event log, rebuild the
feature tables, materialize them online (whole or incrementally)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prefect import task
from prefect.cache_policies import NO_CACHE

if TYPE_CHECKING:
    from core.settings import Settings
    from features.build import FeatureTables


@task(retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE)
def export_events(settings: Settings) -> int:
    """Export the catalogue's event log to parquet; the number of events."""
    from core.db.migrate import upgrade
    from training.datasets.event_log import export_event_log

    url = settings.resolved_database_url
    upgrade(url)
    return export_event_log(url, settings.paths.ensure().events_file)


@task(retries=1, retry_delay_seconds=5, cache_policy=NO_CACHE)
def build_features(settings: Settings) -> FeatureTables:
    """Rebuild every feature table from the exported log, then apply the definitions."""
    from features.store import apply, build_tables_from_log, write_store_config

    paths = settings.paths
    tables = build_tables_from_log(
        paths.events_file,
        paths.features,
        settings.resolved_database_url,
        embedding_file=paths.embeddings_file,
    )
    write_store_config(paths.features, settings.online_store, settings.redis_url)
    apply(paths.features)
    return tables


@task(retries=3, retry_delay_seconds=10, cache_policy=NO_CACHE)
def materialize_online(settings: Settings, tables: FeatureTables, incremental: bool = False) -> str:
    """Load the tables' rows into the online store: all of them, or (``incremental``) those
    newer than the last materialization. What was loaded, in words."""
    from datetime import datetime

    from features.stamp import read_stamp
    from features.store import materialize

    repo = settings.paths.features
    start = tables.first_timestamp
    stamp = read_stamp(repo) if incremental else None
    if stamp is not None and stamp.materialized_end is not None:
        last = datetime.fromisoformat(stamp.materialized_end)
        if last >= tables.as_of:
            return f"already up to date ({last.isoformat()})"
        start = max(start, last)
    done = materialize(repo, end=tables.as_of, start=start)
    return f"materialized {done.materialized_start} .. {done.materialized_end}"
