"""The base class every recommender family extends, and the top-k helpers they share.

``Recommender`` owns what every family repeated: the fitted state (``interactions`` raises
``NotFittedError`` before ``fit``) and the saved-model directory (manifest, interactions, then
the family's own arrays through ``_save_state`` / ``_load_state``). A family's own logic
(fitting, scoring, its arrays) stays readable in its own module.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import ClassVar, Self, TypeVar

import numpy as np
import scipy.sparse as sp

from models.config import ModelConfig
from models.errors import ModelFormatError, NotFittedError
from models.interactions import Interactions, lookup
from models.manifest import read_manifest, write_manifest
from models.side_info import ItemFeatures

#: Item id used to pad a row of recommendations shorter than k.
PAD_ID = -1
#: Score used to pad a row of recommendations shorter than k.
PAD_SCORE = -np.inf

T = TypeVar("T")


class SourceRole(StrEnum):
    """What kind of signal a family's candidates give the pipeline (str-valued: readable)."""

    TRENDING = "trending"
    COLLABORATIVE = "collaborative"
    CONTENT = "content"


class Recommender(ABC):
    """Fit on an interaction matrix; recommend top-k items for a batch of users.

    ``recommend`` and ``similar_items`` return ``(ids, scores)``: int64 ids of shape
    ``(n, k)`` and float32 scores of the same shape, best first, padded with ``PAD_ID`` /
    ``PAD_SCORE`` where fewer than k items qualify (unknown user or item, small catalogue).

    A family sets ``kind`` (the manifest's model kind), ``label`` (its name in messages),
    ``config_type`` and ``state_files`` (the files ``_save_state`` writes), and implements
    ``fit``, ``recommend``, ``similar_items``, ``_save_state`` and ``_load_state``.
    """

    kind: ClassVar[str]
    label: ClassVar[str]
    config_type: ClassVar[type[ModelConfig]]
    state_files: ClassVar[tuple[str, ...]]

    config: ModelConfig

    def __init__(self, config: ModelConfig | None = None) -> None:
        config = self.config_type() if config is None else config
        if not isinstance(config, self.config_type):
            raise ValueError(
                f"{self.kind} needs a {self.config_type.__name__}, not {type(config).__name__}"
            )
        self.config = config
        self._interactions: Interactions | None = None

    @property
    def interactions(self) -> Interactions:
        """The matrix the model was fitted on (``NotFittedError`` before ``fit``)."""
        if self._interactions is None:
            raise NotFittedError(f"the {self.label} model is not fitted: call fit() first")
        return self._interactions

    def _require(self, state: T | None) -> T:
        """``state`` of a fitted model; ``NotFittedError`` before ``fit``."""
        if self._interactions is None or state is None:
            raise NotFittedError(f"the {self.label} model is not fitted: call fit() first")
        return state

    @abstractmethod
    def fit(self, interactions: Interactions, item_features: ItemFeatures | None = None) -> Self:
        """Learn from ``interactions``; families that do not use ``item_features`` ignore them."""

    @abstractmethod
    def recommend(
        self, user_ids: np.ndarray, k: int, exclude_seen: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k item ids and scores per user, best first, padded."""

    @abstractmethod
    def similar_items(self, item_ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k other items per item, best first, padded."""

    @abstractmethod
    def _save_state(self, path: Path) -> None:
        """Write the family's own arrays (``state_files``) into directory ``path``."""

    @abstractmethod
    def _load_state(self, path: Path) -> None:
        """Read what ``_save_state`` wrote; ``ModelFormatError`` if it does not fit
        ``self.interactions`` (already loaded)."""

    def save(self, path: Path) -> Path:
        """Write manifest, interactions and the family's arrays into directory ``path``."""
        interactions = self.interactions
        write_manifest(path, self.kind, self.config)
        interactions.save(path)
        self._save_state(path)
        return path

    @classmethod
    def load(cls, path: Path) -> Self:
        """Read a directory written by ``save``."""
        model = cls(read_manifest(path, cls.kind, cls.config_type))
        if not all((path / name).is_file() for name in cls.state_files):
            files = " / ".join(cls.state_files)
            raise ModelFormatError(f"no {files} in {path}: incomplete {cls.label} model")
        model._interactions = Interactions.load(path)
        model._load_state(path)
        return model


class EmbeddingModel(Recommender):
    """A recommender that scores by inner product of user and item vectors (indexable)."""

    @property
    @abstractmethod
    def item_vectors(self) -> np.ndarray:
        """float32 ``(n_items, dim)`` in the order of ``interactions.item_ids``."""

    @abstractmethod
    def user_vectors(self, user_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """float32 ``(n, dim)`` vectors and a bool mask of which users are known."""


def rows_of(
    interactions: Interactions, table: np.ndarray, user_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """float32 rows of a per-user ``table`` (zeros for unknown users) and the known mask."""
    rows = interactions.user_index(as_ids(user_ids))
    known = rows >= 0
    vectors = np.zeros((rows.size, table.shape[1]), dtype=np.float32)
    vectors[known] = table[rows[known]]
    return vectors, known


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
    """Best ``k`` columns of each row of ``scores`` as item ids; ``-inf`` scores become padding.

    Ties go to the lower column, whatever ``k``: a model's top 10 is the start of its top 100.
    """
    n, m = scores.shape
    ids, out = empty_result(n, k)
    take = min(k, m)
    if take == 0 or n == 0:
        return ids, out
    scores = np.where(np.isnan(scores), -np.inf, scores)
    if take < m:
        kth = -np.partition(-scores, take - 1, axis=1)[:, take - 1 : take]
        above = scores > kth
        ties = scores == kth
        need = take - above.sum(axis=1, keepdims=True)
        chosen = above | (ties & (np.cumsum(ties, axis=1) <= need))
        cols = np.nonzero(chosen)[1].reshape(n, take)
    else:
        cols = np.broadcast_to(np.arange(m), (n, m))
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

    def score(rows: np.ndarray) -> np.ndarray:
        dense = (interactions.row_weights(rows, binary) @ weights).toarray()
        dense[dense <= 0] = -np.inf
        return dense

    return recommend_rows(interactions, user_ids, k, exclude_seen, score)


def similar_by_item_weights(
    interactions: Interactions, weights: sp.csr_matrix, item_ids: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each item's top-k neighbours by its row of ``weights`` (positive weights only, ties to
    the lower column); padding for unknown items and for neighbourhoods shorter than k."""
    k = check_k(k)
    weights = weights.tocsr()
    cols = interactions.item_index(as_ids(item_ids))
    ids, scores = empty_result(cols.size, k)
    for i in np.flatnonzero(cols >= 0):
        start, end = weights.indptr[cols[i]], weights.indptr[cols[i] + 1]
        data, columns = weights.data[start:end], weights.indices[start:end]
        positive = data > 0
        data, columns = data[positive], columns[positive]
        best = np.lexsort((columns, -data))[:k]
        ids[i, : best.size] = interactions.item_ids[columns[best]]
        scores[i, : best.size] = data[best]
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


#: Batches up to this many users take each user's head of the global order (no dense rows).
SMALL_BATCH = 64
#: Global orders kept, keyed by the scores array they order (models keep their arrays).
_ORDERS: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def global_order(scores: np.ndarray) -> np.ndarray:
    """Columns of finite ``scores``, best first, ties to the lower column (``top_k``'s order);
    cached per scores array."""
    entry = _ORDERS.get(id(scores))
    if entry is not None and entry[0] is scores:
        return entry[1]
    clean = np.where(np.isnan(scores), -np.inf, scores)
    order = np.argsort(-clean, kind="stable")
    order = order[np.isfinite(clean[order])]
    if len(_ORDERS) >= 16:
        _ORDERS.pop(next(iter(_ORDERS)))
    _ORDERS[id(scores)] = (scores, order)
    return order


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
    if users.size > SMALL_BATCH:
        rows = np.tile(scores, (users.size, 1))
        if exclude_seen:
            mask_seen(rows, interactions, interactions.user_index(users))
        return top_k(rows, k, interactions.item_ids)
    # a few users: each one's head of the global order, without their seen items
    order = global_order(scores)
    ids, out = empty_result(users.size, k)
    matrix = interactions.matrix
    index = interactions.user_index(users) if exclude_seen else np.full(users.size, -1)
    for i, row in enumerate(index):
        head = order
        if row >= 0:
            seen = matrix.indices[matrix.indptr[row] : matrix.indptr[row + 1]]
            head = order[: k + seen.size]
            head = head[~np.isin(head, seen)]
        head = head[:k]
        ids[i, : head.size] = interactions.item_ids[head]
        out[i, : head.size] = scores[head]
    return ids, out


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
