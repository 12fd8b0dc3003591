"""Point-in-time training sets: the ranker's features of (user, video, time) rows from Feast.

``training_vectors`` asks Feast's ``get_historical_features`` for the ``ranker_v1`` service at
each row's own timestamp (Feast joins, per view, the latest row stamped at or before it, so a
value stamped after a label is never joined to it), then assembles the vectors with
``features.vectors`` exactly as serving does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core import columns as c
from features import schema as s
from features.store import open_store, ranker_service
from features.vectors import ranker_matrix

if TYPE_CHECKING:
    import pandas as pd


def historical_rows(repo_dir: Path, entities: pd.DataFrame) -> pd.DataFrame:
    """The ranker service's view columns joined point-in-time to each ``entities`` row.

    ``entities`` has ``user_id``, ``video_id`` and ``event_timestamp``; the result keeps its
    order and length.
    """
    import pandas as pd

    missing = [col for col in (c.USER_ID, c.VIDEO_ID, c.EVENT_TIMESTAMP) if col not in entities]
    if missing:
        raise ValueError(f"the entity frame lacks {', '.join(missing)}")
    store = open_store(repo_dir)
    service = ranker_service(store, repo_dir)
    stamps = pd.to_datetime(entities[c.EVENT_TIMESTAMP], utc=True).reset_index(drop=True)
    out = pd.DataFrame(
        {
            c.USER_ID: entities[c.USER_ID].astype("int64").to_numpy(),
            c.VIDEO_ID: entities[c.VIDEO_ID].astype("int64").to_numpy(),
            c.EVENT_TIMESTAMP: stamps,
        }
    )
    # Every view is keyed by one entity, so each entity's views are joined on its distinct
    # (id, time) rows and merged back: the same values as joining every (user, video) row.
    for key, views in ((c.USER_ID, s.USER_VIEWS), (c.VIDEO_ID, s.VIDEO_VIEWS)):
        refs = [
            f"{p.name}:{f.name}"
            for p in service.feature_view_projections
            if p.name in views
            for f in p.features
        ]
        keys = out[[key, c.EVENT_TIMESTAMP]].drop_duplicates().reset_index(drop=True)
        joined = store.get_historical_features(entity_df=keys, features=refs).to_df()
        joined[c.EVENT_TIMESTAMP] = pd.to_datetime(joined[c.EVENT_TIMESTAMP], utc=True)
        # Feast leaves out a key with no row at or before its time: it gets the defaults.
        joined = joined.drop_duplicates([key, c.EVENT_TIMESTAMP], keep="last")
        columns = [col for col in joined.columns if col not in (key, c.EVENT_TIMESTAMP)]
        out = out.merge(
            joined[[key, c.EVENT_TIMESTAMP, *columns]], on=[key, c.EVENT_TIMESTAMP], how="left"
        )
    return out


def training_vectors(repo_dir: Path, entities: pd.DataFrame) -> np.ndarray:
    """float32 ``(len(entities), len(RANKER_FEATURES))``, each at its row's timestamp."""
    rows = historical_rows(repo_dir, entities)
    return ranker_matrix(rows, rows[c.EVENT_TIMESTAMP], len(rows))


class HistoricalFeatures:
    """The ranker's features of candidate lists as known at one moment (``at``), from Feast's
    offline store: the training-time counterpart of ``features.online.OnlineFeatures``."""

    def __init__(self, repo_dir: Path, at: datetime) -> None:
        self.repo_dir = repo_dir
        self.at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)

    @property
    def names(self) -> tuple[str, ...]:
        """The ranker feature columns, in order."""
        return s.RANKER_FEATURES

    def pair_features(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        """float32 ``(n, width, F)``; padding (negative ids) gets the defaults."""
        import pandas as pd

        users = np.asarray(user_ids, dtype=np.int64)
        n, width = item_ids.shape
        out = np.empty((n, width, len(self.names)), dtype=np.float32)
        out[:] = np.asarray([s.RANKER_DEFAULTS[name] for name in self.names], dtype=np.float32)
        valid = item_ids >= 0
        if not valid.any():
            return out
        rows, cols = np.nonzero(valid)
        entities = pd.DataFrame(
            {
                c.USER_ID: users[rows],
                c.VIDEO_ID: item_ids[rows, cols].astype(np.int64),
                c.EVENT_TIMESTAMP: pd.Timestamp(self.at),
            }
        )
        out[rows, cols] = training_vectors(self.repo_dir, entities)
        return out
