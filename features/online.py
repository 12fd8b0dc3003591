"""Online features for serving: the ranker's vectors for one user and up to 500 candidates.

Video rows change slowly and every request shares them, so the client keeps an in-process
snapshot of the video views, read from the online store and refreshed when the store's stamp
(``features.stamp``) says a materialization or push landed; per request it reads only the
user's rows. Unknown ids get the defaults; a missing or unreadable online store is reported by
``health`` and raises ``FeatureStoreError`` from lookups, so callers can fall back.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core import columns as c
from features import schema as s
from features.stamp import read_stamp, stamp_version
from features.store import FeatureStoreError, open_store, ranker_service
from features.vectors import floats, numeric_values, on_demand_values

if TYPE_CHECKING:
    import pandas as pd
    from feast import FeatureStore

#: Most candidates one call may ask for.
MAX_CANDIDATES = 500
#: Video columns the snapshot keeps raw (the on-demand features read them per request).
_VIDEO_RAW = (
    s.VIDEO_PUBLISHED_AT,
    s.VIDEO_TRENDING_AT,
    s.VIDEO_TRENDING_MASS,
    s.VIDEO_GENRES,
    s.VIDEO_LANGUAGE,
)


def _refs(views: tuple[str, ...]) -> list[str]:
    return [f"{view}:{name}" for view in views for name in s.VIEW_FEATURES[view]]


@dataclass(frozen=True)
class VideoSnapshot:
    """Every known video's ranker columns (defaults filled) and raw on-demand inputs, with one
    extra last row for an unknown video (the defaults, missing inputs): position -1."""

    video_ids: np.ndarray  # sorted int64, n
    values: np.ndarray  # float64 (n + 1, len(VIDEO_RANKER_FEATURES))
    raw: dict[str, np.ndarray]  # the _VIDEO_RAW columns (timestamps as float ns), n + 1 each
    version: tuple[int, int, int]
    materialized_at: str | None = None  # the materialization it was read after

    def positions(self, video_ids: np.ndarray) -> np.ndarray:
        """Row of each of ``video_ids`` in the snapshot, -1 (the unknown row) when absent."""
        if self.video_ids.size == 0:
            return np.full(video_ids.shape, -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.video_ids, video_ids), self.video_ids.size - 1)
        return np.where(self.video_ids[pos] == video_ids, pos, -1)


class OnlineFeatures:
    """The ``ranker_v1`` features from an applied, materialized Feast repo.

    ``check_every_s``: how often (at most) a lookup checks the store's stamp for a refresh.
    """

    def __init__(self, repo_dir: Path, check_every_s: float = 1.0) -> None:
        self.repo_dir = repo_dir
        self.check_every_s = check_every_s
        self._store: FeatureStore = open_store(repo_dir)
        ranker_service(self._store, repo_dir)  # fails early when the repo is not applied
        self._user_refs = _refs(s.USER_VIEWS)
        self._video_refs = _refs(s.VIDEO_VIEWS)
        self._lock = threading.Lock()
        self._snapshot: VideoSnapshot | None = None
        self._checked = 0.0

    @property
    def names(self) -> tuple[str, ...]:
        """The ranker feature columns, in order."""
        return s.RANKER_FEATURES

    @property
    def store(self) -> FeatureStore:
        """The Feast store the client reads."""
        return self._store

    # -- snapshot -----------------------------------------------------------------------------
    @property
    def snapshot(self) -> VideoSnapshot:
        """The current video snapshot, reloaded when a materialization landed (a push changes
        user rows only, which each lookup reads from the store anyway)."""
        now = time.monotonic()
        snap = self._snapshot
        if snap is not None and now - self._checked < self.check_every_s:
            return snap
        self._checked = now
        version = stamp_version(self.repo_dir)
        if snap is not None and snap.version == version:
            return snap
        with self._lock:
            current = self._snapshot
            if current is None or current.version != version:
                stamp = read_stamp(self.repo_dir)
                materialized = stamp.materialized_at if stamp is not None else None
                if current is not None and current.materialized_at == materialized:
                    current = replace(current, version=version)
                else:
                    current = self._load_snapshot(version)
                self._snapshot = current
            return current

    def refresh(self) -> VideoSnapshot:
        """Reload the snapshot now, whatever the stamp says."""
        with self._lock:
            self._snapshot = self._load_snapshot(stamp_version(self.repo_dir))
            self._checked = time.monotonic()
            return self._snapshot

    def known_video_ids(self) -> np.ndarray:
        """Sorted ids of every video in the built video tables."""
        import pandas as pd

        ids: list[np.ndarray] = []
        for view in s.VIDEO_VIEWS:
            path = self.repo_dir / s.table_file(view)
            if path.is_file():
                ids.append(pd.read_parquet(path, columns=[c.VIDEO_ID])[c.VIDEO_ID].to_numpy())
        if not ids:
            return np.empty(0, dtype=np.int64)
        return np.unique(np.concatenate(ids).astype(np.int64))

    def _load_snapshot(self, version: tuple[int, int, int]) -> VideoSnapshot:
        from features.on_demand import nanoseconds

        stamp = read_stamp(self.repo_dir)
        ids = self.known_video_ids()
        rows = self._read(self._video_refs, c.VIDEO_ID, ids)
        raw: dict[str, np.ndarray] = {}
        for name in _VIDEO_RAW:
            if name in s.TIMESTAMP_FEATURES:
                raw[name] = np.append(nanoseconds(rows[name]) if ids.size else [], np.nan)
            elif name == s.VIDEO_TRENDING_MASS:
                raw[name] = np.append(floats(rows[name]), np.nan)
            else:
                column = np.empty(ids.size + 1, dtype=object)
                column[:-1] = list(rows[name])
                raw[name] = column
        unknown = [[s.RANKER_DEFAULTS[n] for n in s.VIDEO_RANKER_FEATURES]]
        values = numeric_values(rows, s.VIDEO_RANKER_FEATURES, ids.size)
        return VideoSnapshot(
            video_ids=ids,
            values=np.vstack([values, unknown]),
            raw=raw,
            version=version,
            materialized_at=stamp.materialized_at if stamp is not None else None,
        )

    # -- lookups ------------------------------------------------------------------------------
    def _read(self, refs: list[str], key: str, ids: np.ndarray) -> dict[str, list[Any]]:
        """Online values of ``refs`` for entity ``key`` = each of ``ids`` (same order)."""
        if ids.size == 0:
            return {key: [], **{ref.split(":", 1)[1]: [] for ref in refs}}
        entity_rows = [{key: int(i)} for i in ids.tolist()]
        try:
            response = self._store.get_online_features(features=refs, entity_rows=entity_rows)
            return response.to_dict()
        except Exception as exc:  # the store is missing, unreachable or not materialized
            raise FeatureStoreError(
                f"the online feature store of {self.repo_dir} cannot be read: {exc}"
            ) from exc

    def user_rows(self, user_ids: np.ndarray) -> dict[str, list[Any]]:
        """The user views' online values of each of ``user_ids`` (same order; unknown: None)."""
        return self._read(self._user_refs, c.USER_ID, np.asarray(user_ids, dtype=np.int64))

    def genre_affinity(self, user_id: int) -> dict[str, float] | None:
        """The user's ``user_genres`` with their ``user_genre_weights`` (lower-case genre ->
        share, summing to 1); None when the store has no taste row for the user."""
        row = self.user_rows(np.array([int(user_id)], dtype=np.int64))
        genres, weights = row[s.USER_GENRES][0], row[s.USER_GENRE_WEIGHTS][0]
        if not genres or weights is None or len(weights) != len(genres):
            return None
        return {str(g).lower(): float(w) for g, w in zip(genres, weights, strict=True)}

    def vectors(
        self, user_id: int, video_ids: np.ndarray, at: datetime | None = None
    ) -> np.ndarray:
        """float32 ``(len(video_ids), len(RANKER_FEATURES))`` for one user's candidates."""
        from features.on_demand import nanoseconds

        videos = np.asarray(video_ids, dtype=np.int64)
        n = videos.size
        if n > MAX_CANDIDATES:
            raise ValueError(f"{n} candidates asked for; one call serves at most {MAX_CANDIDATES}")
        moment = at or datetime.now(UTC)
        at_ns = np.full(n, nanoseconds([moment])[0])
        user = self.user_rows(np.array([int(user_id)]))
        user_values = numeric_values(user, s.USER_RANKER_FEATURES, 1)
        snap = self.snapshot
        positions = snap.positions(videos)
        video_values = snap.values[positions]
        rows: dict[str, Any] = {name: column[positions] for name, column in snap.raw.items()}
        last_active = nanoseconds(user[s.USER_LAST_ACTIVE])[0]
        rows[s.USER_LAST_ACTIVE] = np.full(n, last_active)
        for name in (s.USER_GENRES, s.USER_GENRE_WEIGHTS, s.USER_LANGUAGE):
            rows[name] = [user[name][0]] * n
        demand = on_demand_values(rows, at_ns, n)
        users = np.broadcast_to(user_values, (n, user_values.shape[1]))
        return np.concatenate([users, video_values, demand], axis=1).astype(np.float32)

    def features_for(
        self, user_id: int, video_ids: list[int], at: datetime | None = None
    ) -> pd.DataFrame:
        """One row per ``video_ids`` entry (same order): ids and the ranker features."""
        import pandas as pd

        values = self.vectors(user_id, np.asarray(video_ids, dtype=np.int64), at)
        frame = pd.DataFrame(values.astype(np.float64), columns=list(s.RANKER_FEATURES))
        frame.insert(0, c.VIDEO_ID, np.asarray(video_ids, dtype=np.int64))
        frame.insert(0, c.USER_ID, np.full(len(video_ids), int(user_id), dtype=np.int64))
        return frame

    def pair_features(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        """float32 ``(n, width, F)`` for each user's candidate row (padding gets defaults),
        asked ``MAX_CANDIDATES`` at a time."""
        users = np.asarray(user_ids, dtype=np.int64)
        out = np.empty((users.size, item_ids.shape[1], len(self.names)), dtype=np.float32)
        moment = datetime.now(UTC)  # one request time for the whole call
        for i, user in enumerate(users.tolist()):
            for start in range(0, item_ids.shape[1], MAX_CANDIDATES):
                stop = start + MAX_CANDIDATES
                out[i, start:stop] = self.vectors(int(user), item_ids[i, start:stop], moment)
        return out

    def health(self) -> tuple[bool, str]:
        """Whether the online store answers, and a one-line reason."""
        try:
            snap = self.snapshot
            self.user_rows(np.array([0]))
        except Exception as exc:  # report, never raise
            return False, str(exc)
        return True, f"{snap.video_ids.size} videos in the snapshot"
