"""Item-KNN: a candidate's score is the sum of its similarities to the user's items.

Similarities are ``implicit``'s cosine, BM25- or TF-IDF-weighted co-occurrence, pruned to each
item's nearest neighbours."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import ClassVar, Literal, Self

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from models.base import Recommender, recommend_by_item_weights, similar_by_item_weights
from models.config import ModelConfig
from models.errors import ModelFormatError
from models.interactions import Interactions
from models.side_info import ItemFeatures

KIND = "itemknn"
_SIMILARITY = "similarity.npz"


class ItemKNNConfig(ModelConfig):
    """Similarity measure and neighbourhood size (defaults tuned on a validation split of
    ml-latest-small)."""

    similarity: Literal["cosine", "bm25", "tfidf"] = Field(
        "tfidf", description="How co-occurrence counts are weighted."
    )
    neighbours: int = Field(100, gt=0, description="Similar items kept per item.")
    k1: float = Field(1.2, gt=0, description="BM25 term-frequency saturation.")
    b: float = Field(0.75, ge=0, le=1, description="BM25 length normalisation.")
    binary: bool = Field(True, description="Use 1 for every pair instead of its weight.")
    num_threads: int = Field(2, gt=0, description="Threads used while fitting.")


class ItemKNNRecommender(Recommender):
    """Sparse item x item similarities; a user's score for an item sums over their items."""

    kind: ClassVar[str] = KIND
    label: ClassVar[str] = "item-KNN"
    config_type: ClassVar[type[ModelConfig]] = ItemKNNConfig
    state_files: ClassVar[tuple[str, ...]] = (_SIMILARITY,)
    config: ItemKNNConfig

    def __init__(self, config: ItemKNNConfig | None = None) -> None:
        super().__init__(config)
        self._similarity: sp.csr_matrix | None = None

    @property
    def similarity(self) -> sp.csr_matrix:
        """float32 ``(n_items, n_items)`` CSR: row i holds item i's neighbours."""
        return self._require(self._similarity)

    def fit(self, interactions: Interactions, item_features: ItemFeatures | None = None) -> Self:
        """Compute each item's ``neighbours`` most similar items; item features are not used."""
        from implicit.nearest_neighbours import (
            BM25Recommender,
            CosineRecommender,
            TFIDFRecommender,
        )
        from implicit.utils import ParameterWarning

        if interactions.nnz == 0:
            raise ValueError("cannot fit item-KNN on an empty interaction matrix")
        threads = self.config.num_threads
        # implicit keeps the item itself among its K neighbours: ask for one more.
        k = self.config.neighbours + 1
        if self.config.similarity == "bm25":
            model = BM25Recommender(K=k, K1=self.config.k1, B=self.config.b, num_threads=threads)
        elif self.config.similarity == "tfidf":
            model = TFIDFRecommender(K=k, num_threads=threads)
        else:
            model = CosineRecommender(K=k, num_threads=threads)
        with warnings.catch_warnings():
            # implicit converts its own transposed matrices and warns about it
            warnings.simplefilter("ignore", ParameterWarning)
            model.fit(interactions.weights(self.config.binary), show_progress=False)
        similarity = sp.csr_matrix(model.similarity, dtype=np.float32)
        similarity.setdiag(0.0)
        similarity.eliminate_zeros()
        self._interactions, self._similarity = interactions, similarity
        return self

    def recommend(
        self, user_ids: np.ndarray, k: int, exclude_seen: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k items by summed similarity to the user's items; unknown users get padding.

        Items with no similarity to anything the user saw are padding, not zero-score picks.
        """
        return recommend_by_item_weights(
            self.interactions, self.similarity, self.config.binary, user_ids, k, exclude_seen
        )

    def similar_items(self, item_ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Each item's top-k neighbours; padding for unknown items and short neighbourhoods."""
        return similar_by_item_weights(self.interactions, self.similarity, item_ids, k)

    def _save_state(self, path: Path) -> None:
        sp.save_npz(path / _SIMILARITY, self.similarity)

    def _load_state(self, path: Path) -> None:
        similarity = sp.csr_matrix(sp.load_npz(path / _SIMILARITY), dtype=np.float32)
        n = self.interactions.n_items
        if similarity.shape != (n, n):
            raise ModelFormatError(f"{path}: item similarities do not match the item vocabulary")
        self._similarity = similarity
