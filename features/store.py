"""The generated Feast repo under the data root: config, apply, materialize, online lookup.

The repo folder (``get_settings().paths.features`` for the demo) holds ``feature_store.yaml``,
a copy of ``features/repo/definitions.py`` (so ``feast -c <repo>`` works from a shell), the
registry, the SQLite online store and the parquet tables under ``data/``. The definitions'
FileSource paths are relative (``data/user_stats.parquet``) and Feast resolves them against
the folder holding ``feature_store.yaml``, so the data never lives in the source tree.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote, urlsplit

from core import columns as c
from core.errors import ReelRankError
from features import schema as s
from features.build import FeatureTables, build_feature_tables
from features.stamp import MaterializeStamp, write_stamp

if TYPE_CHECKING:
    from feast import FeatureStore

    from core.paths import DataPaths

OnlineStore = Literal["sqlite", "redis"]

CONFIG_FILE = "feature_store.yaml"
REGISTRY_FILE = "registry.db"
ONLINE_DB_FILE = "online_store.db"
DEFINITIONS_FILE = "definitions.py"


class FeatureStoreError(ReelRankError):
    """The feature store is misconfigured or not set up yet."""


@dataclass(frozen=True)
class FeatureSyncReport:
    """What ``sync_features`` built, applied and materialized, and how long each step took."""

    repo_dir: Path
    online: OnlineStore
    tables: FeatureTables
    build_seconds: float
    apply_seconds: float
    materialize_seconds: float

    def summary(self) -> str:
        """One human-readable line for the CLI."""
        return (
            f"{self.tables.users} users and {self.tables.videos} videos materialized into the "
            f"{self.online} online store (build {self.build_seconds:.1f} s, apply "
            f"{self.apply_seconds:.1f} s, materialize {self.materialize_seconds:.1f} s)"
        )


def redis_connection_string(url: str) -> str:
    """Feast's Redis connection string (``host:port,db=N``) for a ``redis://`` URL.

    A string without a scheme is taken to be in Feast's format already and returned as is.
    """
    if "://" not in url:
        return url
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise FeatureStoreError(f"not a Redis URL: {url!r} (expected redis://host:port/db)")
    pieces = [f"{parts.hostname}:{parts.port or 6379}"]
    db = parts.path.strip("/")
    if db:
        if not db.isdigit():
            raise FeatureStoreError(f"Redis database in {url!r} must be a number, got {db!r}")
        pieces.append(f"db={db}")
    if parts.password:
        pieces.append(f"password={unquote(parts.password)}")
    if parts.scheme == "rediss":
        pieces.append("ssl=true")
    return ",".join(pieces)


def write_store_config(
    repo_dir: Path,
    online: OnlineStore,
    redis_connection: str | None,
    project: str = s.PROJECT,
) -> Path:
    """Write ``repo_dir/feature_store.yaml`` (and copy the definitions); return the yaml path.

    Provider ``local``, file registry and ``file`` offline store under ``repo_dir``; the
    online store is SQLite under ``repo_dir`` or Redis at ``redis_connection`` (a
    ``redis://`` URL or Feast's ``host:port,db=N``).
    """
    import yaml

    repo_dir = repo_dir.resolve()
    if online == "sqlite":
        online_store: dict[str, Any] = {"type": "sqlite", "path": str(repo_dir / ONLINE_DB_FILE)}
    elif online == "redis":
        if not redis_connection:
            raise FeatureStoreError("the redis online store needs a connection (host:port,db=N)")
        online_store = {
            "type": "redis",
            "connection_string": redis_connection_string(redis_connection),
        }
    else:
        raise FeatureStoreError(f"unknown online store {online!r}: use 'sqlite' or 'redis'")
    config = {
        "project": project,
        "provider": "local",
        "registry": {"registry_type": "file", "path": str(repo_dir / REGISTRY_FILE)},
        "offline_store": {"type": "file"},
        "online_store": online_store,
        "entity_key_serialization_version": 3,
    }
    repo_dir.mkdir(parents=True, exist_ok=True)
    (repo_dir / s.TABLES_DIR).mkdir(exist_ok=True)
    shutil.copyfile(Path(__file__).parent / "repo" / DEFINITIONS_FILE, repo_dir / DEFINITIONS_FILE)
    path = repo_dir / CONFIG_FILE
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(yaml.safe_dump(config, sort_keys=False))
    tmp.replace(path)
    return path


def feature_objects() -> list[Any]:
    """Every Feast object defined in ``features.repo.definitions``, in definition order."""
    _quiet_feast()
    from feast import Entity, FeatureService, FeatureView
    from feast.data_source import DataSource

    from features.repo import definitions

    kinds = (Entity, DataSource, FeatureView, FeatureService)
    return [obj for obj in vars(definitions).values() if isinstance(obj, kinds)]


def open_store(repo_dir: Path) -> FeatureStore:
    """The Feast store of ``repo_dir``; FeatureStoreError when it has no config."""
    _quiet_feast()
    if not (repo_dir / CONFIG_FILE).is_file():
        raise FeatureStoreError(
            f"no Feast repo at {repo_dir}: no {CONFIG_FILE} (run the feature sync first)"
        )
    from feast import FeatureStore

    return FeatureStore(repo_path=str(repo_dir.resolve()))


def ranker_service(store: FeatureStore, repo_dir: Path) -> Any:
    """The store's ``ranker_v1`` feature service; FeatureStoreError when it is not applied."""
    try:
        return store.get_feature_service(s.RANKER_SERVICE)
    except Exception as exc:  # Feast raises its own not-found types
        raise FeatureStoreError(
            f"feature service {s.RANKER_SERVICE!r} is not registered in {repo_dir}: "
            "run `reelrank features apply` first"
        ) from exc


def source_tables(repo_dir: Path) -> dict[str, Path]:
    """Each feature view's batch table under ``repo_dir`` (view name -> parquet path)."""
    from feast import FeatureView

    tables: dict[str, Path] = {}
    for obj in feature_objects():
        if isinstance(obj, FeatureView):
            source = obj.batch_source
            tables[obj.name] = repo_dir / str(getattr(source, "path", ""))
    return tables


def apply(repo_dir: Path) -> None:
    """Register the definitions in the repo's registry and create the online tables.

    Raises FeatureStoreError naming every feature view whose source table is missing.
    """
    missing = {name: path for name, path in source_tables(repo_dir).items() if not path.is_file()}
    if missing:
        shown = "; ".join(
            f"feature view {name!r} has no source table {path}" for name, path in missing.items()
        )
        raise FeatureStoreError(f"cannot apply: {shown} (run `reelrank features build` first)")
    open_store(repo_dir).apply(feature_objects())


def materialize(repo_dir: Path, end: datetime, start: datetime | None = None) -> MaterializeStamp:
    """Load every table row with ``start <= event_timestamp <= end`` into the online store.

    ``start`` defaults to the earliest row of the tables, so one call covers their range.
    Writes the stamp that online clients watch to refresh their video snapshot.
    """
    store = open_store(repo_dir)
    end = _utc(end)
    start = _utc(start) if start is not None else _earliest_row(repo_dir)
    if start > end:
        raise FeatureStoreError(f"cannot materialize: start {start} is after end {end}")
    # The file offline store filters with both bounds inclusive.
    store.materialize(start_date=start, end_date=end)
    return write_stamp(repo_dir, "materialize", start=start, end=end)


def build_tables_from_log(
    events_path: Path,
    repo_dir: Path,
    database_url: str | None = None,
    as_of: datetime | None = None,
    embedding_file: Path | None = None,
) -> FeatureTables:
    """Build every view's table from the event log and the catalogue's videos into the repo."""
    from features.videos import empty_videos, load_videos

    videos = load_videos(database_url) if database_url else empty_videos()
    return build_feature_tables(
        events_path, videos, repo_dir / s.TABLES_DIR, as_of, embedding_file=embedding_file
    )


def sync_features(
    events_path: Path,
    paths: DataPaths,
    online: OnlineStore = "sqlite",
    redis_connection: str | None = None,
    as_of: datetime | None = None,
    database_url: str | None = None,
) -> FeatureSyncReport:
    """Build the tables (events + catalogue videos), write the config, apply, materialize."""
    repo_dir = paths.features
    started = time.perf_counter()
    tables = build_tables_from_log(
        events_path, repo_dir, database_url, as_of, embedding_file=paths.embeddings_file
    )
    built = time.perf_counter()
    write_store_config(repo_dir, online, redis_connection)
    apply(repo_dir)
    applied = time.perf_counter()
    materialize(repo_dir, end=tables.as_of, start=tables.first_timestamp)
    done = time.perf_counter()
    return FeatureSyncReport(
        repo_dir=repo_dir,
        online=online,
        tables=tables,
        build_seconds=built - started,
        apply_seconds=applied - built,
        materialize_seconds=done - applied,
    )


def latest_row(repo_dir: Path) -> datetime:
    """The newest ``event_timestamp`` across the feature tables of ``repo_dir``."""
    return _edge_row(repo_dir, newest=True)


def _quiet_feast() -> None:
    """Turn Feast's usage telemetry off for this process unless the caller chose otherwise."""
    os.environ.setdefault("FEAST_USAGE", "False")


def _utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime (naive means UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _earliest_row(repo_dir: Path) -> datetime:
    """The earliest ``event_timestamp`` across the feature tables of ``repo_dir``."""
    return _edge_row(repo_dir, newest=False)


def _edge_row(repo_dir: Path, newest: bool) -> datetime:
    """The earliest (or newest) ``event_timestamp`` across the tables of ``repo_dir``."""
    import pandas as pd

    found: list[datetime] = []
    for view in s.VIEWS:
        path = repo_dir / s.table_file(view)
        if not path.is_file():
            raise FeatureStoreError(
                f"no feature table at {path}: run `reelrank features build` first"
            )
        stamps = pd.read_parquet(path, columns=[c.EVENT_TIMESTAMP])[c.EVENT_TIMESTAMP]
        if not stamps.empty:
            found.append((stamps.max() if newest else stamps.min()).to_pydatetime())
    if not found:
        raise FeatureStoreError(f"the feature tables under {repo_dir} are empty")
    return _utc(max(found) if newest else min(found))
