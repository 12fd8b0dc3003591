"""EASE (Steck 2019): a closed-form item x item linear model with a zero diagonal.

``P = (X^T X + lambda I)^-1`` and ``B = I - P diag(1 / diag(P))``, i.e. ``B_ij = -P_ij / P_jj``
off the diagonal and 0 on it; a user's scores are ``x_u B``. ``B`` is dense float32, so memory
grows with the square of the number of items (9.7k items: 380 MB).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Self

import numpy as np
from pydantic import Field

from models.base import Recommender, as_ids, check_k, empty_result, recommend_rows, top_k
from models.config import ModelConfig
from models.errors import ModelFormatError
from models.interactions import Interactions
from models.side_info import ItemFeatures

KIND = "ease"
_WEIGHTS = "ease_weights.npy"


class EASEConfig(ModelConfig):
    """Regularisation of EASE (default tuned on a validation split of ml-latest-small)."""

    l2: float = Field(200.0, gt=0, description="lambda added to the Gram matrix's diagonal.")
    binary: bool = Field(True, description="Use 1 for every pair instead of its weight.")
    max_items: int = Field(
        30_000, gt=0, description="Refuse larger catalogues (B needs 4 * n_items^2 bytes)."
    )
    num_threads: int = Field(2, gt=0, description="BLAS / LAPACK threads while fitting.")


class EASERecommender(Recommender):
    """Dense item x item weights ``B`` learned in closed form; scores are ``x_u B``."""

    kind: ClassVar[str] = KIND
    label: ClassVar[str] = "EASE"
    config_type: ClassVar[type[ModelConfig]] = EASEConfig
    state_files: ClassVar[tuple[str, ...]] = (_WEIGHTS,)
    config: EASEConfig

    def __init__(self, config: EASEConfig | None = None) -> None:
        super().__init__(config)
        self._weights: np.ndarray | None = None

    @property
    def weights(self) -> np.ndarray:
        """float32 ``(n_items, n_items)`` matrix ``B`` (zero diagonal)."""
        return self._require(self._weights)

    def fit(self, interactions: Interactions, item_features: ItemFeatures | None = None) -> Self:
        """Solve for ``B`` with a Cholesky inverse of the regularised Gram matrix; item
        features are not used."""
        from scipy.linalg import lapack
        from threadpoolctl import threadpool_limits

        n = interactions.n_items
        if interactions.nnz == 0:
            raise ValueError("cannot fit EASE on an empty interaction matrix")
        if n > self.config.max_items:
            raise ValueError(
                f"EASE needs a dense {n} x {n} matrix ({4 * n * n / 2**30:.1f} GiB); the "
                f"catalogue exceeds max_items={self.config.max_items}: raise it or filter items"
            )
        x = interactions.weights(self.config.binary)
        with threadpool_limits(self.config.num_threads):
            gram = (x.T @ x).toarray().astype(np.float32)
            gram[np.diag_indices(n)] += self.config.l2
            chol, info = lapack.spotrf(gram, lower=0, overwrite_a=1, clean=0)
            if info != 0:
                raise ValueError(f"EASE: the Gram matrix is not positive definite (info={info})")
            inverse, info = lapack.spotri(chol, lower=0, overwrite_c=1)
            if info != 0:
                raise ValueError(f"EASE: inverting the Gram matrix failed (info={info})")
        weights = np.triu(inverse)
        del inverse, chol, gram
        weights += np.triu(weights, 1).T
        weights /= -np.diag(weights)[None, :]
        np.fill_diagonal(weights, 0.0)
        self._interactions, self._weights = interactions, np.ascontiguousarray(weights)
        return self

    def recommend(
        self, user_ids: np.ndarray, k: int, exclude_seen: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k items by ``x_u B``; unknown users get a row of padding."""

        def score(rows: np.ndarray) -> np.ndarray:
            return np.asarray(
                self.interactions.row_weights(rows, self.config.binary) @ self.weights
            )

        return recommend_rows(self.interactions, user_ids, k, exclude_seen, score)

    def similar_items(self, item_ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Items with the largest weight ``B_ij`` from each item i; padding for unknown items."""
        k = check_k(k)
        cols = self.interactions.item_index(as_ids(item_ids))
        ids, scores = empty_result(cols.size, k)
        known = np.flatnonzero(cols >= 0)
        if known.size:
            dense = self.weights[cols[known]].copy()
            dense[np.arange(known.size), cols[known]] = -np.inf
            ids[known], scores[known] = top_k(dense, k, self.interactions.item_ids)
        return ids, scores

    def _save_state(self, path: Path) -> None:
        np.save(path / _WEIGHTS, self.weights)

    def _load_state(self, path: Path) -> None:
        weights = np.load(path / _WEIGHTS)
        n = self.interactions.n_items
        if weights.shape != (n, n):
            raise ModelFormatError(f"{path}: EASE weights do not match the item vocabulary")
        self._weights = weights
