"""Top-k ranking metrics with binary relevance, as pure functions over arrays.

``recommended`` is an int array ``(n_users, >= k)`` of item ids, best first, padded with -1;
``relevant`` holds one collection of relevant item ids per row. Each ``*_per_user`` function
returns one value per user, NaN for users with no relevant item; each ``*_at_k`` function is
the mean over users that have at least one relevant item (the others cannot be scored).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import scipy.sparse

Relevant = Sequence[Collection[int]]


def hits(recommended: np.ndarray, relevant: Relevant, k: int) -> np.ndarray:
    """bool ``(n_users, k)``: whether the item at each of the first k ranks is relevant."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k <= 0:
        raise ValueError(f"k must be a positive integer, not {k!r}")
    recs = np.asarray(recommended, dtype=np.int64)
    if recs.ndim != 2:
        raise ValueError(f"recommended must be 2-d (users x ranks), not shape {recs.shape}")
    if recs.shape[0] != len(relevant):
        raise ValueError(
            f"recommended has {recs.shape[0]} rows but relevant has {len(relevant)} users"
        )
    if recs.shape[1] < k:
        raise ValueError(f"recommended has {recs.shape[1]} columns, fewer than k={k}")
    top = recs[:, :k]
    out = np.zeros(top.shape, dtype=bool)
    for i, items in enumerate(relevant):
        if items:
            out[i] = np.isin(top[i], np.fromiter(items, dtype=np.int64)) & (top[i] >= 0)
    return out


def _sizes(relevant: Relevant) -> np.ndarray:
    return np.array([len(set(items)) for items in relevant], dtype=np.float64)


def _per_user(values: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    return np.where(sizes > 0, values, np.nan)


def precision_per_user(recommended: np.ndarray, relevant: Relevant, k: int) -> np.ndarray:
    """Relevant items among the first k, divided by k."""
    return _per_user(hits(recommended, relevant, k).sum(axis=1) / k, _sizes(relevant))


def recall_per_user(recommended: np.ndarray, relevant: Relevant, k: int) -> np.ndarray:
    """Relevant items among the first k, divided by the number of relevant items."""
    sizes = _sizes(relevant)
    found = hits(recommended, relevant, k).sum(axis=1)
    return _per_user(found / np.maximum(sizes, 1), sizes)


def hit_rate_per_user(recommended: np.ndarray, relevant: Relevant, k: int) -> np.ndarray:
    """1 if any of the first k items is relevant, else 0."""
    return _per_user(hits(recommended, relevant, k).any(axis=1).astype(float), _sizes(relevant))


def ndcg_per_user(recommended: np.ndarray, relevant: Relevant, k: int) -> np.ndarray:
    """DCG of the first k (gain ``1 / log2(rank + 1)``) over the DCG of an ideal ranking."""
    return ndcg_from_hits(hits(recommended, relevant, k), _sizes(relevant), k)


def ndcg_from_hits(found: np.ndarray, sizes: np.ndarray, k: int) -> np.ndarray:
    """``ndcg_per_user`` from bool ``found`` ``(n_users, <= k)`` (whether each rank holds a
    relevant item) and each user's number of relevant items ``sizes``; NaN where that is 0."""
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (found * discounts[: found.shape[1]]).sum(axis=1)
    ideal_len = np.minimum(sizes, k).astype(int)
    idcg = np.concatenate([[0.0], np.cumsum(discounts)])[ideal_len]
    return _per_user(dcg / np.maximum(idcg, 1e-12), np.asarray(sizes, dtype=np.float64))


def map_per_user(recommended: np.ndarray, relevant: Relevant, k: int) -> np.ndarray:
    """Average precision at k: mean of precision@i at each relevant rank i <= k,
    divided by ``min(number of relevant items, k)``."""
    sizes = _sizes(relevant)
    found = hits(recommended, relevant, k)
    precision_at_i = np.cumsum(found, axis=1) / np.arange(1, k + 1)
    total = (precision_at_i * found).sum(axis=1)
    return _per_user(total / np.maximum(np.minimum(sizes, k), 1), sizes)


def mrr_per_user(recommended: np.ndarray, relevant: Relevant, k: int) -> np.ndarray:
    """Reciprocal rank of the first relevant item among the first k (0 if none)."""
    found = hits(recommended, relevant, k)
    first = np.argmax(found, axis=1)
    values = np.where(found.any(axis=1), 1.0 / (first + 1), 0.0)
    return _per_user(values, _sizes(relevant))


def _mean(per_user: np.ndarray) -> float:
    if per_user.size == 0 or np.isnan(per_user).all():
        raise ValueError("no user has a relevant item: the metric is undefined")
    return float(np.nanmean(per_user))


def precision_at_k(recommended: np.ndarray, relevant: Relevant, k: int) -> float:
    """Mean precision@k over users with relevant items."""
    return _mean(precision_per_user(recommended, relevant, k))


def recall_at_k(recommended: np.ndarray, relevant: Relevant, k: int) -> float:
    """Mean recall@k over users with relevant items."""
    return _mean(recall_per_user(recommended, relevant, k))


def hit_rate_at_k(recommended: np.ndarray, relevant: Relevant, k: int) -> float:
    """Share of users with relevant items who get at least one in the first k."""
    return _mean(hit_rate_per_user(recommended, relevant, k))


def ndcg_at_k(recommended: np.ndarray, relevant: Relevant, k: int) -> float:
    """Mean NDCG@k over users with relevant items."""
    return _mean(ndcg_per_user(recommended, relevant, k))


def map_at_k(recommended: np.ndarray, relevant: Relevant, k: int) -> float:
    """Mean average precision@k over users with relevant items."""
    return _mean(map_per_user(recommended, relevant, k))


def mrr_at_k(recommended: np.ndarray, relevant: Relevant, k: int) -> float:
    """Mean reciprocal rank@k over users with relevant items."""
    return _mean(mrr_per_user(recommended, relevant, k))


#: Every metric by the name it is logged under (``<name>_at_<k>``).
METRICS: dict[str, Callable[[np.ndarray, Relevant, int], float]] = {
    "ndcg": ndcg_at_k,
    "precision": precision_at_k,
    "recall": recall_at_k,
    "map": map_at_k,
    "hit_rate": hit_rate_at_k,
    "mrr": mrr_at_k,
}


def evaluate_ranking(recommended: np.ndarray, relevant: Relevant, k: int) -> dict[str, float]:
    """Every metric in ``METRICS`` as ``{"ndcg_at_10": ..., ...}``."""
    return {f"{name}_at_{k}": fn(recommended, relevant, k) for name, fn in METRICS.items()}


def _top(recommended: np.ndarray, k: int) -> np.ndarray:
    """The first k columns of a 2-d recommendation array (checked)."""
    recs = np.asarray(recommended, dtype=np.int64)
    if recs.ndim != 2:
        raise ValueError(f"recommended must be 2-d (users x ranks), not shape {recs.shape}")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k <= 0:
        raise ValueError(f"k must be a positive integer, not {k!r}")
    return recs[:, :k]


def catalogue_coverage(recommended: np.ndarray, n_items: int, k: int) -> float:
    """Share of the ``n_items`` catalogue that appears in at least one user's first k."""
    if n_items <= 0:
        raise ValueError(f"n_items must be positive, not {n_items}")
    top = _top(recommended, k)
    return float(np.unique(top[top >= 0]).size / n_items)


def _counts_of(
    top: np.ndarray, item_ids: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Popularity count of every non-padding recommended item (0 for unknown items)."""
    item_ids = np.asarray(item_ids, dtype=np.int64)
    counts = np.asarray(counts, dtype=np.float64)
    if item_ids.shape != counts.shape:
        raise ValueError(f"{item_ids.size} item ids but {counts.size} popularity counts")
    order = np.argsort(item_ids)
    flat = top[top >= 0]
    pos = np.searchsorted(item_ids[order], flat)
    pos = np.minimum(pos, max(item_ids.size - 1, 0))
    known = item_ids[order][pos] == flat if item_ids.size else np.zeros(flat.size, bool)
    return flat, np.where(known, counts[order][pos], 0.0)


def novelty(
    recommended: np.ndarray, item_ids: np.ndarray, counts: np.ndarray, n_users: int, k: int
) -> float:
    """Mean self-information ``-log2(p)`` of recommended items, ``p = users(item) / n_users``.

    ``counts`` holds the number of training users of each id in ``item_ids``; items without
    users count as one user (the most novel). NaN when nothing is recommended.
    """
    if n_users <= 0:
        raise ValueError(f"n_users must be positive, not {n_users}")
    flat, found = _counts_of(_top(recommended, k), item_ids, counts)
    if flat.size == 0:
        return float("nan")
    return float(np.mean(-np.log2(np.maximum(found, 1.0) / n_users)))


def popularity_bias(
    recommended: np.ndarray, item_ids: np.ndarray, counts: np.ndarray, k: int
) -> float:
    """Mean popularity percentile (0 = least, 1 = most popular item) of recommended items.

    An item's percentile is the share of catalogue items (``item_ids``) strictly less popular
    than it; unknown items count 0. A popularity recommender scores near 1. NaN when empty.
    """
    counts = np.asarray(counts, dtype=np.float64)
    flat, found = _counts_of(_top(recommended, k), item_ids, counts)
    if flat.size == 0:
        return float("nan")
    ranked = np.sort(counts)
    below = np.searchsorted(ranked, found, side="left")
    return float(np.mean(below / max(counts.size - 1, 1)))


def intra_list_diversity(
    recommended: np.ndarray,
    item_ids: np.ndarray,
    item_vectors: np.ndarray | scipy.sparse.sparray | scipy.sparse.spmatrix,
    k: int,
) -> float:
    """Mean over users of the mean pairwise cosine distance ``1 - cos`` of their first k items.

    ``item_vectors`` (dense or scipy sparse, e.g. multi-hot genres) has one row per id in
    ``item_ids``. Items without a vector or with a zero vector are skipped; lists with fewer
    than two such items do not count. NaN when no list counts.
    """
    import scipy.sparse as sp

    item_ids = np.asarray(item_ids, dtype=np.int64)
    if isinstance(item_vectors, np.ndarray) or not sp.issparse(item_vectors):
        vectors = np.asarray(item_vectors)
    else:
        vectors = item_vectors.toarray()
    vectors = vectors.astype(np.float64)
    if vectors.ndim != 2 or vectors.shape[0] != item_ids.size:
        raise ValueError(f"{item_ids.size} item ids but item vectors of shape {vectors.shape}")
    if not np.isfinite(vectors).all():
        raise ValueError("item vectors contain NaN or infinite values")
    norms = np.linalg.norm(vectors, axis=1)
    unit = vectors / np.maximum(norms, 1e-12)[:, None]
    order = np.argsort(item_ids)
    sorted_ids = item_ids[order]
    values = []
    for row in _top(recommended, k):
        row = row[row >= 0]
        pos = np.minimum(np.searchsorted(sorted_ids, row), max(sorted_ids.size - 1, 0))
        ok = (sorted_ids[pos] == row) if sorted_ids.size else np.zeros(row.size, bool)
        rows = order[pos[ok]]
        rows = rows[norms[rows] > 0]
        m = rows.size
        if m < 2:
            continue
        sims = unit[rows] @ unit[rows].T
        values.append(float((m * m - sims.sum()) / (m * (m - 1))))
    return float(np.mean(values)) if values else float("nan")
