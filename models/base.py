"""The one interface every recommender implements, and the top-k helpers they share."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol, Self, runtime_checkable

import numpy as np
import scipy.sparse as sp

from models.config import ModelConfig
from models.interactions import Interactions, lookup

#: Item id used to pad a row of recommendations shorter than k.
PAD_ID = -1
#: Score used to pad a row of recommendations shorter than k.
PAD_SCORE = -np.inf


@runtime_checkable
class Recommender(Protocol):
    """Fit on an interaction matrix; recommend top-k items for a batch of users.

    ``recommend`` and ``similar_items`` return ``(ids, scores)``: int64 ids of shape
    ``(n, k)`` and float32 scores of the same shape, best first, padded with ``PAD_ID`` /
    ``PAD_SCORE`` where fewer than k items qualify (unknown user or item, small catalogue).
    """

    config: ModelConfig

    @property
    def interactions(self) -> Interactions:
        """The matrix the model was fitted on (raises ``NotFittedError`` before ``fit``)."""
        ...

    def fit(self, interactions: Interactions) -> Self: ...

    def recommend(
        self, user_ids: np.ndarray, k: int, exclude_seen: bool = True
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def similar_items(self, item_ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...

    def save(self, path: Path) -> Path: ...

    @classmethod
    def load(cls, path: Path) -> Self: ...


@runtime_checkable
class EmbeddingModel(Recommender, Protocol):
    """A recommender that scores by inner product of user and item vectors (indexable)."""

    @property
    def item_vectors(self) -> np.ndarray:
        """float32 ``(n_items, dim)`` in the order of ``interactions.item_ids``."""
        ...

    def user_vectors(self, user_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """float32 ``(n, dim)`` vectors and a bool mask of which users are known."""
        ...


def check_k(k: int) -> int:
    """``k`` if it is a positive int, else ``ValueError`` saying what is wrong."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise ValueError(f"k must be a positive integer, not {k!r}")
    if k <= 0:
        raise ValueError(f"k must be a positive integer (number of items to return), not {k}")
    return int(k)


def as_ids(ids: np.ndarray | list[int]) -> np.ndarray:
    """A 1-d int64 copy of a batch of ids."""
    return np.asarray(ids, dtype=np.int64).reshape(-1)


def empty_result(n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` rows of k padding ids and scores."""
    return np.full((n, k), PAD_ID, dtype=np.int64), np.full((n, k), PAD_SCORE, dtype=np.float32)


def top_k(scores: np.ndarray, k: int, item_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best ``k`` columns of each row of ``scores`` as item ids; ``-inf`` scores become padding."""
    n, m = scores.shape
    ids, out = empty_result(n, k)
    take = min(k, m)
    if take == 0 or n == 0:
        return ids, out
    part = np.argpartition(-scores, take - 1, axis=1)[:, :take] if take < m else None
    cols = part if part is not None else np.broadcast_to(np.arange(m), (n, m))
    picked = np.take_along_axis(scores, cols, axis=1)
    order = np.argsort(-picked, axis=1, kind="stable")
    cols = np.take_along_axis(cols, order, axis=1)
    picked = np.take_along_axis(picked, order, axis=1)
    valid = np.isfinite(picked)
    ids[:, :take] = np.where(valid, item_ids[cols], PAD_ID)
    out[:, :take] = np.where(valid, picked, PAD_SCORE)
    return ids, out


def mask_seen(scores: np.ndarray, interactions: Interactions, rows: np.ndarray) -> None:
    """Set to ``-inf``, in place, the scores of items each row's user has interacted with."""
    matrix = interactions.matrix
    for out_row, row in enumerate(rows):
        if row >= 0:
            scores[out_row, matrix.indices[matrix.indptr[row] : matrix.indptr[row + 1]]] = -np.inf


#: Users scored per dense block in ``recommend_rows`` (bounds memory to block x n_items).
SCORE_BLOCK = 2048


def recommend_rows(
    interactions: Interactions,
    user_ids: np.ndarray,
    k: int,
    exclude_seen: bool,
    score_rows: Callable[[np.ndarray], np.ndarray],
    item_ids: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k per user from ``score_rows(rows) -> float32 (len(rows), n_items)``; padding rows
    for users unknown to ``interactions``.

    ``item_ids`` names the score columns (default ``interactions.item_ids``); the seen-item mask
    is applied through ``interactions`` and so needs the default column order.
    """
    k = check_k(k)
    rows = interactions.user_index(as_ids(user_ids))
    ids, scores = empty_result(rows.size, k)
    columns = interactions.item_ids if item_ids is None else item_ids
    known = np.flatnonzero(rows >= 0)
    for start in range(0, known.size, SCORE_BLOCK):
        out = known[start : start + SCORE_BLOCK]
        dense = np.asarray(score_rows(rows[out]), dtype=np.float32)
        if exclude_seen:
            mask_seen(dense, interactions, rows[out])
        ids[out], scores[out] = top_k(dense, k, columns)
    return ids, scores


def recommend_by_item_weights(
    interactions: Interactions,
    weights: sp.csr_matrix,
    binary: bool,
    user_ids: np.ndarray,
    k: int,
    exclude_seen: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k items by ``x_u W`` for an item x item ``weights`` matrix (item-KNN, RP3beta);
    unknown users get padding, and so do items with no positive score (reached by nothing)."""
    x = interactions.weights(binary)

    def score(rows: np.ndarray) -> np.ndarray:
        dense = (x[rows] @ weights).toarray()
        dense[dense <= 0] = -np.inf
        return dense

    return recommend_rows(interactions, user_ids, k, exclude_seen, score)


def similar_by_item_weights(
    interactions: Interactions, weights: sp.csr_matrix, item_ids: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each item's top-k neighbours by its row of ``weights``; padding for unknown items and
    for neighbourhoods shorter than k."""
    k = check_k(k)
    cols = interactions.item_index(as_ids(item_ids))
    ids, scores = empty_result(cols.size, k)
    known = np.flatnonzero(cols >= 0)
    if known.size:
        dense = weights[cols[known]].toarray()
        dense[dense <= 0] = -np.inf
        ids[known], scores[known] = top_k(dense, k, interactions.item_ids)
    return ids, scores


def cosine_similar(
    vectors: np.ndarray, vocabulary: np.ndarray, query_ids: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k other items by cosine of dense ``vectors`` (rows named by sorted ``vocabulary``);
    padding for unknown items and for items whose vector is zero."""
    k = check_k(k)
    cols = lookup(vocabulary, as_ids(query_ids))
    ids, scores = empty_result(cols.size, k)
    norms = np.linalg.norm(vectors, axis=1)
    unit = (vectors / np.maximum(norms, 1e-12)[:, None]).astype(np.float32)
    known = np.flatnonzero(cols >= 0)
    known = known[norms[cols[known]] > 0]
    if known.size:
        dense = unit[cols[known]] @ unit.T
        dense[:, norms == 0] = -np.inf
        dense[np.arange(known.size), cols[known]] = -np.inf
        ids[known], scores[known] = top_k(dense, k, vocabulary)
    return ids, scores


def rank_by_global_scores(
    scores: np.ndarray,
    interactions: Interactions,
    user_ids: np.ndarray,
    k: int,
    exclude_seen: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """The same per-item ``scores`` ranked for every user, minus each known user's seen items."""
    k = check_k(k)
    users = as_ids(user_ids)
    rows = np.tile(scores, (users.size, 1))
    if exclude_seen:
        mask_seen(rows, interactions, interactions.user_index(users))
    return top_k(rows, k, interactions.item_ids)


def top_by_global_scores(
    scores: np.ndarray, interactions: Interactions, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` best item ids by ``scores`` and their scores (shorter if the catalogue is)."""
    ids, best = top_k(scores[None, :], check_k(n), interactions.item_ids)
    keep = ids[0] >= 0
    return ids[0][keep], best[0][keep]


def similar_by_global_scores(
    scores: np.ndarray, interactions: Interactions, item_ids: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """For each known item the best other items by ``scores``; padding for unknown items."""
    k = check_k(k)
    cols = interactions.item_index(as_ids(item_ids))
    known = cols >= 0
    rows = np.tile(scores, (cols.size, 1))
    rows[np.flatnonzero(known), cols[known]] = -np.inf
    ids, out = top_k(rows, k, interactions.item_ids)
    ids[~known], out[~known] = empty_result(int((~known).sum()), k)
    return ids, out
