"""Implicit-feedback matrix factorisation (ALS, Hu et al. 2008) via the ``implicit`` library."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Self

import numpy as np
from pydantic import Field

from models.base import EmbeddingModel, as_ids, check_k, empty_result, mask_seen, rows_of, top_k
from models.config import ModelConfig
from models.errors import ModelFormatError
from models.interactions import Interactions
from models.side_info import ItemFeatures

KIND = "als"
_FACTORS = "factors.npz"


class ALSConfig(ModelConfig):
    """Hyper-parameters of ``implicit``'s CPU ALS; confidence is ``1 + alpha * weight``.

    Defaults tuned the way Rendle et al. (2021, "Revisiting the performance of iALS") advise:
    many factors, strong regularisation (tuning results: docs/benchmarks.md).
    """

    factors: int = Field(256, gt=0, description="Latent dimensions.")
    regularization: float = Field(75.0, ge=0, description="L2 penalty on the factors.")
    alpha: float = Field(15.0, gt=0, description="Confidence scale of the interaction weights.")
    iterations: int = Field(15, gt=0, description="ALS sweeps over users and items.")
    random_state: int = Field(42, description="Seed of the factor initialisation.")
    num_threads: int = Field(2, gt=0, description="Threads used while fitting.")


class ALSRecommender(EmbeddingModel):
    """User and item vectors whose inner product scores an item for a user."""

    kind: ClassVar[str] = KIND
    label: ClassVar[str] = "ALS"
    config_type: ClassVar[type[ModelConfig]] = ALSConfig
    state_files: ClassVar[tuple[str, ...]] = (_FACTORS,)
    config: ALSConfig

    def __init__(self, config: ALSConfig | None = None) -> None:
        super().__init__(config)
        self._user_factors: np.ndarray | None = None
        self._item_factors: np.ndarray | None = None

    @property
    def item_vectors(self) -> np.ndarray:
        """float32 ``(n_items, factors)`` in the order of ``interactions.item_ids``."""
        return self._require(self._item_factors)

    def user_vectors(self, user_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """float32 ``(n, factors)`` user vectors (zeros for unknown users) and the known mask."""
        return rows_of(self.interactions, self._require(self._user_factors), user_ids)

    def fit(self, interactions: Interactions, item_features: ItemFeatures | None = None) -> Self:
        """Fit the factors on ``interactions`` (single-threaded BLAS, seeded); item features
        are not used."""
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=self.config.factors,
                regularization=self.config.regularization,
                alpha=self.config.alpha,
                iterations=self.config.iterations,
                num_threads=self.config.num_threads,
                random_state=self.config.random_state,
            )
            model.fit(interactions.matrix.astype(np.float32), show_progress=False)
        self._interactions = interactions
        self._user_factors = np.ascontiguousarray(model.user_factors, dtype=np.float32)
        self._item_factors = np.ascontiguousarray(model.item_factors, dtype=np.float32)
        return self

    def recommend(
        self, user_ids: np.ndarray, k: int, exclude_seen: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k items by inner product; unknown users get a row of padding."""
        k = check_k(k)
        vectors, known = self.user_vectors(user_ids)
        ids, scores = empty_result(known.size, k)
        if known.any():
            rows = self.interactions.user_index(as_ids(user_ids)[known])
            dense = vectors[known] @ self.item_vectors.T
            if exclude_seen:
                mask_seen(dense, self.interactions, rows)
            ids[known], scores[known] = top_k(dense, k, self.interactions.item_ids)
        return ids, scores

    def similar_items(self, item_ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k other items by cosine similarity of item vectors; padding for unknown items."""
        k = check_k(k)
        cols = self.interactions.item_index(as_ids(item_ids))
        known = cols >= 0
        ids, scores = empty_result(cols.size, k)
        if known.any():
            norms = np.linalg.norm(self.item_vectors, axis=1, keepdims=True)
            unit = self.item_vectors / np.maximum(norms, 1e-12)
            dense = unit[cols[known]] @ unit.T
            dense[np.arange(dense.shape[0]), cols[known]] = -np.inf
            ids[known], scores[known] = top_k(dense, k, self.interactions.item_ids)
        return ids, scores

    def _save_state(self, path: Path) -> None:
        users, items = self._require(self._user_factors), self._require(self._item_factors)
        np.savez(path / _FACTORS, users=users, items=items)

    def _load_state(self, path: Path) -> None:
        with np.load(path / _FACTORS) as z:
            users, items = z["users"], z["items"]
        inter, dim = self.interactions, self.config.factors
        if items.shape != (inter.n_items, dim) or users.shape != (inter.n_users, dim):
            raise ModelFormatError(f"{path}: ALS factors do not match the id vocabulary")
        self._user_factors, self._item_factors = users, items
