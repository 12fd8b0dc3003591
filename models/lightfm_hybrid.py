"""LightFM hybrid (Kula 2015) with WARP loss: users and items are sums of feature embeddings.

Each item's row of the item-feature matrix holds its identity column (optional) and its side
features (``ItemFeatures``); each user's holds the identity column and ``UserFeatures`` when
given. Rows are L1-normalised, as LightFM recommends. Scores are ``user . item + item_bias``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar, Self

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from models.base import EmbeddingModel, as_ids, cosine_similar, recommend_rows, rows_of
from models.config import ModelConfig
from models.errors import ModelFormatError
from models.interactions import Interactions
from models.side_info import ItemFeatures, UserFeatures

KIND = "lightfm"
_ARRAYS = "lightfm.npz"
_NAMES = "lightfm_features.json"


class LightFMConfig(ModelConfig):
    """Hyper-parameters of the LightFM WARP hybrid.

    Defaults tuned on a validation split of ml-latest-small with ``ItemFeatures.from_metadata``
    defaults (genres, tags, title words, year). With more than one thread the SGD is lock-free
    and runs differ slightly; use ``num_threads=1`` for bit-identical refits.
    """

    components: int = Field(64, gt=0, description="Embedding dimensions.")
    epochs: int = Field(20, gt=0, description="Passes over the interactions.")
    learning_rate: float = Field(0.05, gt=0, description="Adagrad step size.")
    item_alpha: float = Field(1e-6, ge=0, description="L2 penalty on item feature embeddings.")
    user_alpha: float = Field(1e-6, ge=0, description="L2 penalty on user feature embeddings.")
    max_sampled: int = Field(30, gt=0, description="WARP negatives tried per positive.")
    item_identity: bool = Field(True, description="Give every item its own embedding too.")
    random_state: int = Field(42, description="Seed of initialisation and sampling.")
    num_threads: int = Field(
        1,
        gt=0,
        description=(
            "Threads used while fitting: 1 repeats exactly for a seed; more threads train faster "
            "but their lock-free (Hogwild) updates make runs differ."
        ),
    )


def _l1_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    sums = np.asarray(abs(matrix).sum(axis=1)).ravel()
    scale = np.where(sums > 0, 1.0 / np.maximum(sums, 1e-30), 0.0)
    return sp.csr_matrix(sp.diags(scale) @ matrix, dtype=np.float32)


class LightFMRecommender(EmbeddingModel):
    """Feature-based user and item vectors; items never watched can be scored from features."""

    kind: ClassVar[str] = KIND
    label: ClassVar[str] = "LightFM"
    config_type: ClassVar[type[ModelConfig]] = LightFMConfig
    state_files: ClassVar[tuple[str, ...]] = (_ARRAYS, _NAMES)
    config: LightFMConfig

    def __init__(self, config: LightFMConfig | None = None) -> None:
        super().__init__(config)
        self._item_feature_names: tuple[str, ...] = ()
        self._feature_embeddings: np.ndarray | None = None
        self._feature_biases: np.ndarray | None = None
        self._item_vectors: np.ndarray | None = None
        self._user_vectors: np.ndarray | None = None

    @property
    def item_vectors(self) -> np.ndarray:
        """float32 ``(n_items, components + 1)``: embedding and bias, in vocabulary order."""
        return self._require(self._item_vectors)

    def user_vectors(self, user_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """float32 ``(n, components + 1)``: embedding and a 1 for the item bias; known mask."""
        return rows_of(self.interactions, self._require(self._user_vectors), user_ids)

    def _item_matrix(
        self, item_ids: np.ndarray, features: ItemFeatures | None, known: np.ndarray
    ) -> sp.csr_matrix:
        """Rows of [identity | side features] for ``item_ids`` (identity only where known)."""
        n = self.interactions.n_items
        parts = []
        if self.config.item_identity or features is None:
            cols = np.flatnonzero(known)
            identity = sp.csr_matrix(
                (
                    np.ones(cols.size, np.float32),
                    (cols, self.interactions.item_index(item_ids)[cols]),
                ),
                shape=(item_ids.size, n),
            )
            parts.append(identity)
        if features is not None:
            parts.append(features.align(item_ids))
        return _l1_rows(sp.hstack(parts, format="csr"))

    def fit(
        self,
        interactions: Interactions,
        item_features: ItemFeatures | None = None,
        *,
        user_features: UserFeatures | None = None,
    ) -> Self:
        """Fit WARP on the pairs of ``interactions``; side features are optional."""
        from lightfm import LightFM

        if interactions.nnz == 0 or interactions.n_items < 2:
            raise ValueError(
                f"LightFM WARP needs at least 2 items to rank against each other, "
                f"not {interactions.n_items} item(s) with {interactions.nnz} interactions"
            )
        self._interactions = interactions
        items = self._item_matrix(
            interactions.item_ids, item_features, np.ones(interactions.n_items, bool)
        )
        users = sp.identity(interactions.n_users, dtype=np.float32, format="csr")
        if user_features is not None:
            users = _l1_rows(sp.hstack([users, user_features.align(interactions.user_ids)]))
        model = LightFM(
            no_components=self.config.components,
            loss="warp",
            learning_rate=self.config.learning_rate,
            item_alpha=self.config.item_alpha,
            user_alpha=self.config.user_alpha,
            max_sampled=self.config.max_sampled,
            random_state=self.config.random_state,
        )
        pairs = interactions.matrix.tocoo()
        pairs.data = np.ones_like(pairs.data)
        model.fit(
            pairs,
            user_features=users,
            item_features=items,
            epochs=self.config.epochs,
            num_threads=self.config.num_threads,
        )
        item_bias, item_emb = model.get_item_representations(items)
        _, user_emb = model.get_user_representations(users)
        self._item_feature_names = item_features.names if item_features is not None else ()
        self._feature_embeddings = np.asarray(model.item_embeddings, dtype=np.float32)
        self._feature_biases = np.asarray(model.item_biases, dtype=np.float32)
        self._item_vectors = np.hstack([item_emb, item_bias[:, None]]).astype(np.float32)
        ones = np.ones((user_emb.shape[0], 1), np.float32)
        self._user_vectors = np.hstack([user_emb, ones]).astype(np.float32)
        return self

    def vectors_for_items(self, item_ids: np.ndarray, item_features: ItemFeatures) -> np.ndarray:
        """float32 ``(n, components + 1)`` vectors for any items, new ones from their features.

        ``item_features`` must carry the feature names the model was fitted with.
        """
        embeddings = self._require(self._feature_embeddings)
        biases = self._require(self._feature_biases)
        if item_features.names != self._item_feature_names:
            raise ValueError(
                f"item features ({len(item_features.names)} names) differ from those the "
                f"model was fitted with ({len(self._item_feature_names)} names)"
            )
        ids = as_ids(item_ids)
        matrix = self._item_matrix(ids, item_features, self.interactions.item_index(ids) >= 0)
        emb, bias = matrix @ embeddings, matrix @ biases
        return np.hstack([emb, bias[:, None]]).astype(np.float32)

    def recommend(
        self, user_ids: np.ndarray, k: int, exclude_seen: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k items by ``user . item + item_bias``; unknown users get a row of padding."""
        users, items = self._require(self._user_vectors), self.item_vectors

        def score(rows: np.ndarray) -> np.ndarray:
            return users[rows] @ items.T

        return recommend_rows(self.interactions, user_ids, k, exclude_seen, score)

    def similar_items(self, item_ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k other items by cosine of the item embeddings; padding for unknown items."""
        return cosine_similar(self.item_vectors[:, :-1], self.interactions.item_ids, item_ids, k)

    def _save_state(self, path: Path) -> None:
        np.savez(
            path / _ARRAYS,
            items=self.item_vectors,
            users=self._require(self._user_vectors),
            feature_embeddings=self._require(self._feature_embeddings),
            feature_biases=self._require(self._feature_biases),
        )
        (path / _NAMES).write_text(json.dumps(list(self._item_feature_names)))

    def _load_state(self, path: Path) -> None:
        with np.load(path / _ARRAYS) as z:
            items, users = z["items"], z["users"]
            embeddings, biases = z["feature_embeddings"], z["feature_biases"]
        dim, inter = self.config.components + 1, self.interactions
        if items.shape != (inter.n_items, dim) or users.shape != (inter.n_users, dim):
            raise ModelFormatError(f"{path}: LightFM vectors do not match the id vocabulary")
        self._item_vectors, self._user_vectors = items, users
        self._feature_embeddings, self._feature_biases = embeddings, biases
        self._item_feature_names = tuple(json.loads((path / _NAMES).read_text()))
