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
from core.errors import NotFoundError, ReelRankError
from features import schema as s
from features.build import FeatureTables, build_feature_tables

if TYPE_CHECKING:
    import pandas as pd
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


def apply(repo_dir: Path) -> None:
    """Register the definitions in the repo's registry and create the online tables."""
    open_store(repo_dir).apply(feature_objects())


def materialize(repo_dir: Path, end: datetime, start: datetime | None = None) -> None:
    """Load every table row with ``start <= event_timestamp <= end`` into the online store.

    ``start`` defaults to the earliest row of the tables, so one call covers their range.
    """
    store = open_store(repo_dir)
    end = _utc(end)
    start = _utc(start) if start is not None else _earliest_row(repo_dir)
    if start > end:
        raise FeatureStoreError(f"cannot materialize: start {start} is after end {end}")
    # The file offline store filters with both bounds inclusive.
    store.materialize(start_date=start, end_date=end)


class FeatureClient:
    """Online lookups of the ``recommender_v1`` features from an applied, materialized repo."""

    def __init__(self, repo_dir: Path) -> None:
        self.repo_dir = repo_dir
        self._store = open_store(repo_dir)
        try:
            self._service = self._store.get_feature_service(s.RECOMMENDER_SERVICE)
        except Exception as exc:  # Feast raises its own not-found types
            raise NotFoundError(
                f"feature service {s.RECOMMENDER_SERVICE!r} is not registered in {repo_dir}: "
                "apply the feature repo first"
            ) from exc

    def features_for(self, user_id: int, video_ids: list[int]) -> pd.DataFrame:
        """One row per ``video_ids`` entry (same order): its features plus the user's.

        Unknown users or videos give NaN (NaT for timestamps); counts come back as float64
        so missing values fit.
        """
        import pandas as pd

        if not video_ids:
            return self._conform(pd.DataFrame(columns=[c.USER_ID, c.VIDEO_ID]))
        rows = [{c.USER_ID: int(user_id), c.VIDEO_ID: int(v)} for v in video_ids]
        frame = self._store.get_online_features(features=self._service, entity_rows=rows).to_df()
        return self._conform(frame)

    @staticmethod
    def _conform(frame: pd.DataFrame) -> pd.DataFrame:
        """Fixed columns and dtypes: ids int64, timestamps UTC, other features float64."""
        import pandas as pd

        out = pd.DataFrame(index=frame.index)
        out[c.USER_ID] = frame[c.USER_ID].astype("int64")
        out[c.VIDEO_ID] = frame[c.VIDEO_ID].astype("int64")
        for name in (*s.VIDEO_FEATURES, *s.USER_FEATURES):
            values = frame[name] if name in frame else pd.Series(None, index=frame.index)
            if name in s.TIMESTAMP_FEATURES:
                out[name] = pd.to_datetime(values, utc=True).dt.as_unit("us")
            else:
                out[name] = pd.to_numeric(values, errors="coerce").astype("float64")
        return out.reset_index(drop=True)


def sync_features(
    events_path: Path,
    paths: DataPaths,
    online: OnlineStore = "sqlite",
    redis_connection: str | None = None,
    as_of: datetime | None = None,
) -> FeatureSyncReport:
    """Build the tables from the event log, write the config, apply and materialize."""
    repo_dir = paths.features
    started = time.perf_counter()
    tables = build_feature_tables(events_path, repo_dir / s.TABLES_DIR, as_of)
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


def _quiet_feast() -> None:
    """Turn Feast's usage telemetry off for this process unless the caller chose otherwise."""
    os.environ.setdefault("FEAST_USAGE", "False")


def _utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime (naive means UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _earliest_row(repo_dir: Path) -> datetime:
    """The earliest ``event_timestamp`` across the feature tables of ``repo_dir``."""
    import pandas as pd

    earliest: list[datetime] = []
    for name in (s.USER_STATS_FILE, s.VIDEO_STATS_FILE):
        path = repo_dir / name
        if not path.is_file():
            raise FeatureStoreError(f"no feature table at {path}: build the feature tables first")
        stamps = pd.read_parquet(path, columns=[c.EVENT_TIMESTAMP])[c.EVENT_TIMESTAMP]
        if not stamps.empty:
            earliest.append(stamps.min().to_pydatetime())
    if not earliest:
        raise FeatureStoreError(f"the feature tables under {repo_dir} are empty")
    return _utc(min(earliest))
