"""Content-based recommender: items scored by cosine with the mean of the user's item features.

A user's profile is the weighted mean of their items' feature vectors. Items are those with
features (``ItemFeatures``), watched or not, so new videos are recommendable and have neighbours
from the day they are catalogued.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Self

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from models.base import Recommender, as_ids, check_k, empty_result, recommend_rows, top_k
from models.config import ModelConfig
from models.errors import ModelFormatError
from models.interactions import Interactions, lookup
from models.side_info import ItemFeatures

KIND = "content"
_FEATURES = "content_items"
_PROFILES = "content_profiles.npz"
_SECONDS_PER_DAY = 86_400.0


class ContentConfig(ModelConfig):
    """How a user's profile weighs the items they interacted with.

    Pure content is weak on MovieLens (it favours obscure look-alikes); its role is cold start
    and the ensemble.
    """

    use_weights: bool = Field(False, description="Weigh items by interaction weight, not 1.")
    half_life_days: float | None = Field(
        None,
        gt=0,
        description="Halve an item's weight per this many days before the user's "
        "newest interaction; None weighs old and new alike.",
    )


def _unit_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    scale = np.where(norms > 0, 1.0 / np.maximum(norms, 1e-30), 0.0)
    return sp.csr_matrix(sp.diags(scale) @ matrix, dtype=np.float32)


class ContentRecommender(Recommender):
    """Cosine between user profiles and item feature vectors."""

    kind: ClassVar[str] = KIND
    label: ClassVar[str] = "content"
    config_type: ClassVar[type[ModelConfig]] = ContentConfig
    state_files: ClassVar[tuple[str, ...]] = (_PROFILES,)
    config: ContentConfig

    def __init__(self, config: ContentConfig | None = None) -> None:
        super().__init__(config)
        self._features: ItemFeatures | None = None
        self._items: sp.csr_matrix | None = None
        self._profiles: sp.csr_matrix | None = None

    @property
    def features(self) -> ItemFeatures:
        """The item features the model scores with."""
        return self._require(self._features)

    @property
    def item_ids(self) -> np.ndarray:
        """The ids this model recommends: every item with features (sorted)."""
        return self.features.item_ids

    @property
    def item_vectors(self) -> np.ndarray:
        """float32 unit feature vectors in the order of ``item_ids`` (dense, for FAISS)."""
        return np.asarray(self._items_checked().toarray(), dtype=np.float32)

    def _items_checked(self) -> sp.csr_matrix:
        return self._require(self._items)

    def fit(self, interactions: Interactions, item_features: ItemFeatures | None = None) -> Self:
        """Build every known user's profile from ``item_features``' rows of their items."""
        if item_features is None:
            raise ValueError("the content model needs item_features: fit(interactions, features)")
        if item_features.n_features == 0 or item_features.matrix.nnz == 0:
            raise ValueError("the item features are empty: the content model has nothing to use")
        if interactions.nnz == 0:
            raise ValueError("cannot fit the content model on an empty interaction matrix")
        weights = interactions.weights(binary=not self.config.use_weights)
        if self.config.half_life_days is not None:
            owners = np.repeat(np.arange(interactions.n_users), np.diff(weights.indptr))
            latest = np.full(interactions.n_users, -np.inf)
            np.maximum.at(latest, owners, interactions.last_seen)
            newest = latest[owners]
            age = (newest - interactions.last_seen) / _SECONDS_PER_DAY
            weights.data *= np.power(0.5, age / self.config.half_life_days).astype(np.float32)
        profiles = weights @ item_features.align(interactions.item_ids)
        self._interactions, self._features = interactions, item_features
        self._profiles = _unit_rows(sp.csr_matrix(profiles))
        self._items = _unit_rows(item_features.matrix)
        return self

    def _score(self, profiles: sp.csr_matrix) -> np.ndarray:
        """Cosine of each profile with every item; ``-inf`` for items without features."""
        items = self._items_checked()
        dense = (profiles @ items.T).toarray().astype(np.float32)
        dense[:, np.diff(items.indptr) == 0] = -np.inf
        dense[np.diff(profiles.indptr) == 0] = -np.inf
        return dense

    def recommend(
        self, user_ids: np.ndarray, k: int, exclude_seen: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k items (unwatched ones too) by cosine with the user's profile; unknown users
        and users none of whose items have features get padding."""
        inter, profiles = self.interactions, self._require(self._profiles)
        positions = lookup(self.item_ids, inter.item_ids)

        def score(rows: np.ndarray) -> np.ndarray:
            dense = self._score(profiles[rows])
            if exclude_seen:
                for out, row in enumerate(rows):
                    seen = positions[
                        inter.matrix.indices[
                            inter.matrix.indptr[row] : inter.matrix.indptr[row + 1]
                        ]
                    ]
                    dense[out, seen[seen >= 0]] = -np.inf
            return dense

        return recommend_rows(inter, user_ids, k, False, score, item_ids=self.item_ids)

    def recommend_for_items(
        self, item_ids: list[np.ndarray], k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k items for ad-hoc profiles (one list of liked item ids per row, e.g. a new
        user's picks), excluding those items; rows without featured items get padding."""
        k = check_k(k)
        rows, cols = [], []
        for i, ids in enumerate(item_ids):
            found = lookup(self.item_ids, as_ids(ids))
            found = found[found >= 0]
            rows.extend([i] * found.size)
            cols.extend(found.tolist())
        picks = sp.csr_matrix(
            (np.ones(len(rows), np.float32), (rows, cols)),
            shape=(len(item_ids), self.item_ids.size),
        )
        dense = self._score(_unit_rows(picks @ self._items_checked()))
        dense[picks.nonzero()] = -np.inf
        return top_k(dense, k, self.item_ids)

    def similar_items(self, item_ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k other items by feature cosine, for any item with features (watched or not);
        padding for items without features."""
        k = check_k(k)
        cols = lookup(self.item_ids, as_ids(item_ids))
        ids, scores = empty_result(cols.size, k)
        known = np.flatnonzero(cols >= 0)
        if known.size:
            items = self._items_checked()
            dense = self._score(items[cols[known]])
            dense[np.arange(known.size), cols[known]] = -np.inf
            ids[known], scores[known] = top_k(dense, k, self.item_ids)
        return ids, scores

    def _save_state(self, path: Path) -> None:
        self.features.save(path, _FEATURES)
        sp.save_npz(path / _PROFILES, self._require(self._profiles))

    def _load_state(self, path: Path) -> None:
        features = ItemFeatures.load(path, _FEATURES)
        profiles = sp.csr_matrix(sp.load_npz(path / _PROFILES), dtype=np.float32)
        if profiles.shape != (self.interactions.n_users, features.n_features):
            raise ModelFormatError(f"{path}: content profiles do not match the features")
        self._features, self._items = features, _unit_rows(features.matrix)
        self._profiles = profiles
