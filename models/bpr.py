"""Bayesian Personalised Ranking (Rendle et al. 2009) matrix factorisation via ``implicit``."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Self

import numpy as np
from pydantic import Field

from models.base import EmbeddingModel, cosine_similar, recommend_rows, rows_of
from models.config import ModelConfig
from models.errors import ModelFormatError
from models.interactions import Interactions
from models.side_info import ItemFeatures

KIND = "bpr"
_FACTORS = "factors.npz"


class BPRConfig(ModelConfig):
    """Hyper-parameters of ``implicit``'s CPU BPR (SGD over sampled item pairs).

    Defaults tuned on a validation split of ml-latest-small; more epochs or larger steps
    overfit. With more than one thread the SGD is lock-free and runs differ slightly; use
    ``num_threads=1`` for bit-identical refits.
    """

    factors: int = Field(128, gt=0, description="Latent dimensions (plus one item-bias column).")
    learning_rate: float = Field(0.01, gt=0, description="SGD step size.")
    regularization: float = Field(0.05, ge=0, description="L2 penalty on the factors.")
    iterations: int = Field(60, gt=0, description="Epochs over the interactions.")
    random_state: int = Field(42, description="Seed of initialisation and sampling.")
    num_threads: int = Field(2, gt=0, description="Threads used while fitting.")


class BPRRecommender(EmbeddingModel):
    """User and item vectors (the last item column is a bias) scored by inner product."""

    kind: ClassVar[str] = KIND
    label: ClassVar[str] = "BPR"
    config_type: ClassVar[type[ModelConfig]] = BPRConfig
    state_files: ClassVar[tuple[str, ...]] = (_FACTORS,)
    config: BPRConfig

    def __init__(self, config: BPRConfig | None = None) -> None:
        super().__init__(config)
        self._user_factors: np.ndarray | None = None
        self._item_factors: np.ndarray | None = None

    @property
    def item_vectors(self) -> np.ndarray:
        """float32 ``(n_items, factors + 1)`` in the order of ``interactions.item_ids``."""
        return self._require(self._item_factors)

    def user_vectors(self, user_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """float32 ``(n, factors + 1)`` user vectors (zeros for unknown users), known mask."""
        return rows_of(self.interactions, self._require(self._user_factors), user_ids)

    def fit(self, interactions: Interactions, item_features: ItemFeatures | None = None) -> Self:
        """Fit the factors on the pairs of ``interactions`` (weights and item features are
        ignored by BPR)."""
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        if interactions.nnz == 0 or interactions.n_items < 2:
            raise ValueError(
                f"BPR needs at least 2 items to rank against each other, "
                f"not {interactions.n_items} item(s) with {interactions.nnz} interactions"
            )
        model = BayesianPersonalizedRanking(
            factors=self.config.factors,
            learning_rate=self.config.learning_rate,
            regularization=self.config.regularization,
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
        users, items = self._require(self._user_factors), self.item_vectors

        def score(rows: np.ndarray) -> np.ndarray:
            return users[rows] @ items.T

        return recommend_rows(self.interactions, user_ids, k, exclude_seen, score)

    def similar_items(self, item_ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k other items by cosine of the item factors (bias excluded); unknown: padding."""
        return cosine_similar(self.item_vectors[:, :-1], self.interactions.item_ids, item_ids, k)

    def _save_state(self, path: Path) -> None:
        users, items = self._require(self._user_factors), self._require(self._item_factors)
        np.savez(path / _FACTORS, users=users, items=items)

    def _load_state(self, path: Path) -> None:
        with np.load(path / _FACTORS) as z:
            users, items = z["users"], z["items"]
        inter, dim = self.interactions, self.config.factors + 1
        if items.shape != (inter.n_items, dim) or users.shape != (inter.n_users, dim):
            raise ModelFormatError(f"{path}: BPR factors do not match the id vocabulary")
        self._user_factors, self._item_factors = users, items
