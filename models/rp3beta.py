"""RP3beta (Paudel et al. 2017): a random walk user -> item -> user -> item, popular items damped.

``P_ui`` is the user x item matrix with each row divided by its sum, ``P_iu`` the binary item x
user matrix with each row divided by its sum; both are raised element-wise to ``alpha``. The
item x item weight is ``W_ij = (P_iu P_ui)_ij / deg(j)^beta`` (``deg(j)``: users of item j), with
a zero diagonal, pruned to each item's ``neighbours`` largest weights. A user's scores are
``x_u W``, with ``x_u`` the user's binary (or weighted) row.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Self

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from models.base import Recommender, recommend_by_item_weights, similar_by_item_weights
from models.config import ModelConfig
from models.errors import ModelFormatError
from models.interactions import Interactions
from models.side_info import ItemFeatures

KIND = "rp3beta"
_WEIGHTS = "rp3beta_weights.npz"
#: Items whose dense weight rows are built at once while fitting (bounds memory).
_BLOCK = 1024


class RP3betaConfig(ModelConfig):
    """Walk exponent, popularity penalty and neighbourhood size (defaults tuned on a validation
    split of ml-latest-small)."""

    alpha: float = Field(0.5, gt=0, description="Exponent of the transition probabilities.")
    beta: float = Field(0.45, ge=0, description="Popularity penalty: divide by deg(j)^beta.")
    neighbours: int = Field(500, gt=0, description="Largest weights kept per item.")
    normalise: bool = Field(False, description="Rescale each item's kept weights to sum to 1.")
    binary: bool = Field(True, description="Use 1 for every pair instead of its weight.")


def rp3beta_weights(x: sp.csr_matrix, config: RP3betaConfig) -> sp.csr_matrix:
    """The pruned float32 item x item matrix ``W`` of user x item weights ``x``."""
    n_items = x.shape[1]
    x = sp.csr_matrix(x, dtype=np.float64)
    user_sum = np.asarray(x.sum(axis=1)).ravel()
    p_ui = sp.diags(1.0 / np.maximum(user_sum, 1e-12)) @ x
    x_t = sp.csr_matrix(x.T)
    x_t.data[:] = 1.0
    degree = np.asarray(x_t.sum(axis=1)).ravel()
    p_iu = sp.diags(1.0 / np.maximum(degree, 1.0)) @ x_t
    if config.alpha != 1.0:
        p_ui = p_ui.power(config.alpha)
        p_iu = p_iu.power(config.alpha)
    p_ui, p_iu = sp.csr_matrix(p_ui), sp.csr_matrix(p_iu)
    penalty = np.where(degree > 0, np.maximum(degree, 1.0) ** -config.beta, 0.0)
    keep = min(config.neighbours, max(n_items - 1, 1))
    rows, cols, vals = [], [], []
    for start in range(0, n_items, _BLOCK):
        stop = min(start + _BLOCK, n_items)
        dense = (p_iu[start:stop] @ p_ui).toarray() * penalty[None, :]
        dense[np.arange(stop - start), np.arange(start, stop)] = 0.0
        if keep < n_items:
            best = np.argpartition(-dense, keep - 1, axis=1)[:, :keep]
        else:
            best = np.broadcast_to(np.arange(n_items), dense.shape)
        picked = np.take_along_axis(dense, best, axis=1)
        nonzero = picked > 0
        rows.append(np.nonzero(nonzero)[0] + start)
        cols.append(best[nonzero])
        vals.append(picked[nonzero])
    weights = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_items, n_items),
        dtype=np.float64,
    )
    if config.normalise:
        sums = np.asarray(weights.sum(axis=1)).ravel()
        weights = sp.diags(1.0 / np.maximum(sums, 1e-12)) @ weights
    out = sp.csr_matrix(weights, dtype=np.float32)
    out.sort_indices()
    return out


class RP3betaRecommender(Recommender):
    """Sparse item x item random-walk weights; a user's score for an item sums over their items."""

    kind: ClassVar[str] = KIND
    label: ClassVar[str] = "RP3beta"
    config_type: ClassVar[type[ModelConfig]] = RP3betaConfig
    state_files: ClassVar[tuple[str, ...]] = (_WEIGHTS,)
    config: RP3betaConfig

    def __init__(self, config: RP3betaConfig | None = None) -> None:
        super().__init__(config)
        self._weights: sp.csr_matrix | None = None

    @property
    def weights(self) -> sp.csr_matrix:
        """float32 ``(n_items, n_items)`` CSR ``W``: row i holds item i's kept neighbours."""
        return self._require(self._weights)

    def fit(self, interactions: Interactions, item_features: ItemFeatures | None = None) -> Self:
        """Compute the walk weights, blockwise over items; item features are not used."""
        if interactions.nnz == 0:
            raise ValueError("cannot fit RP3beta on an empty interaction matrix")
        weights = rp3beta_weights(interactions.weights(self.config.binary), self.config)
        self._interactions, self._weights = interactions, weights
        return self

    def recommend(
        self, user_ids: np.ndarray, k: int, exclude_seen: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k items by ``x_u W``; unknown users get padding, as do items no walk reaches."""
        return recommend_by_item_weights(
            self.interactions, self.weights, self.config.binary, user_ids, k, exclude_seen
        )

    def similar_items(self, item_ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Each item's top-k walk destinations; padding for unknown items and short rows."""
        return similar_by_item_weights(self.interactions, self.weights, item_ids, k)

    def _save_state(self, path: Path) -> None:
        sp.save_npz(path / _WEIGHTS, self.weights)

    def _load_state(self, path: Path) -> None:
        weights = sp.csr_matrix(sp.load_npz(path / _WEIGHTS), dtype=np.float32)
        n = self.interactions.n_items
        if weights.shape != (n, n):
            raise ModelFormatError(f"{path}: RP3beta weights do not match the item vocabulary")
        self._weights = weights
