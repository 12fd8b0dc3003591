"""Most-popular baseline: the same ranking for everyone, optionally favouring recent activity."""

from __future__ import annotations

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

KIND = "popularity"
_SCORES = "popularity.npy"
_SECONDS_PER_DAY = 86_400.0


class PopularityConfig(ModelConfig):
    """How item popularity is counted."""

    half_life_days: float | None = Field(
        None,
        gt=0,
        description="Halve a pair's weight per this many days before the newest event; "
        "None counts every interaction fully.",
    )
    use_weights: bool = Field(
        False, description="Sum interaction weights instead of counting distinct users."
    )


class PopularityRecommender(Recommender):
    """Scores every item by (decayed) popularity; serves known and unknown users alike."""

    kind: ClassVar[str] = KIND
    label: ClassVar[str] = "popularity"
    config_type: ClassVar[type[ModelConfig]] = PopularityConfig
    state_files: ClassVar[tuple[str, ...]] = (_SCORES,)
    config: PopularityConfig

    def __init__(self, config: PopularityConfig | None = None) -> None:
        super().__init__(config)
        self._scores: np.ndarray | None = None

    @property
    def scores(self) -> np.ndarray:
        """float32 popularity per item, in the order of ``interactions.item_ids``."""
        return self._require(self._scores)

    def fit(self, interactions: Interactions, item_features: ItemFeatures | None = None) -> Self:
        """Count each item's interactions (users, or summed weights), with optional decay;
        item features are not used."""
        weights = interactions.matrix.data.astype(np.float64)
        if not self.config.use_weights:
            weights = np.ones_like(weights)
        if self.config.half_life_days is not None and interactions.nnz:
            age_days = (interactions.last_seen.max() - interactions.last_seen) / _SECONDS_PER_DAY
            weights = weights * np.power(0.5, age_days / self.config.half_life_days)
        scores = np.bincount(
            interactions.matrix.indices, weights=weights, minlength=interactions.n_items
        )
        self._interactions = interactions
        self._scores = scores.astype(np.float32)
        return self

    def recommend(
        self, user_ids: np.ndarray, k: int, exclude_seen: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """The most popular items for every user, minus each known user's seen items."""
        return rank_by_global_scores(self.scores, self.interactions, user_ids, k, exclude_seen)

    def top_items(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` most popular item ids and their scores (shorter if the catalogue is)."""
        return top_by_global_scores(self.scores, self.interactions, n)

    def similar_items(self, item_ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The most popular other items for each known item; padding for unknown items."""
        return similar_by_global_scores(self.scores, self.interactions, item_ids, k)

    def _save_state(self, path: Path) -> None:
        np.save(path / _SCORES, self.scores)

    def _load_state(self, path: Path) -> None:
        scores = np.load(path / _SCORES)
        if scores.shape != (self.interactions.n_items,):
            raise ModelFormatError(f"{path}: popularity scores do not match the item vocabulary")
        self._scores = scores
