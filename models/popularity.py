"""Most-popular baseline: the same ranking for everyone, optionally favouring recent activity."""

from __future__ import annotations

from pathlib import Path
from typing import Self

import numpy as np
from pydantic import Field

from models.base import (
    rank_by_global_scores,
    similar_by_global_scores,
    top_by_global_scores,
)
from models.config import ModelConfig
from models.errors import ModelFormatError, NotFittedError
from models.interactions import Interactions
from models.storage import read_manifest, write_manifest

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


class PopularityRecommender:
    """Scores every item by (decayed) popularity; serves known and unknown users alike."""

    def __init__(self, config: PopularityConfig = PopularityConfig()) -> None:  # noqa: B008 - frozen
        self.config = config
        self._interactions: Interactions | None = None
        self._scores: np.ndarray | None = None

    @property
    def interactions(self) -> Interactions:
        """The matrix the model was fitted on."""
        if self._interactions is None:
            raise NotFittedError("the popularity model is not fitted: call fit() first")
        return self._interactions

    @property
    def scores(self) -> np.ndarray:
        """float32 popularity per item, in the order of ``interactions.item_ids``."""
        self.interactions  # noqa: B018 - raises when not fitted
        assert self._scores is not None
        return self._scores

    def fit(self, interactions: Interactions) -> Self:
        """Count each item's interactions (users, or summed weights), with optional decay."""
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

    def save(self, path: Path) -> Path:
        """Write config, interactions and scores into directory ``path``."""
        write_manifest(path, KIND, self.config)
        self.interactions.save(path)
        np.save(path / _SCORES, self.scores)
        return path

    @classmethod
    def load(cls, path: Path) -> Self:
        """Read a directory written by ``save``."""
        model = cls(read_manifest(path, KIND, PopularityConfig))
        if not (path / _SCORES).is_file():
            raise ModelFormatError(f"no {_SCORES} in {path}: incomplete popularity model")
        model._interactions = Interactions.load(path)
        model._scores = np.load(path / _SCORES)
        if model._scores.shape != (model._interactions.n_items,):
            raise ModelFormatError(f"{path}: popularity scores do not match the item vocabulary")
        return model
