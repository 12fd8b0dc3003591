"""Top-k ranking metrics with binary relevance, as pure functions over arrays.

``recommended`` is an int array ``(n_users, >= k)`` of item ids, best first, padded with -1;
``relevant`` holds one collection of relevant item ids per row. Each ``*_per_user`` function
returns one value per user, NaN for users with no relevant item; each ``*_at_k`` function is
the mean over users that have at least one relevant item (the others cannot be scored).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

import numpy as np

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
    sizes = _sizes(relevant)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (hits(recommended, relevant, k) * discounts).sum(axis=1)
    ideal_len = np.minimum(sizes, k).astype(int)
    idcg = np.concatenate([[0.0], np.cumsum(discounts)])[ideal_len]
    return _per_user(dcg / np.maximum(idcg, 1e-12), sizes)


def map_per_user(recommended: np.ndarray, relevant: Relevant, k: int) -> np.ndarray:
    """Average precision at k: mean of precision@i at each relevant rank i <= k,
    divided by ``min(number of relevant items, k)``."""
    sizes = _sizes(relevant)
    found = hits(recommended, relevant, k)
    precision_at_i = np.cumsum(found, axis=1) / np.arange(1, k + 1)
    total = (precision_at_i * found).sum(axis=1)
    return _per_user(total / np.maximum(np.minimum(sizes, k), 1), sizes)


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


#: Every metric by the name it is logged under (``<name>_at_<k>``).
METRICS: dict[str, Callable[[np.ndarray, Relevant, int], float]] = {
    "ndcg": ndcg_at_k,
    "precision": precision_at_k,
    "recall": recall_at_k,
    "map": map_at_k,
    "hit_rate": hit_rate_at_k,
}


def evaluate_ranking(recommended: np.ndarray, relevant: Relevant, k: int) -> dict[str, float]:
    """Every metric in ``METRICS`` as ``{"ndcg_at_10": ..., ...}``."""
    return {f"{name}_at_{k}": fn(recommended, relevant, k) for name, fn in METRICS.items()}
