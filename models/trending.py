"""Trending: what many users engaged with recently, as time-decayed counts over a window.

Timestamps come from ``Interactions.last_seen`` (the latest event of each user-item pair), so a
pair counts once, at its latest event: trending measures how many users engaged recently,
not how often one user replayed an item.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import ClassVar, Self

import numpy as np
from pydantic import Field

from models.base import (
    Recommender,
    rank_by_global_scores,
    similar_by_global_scores,
    top_by_global_scores,
)
from models.config import ModelConfig
from models.errors import ModelFormatError
from models.interactions import Interactions
from models.side_info import ItemFeatures

KIND = "trending"
_SCORES = "trending.npz"
_SECONDS_PER_DAY = 86_400.0
#: Share of the all-time count added to each item's score, so that items outside the window
#: still rank (by all-time popularity) below every item seen inside it.
_TIE_BREAK = 1e-6


class TrendingConfig(ModelConfig):
    """Window and decay of the trending counts.

    The default (10 years, no decay) was the best window that still means "trending" on a
    validation split of ml-latest-small, where a random split does not reward recency. On a
    live service a window of days is the intended use.
    """

    window_days: float = Field(3650.0, gt=0, description="Only pairs this recent count.")
    half_life_days: float | None = Field(
        None, gt=0, description="Halve a pair's weight per this many days of age; None: no decay."
    )


class TrendingRecommender(Recommender):
    """Scores every item by its decayed recent count; serves known and unknown users alike."""

    kind: ClassVar[str] = KIND
    label: ClassVar[str] = "trending"
    config_type: ClassVar[type[ModelConfig]] = TrendingConfig
    state_files: ClassVar[tuple[str, ...]] = (_SCORES,)
    config: TrendingConfig

    def __init__(self, config: TrendingConfig | None = None) -> None:
        super().__init__(config)
        self._scores: np.ndarray | None = None
        self._now: float = 0.0

    @property
    def scores(self) -> np.ndarray:
        """float32 trending score per item, in the order of ``interactions.item_ids``."""
        return self._require(self._scores)

    @property
    def reference_time(self) -> float:
        """The moment ages were measured from, in seconds since the epoch."""
        return self._require(self._now)

    def fit(
        self,
        interactions: Interactions,
        item_features: ItemFeatures | None = None,
        *,
        now: datetime | None = None,
    ) -> Self:
        """Count each item's users inside the window ending at ``now`` (default: the newest
        event), each weighted ``0.5 ** (age / half_life)``; item features are not used."""
        if interactions.nnz == 0:
            raise ValueError("cannot fit the trending model on an empty interaction matrix")
        stamps = interactions.last_seen
        reference = float(stamps.max()) if now is None else now.timestamp()
        age_days = np.maximum(reference - stamps, 0.0) / _SECONDS_PER_DAY
        inside = (age_days <= self.config.window_days) & (stamps <= reference)
        weights = inside.astype(np.float64)
        if self.config.half_life_days is not None:
            weights *= np.power(0.5, age_days / self.config.half_life_days)
        cols = interactions.matrix.indices
        recent = np.bincount(cols, weights=weights, minlength=interactions.n_items)
        total = np.bincount(cols, minlength=interactions.n_items).astype(np.float64)
        scores = recent + _TIE_BREAK * total / max(total.max(), 1.0)
        self._interactions, self._scores = interactions, scores.astype(np.float32)
        self._now = reference
        return self

    def recommend(
        self, user_ids: np.ndarray, k: int, exclude_seen: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """The trending items for every user (unknown users too), minus each one's seen items."""
        return rank_by_global_scores(self.scores, self.interactions, user_ids, k, exclude_seen)

    def top_items(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` most trending item ids and their scores (shorter if the catalogue is)."""
        return top_by_global_scores(self.scores, self.interactions, n)

    def similar_items(self, item_ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The most trending other items for each known item; padding for unknown items."""
        return similar_by_global_scores(self.scores, self.interactions, item_ids, k)

    def _save_state(self, path: Path) -> None:
        np.savez(path / _SCORES, scores=self.scores, now=np.float64(self._now))

    def _load_state(self, path: Path) -> None:
        with np.load(path / _SCORES) as z:
            scores, now = z["scores"], float(z["now"])
        if scores.shape != (self.interactions.n_items,):
            raise ModelFormatError(f"{path}: trending scores do not match the item vocabulary")
        self._scores, self._now = scores, now
