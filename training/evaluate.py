"""Offline evaluation: what each test user went on to watch, and how well a model ranked it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from core import columns as c
from core.errors import DatasetError
from models.interactions import DEFAULT_POSITIVE_TYPES, Interactions
from training.metrics import evaluate_ranking

if TYPE_CHECKING:
    import pandas as pd

#: ``(user_ids, k) -> (item ids (n, k), scores (n, k))``: a model or pipeline's recommend.
RecommendFn = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Holdout:
    """Test users, the items each one newly interacted with, and who is a cold-start user."""

    user_ids: np.ndarray
    relevant: list[set[int]]
    cold_start: np.ndarray

    @property
    def n_users(self) -> int:
        """Number of test users."""
        return int(self.user_ids.size)


def build_holdout(
    train: Interactions,
    test_events: pd.DataFrame,
    positive_types: Iterable[str] = DEFAULT_POSITIVE_TYPES,
) -> Holdout:
    """Positive test events per user, minus items the user already had in training.

    Users left with nothing new are dropped; users absent from ``train`` are cold-start.
    """
    positives = test_events[test_events[c.EVENT_TYPE].isin([str(t) for t in positive_types])]
    grouped = positives.groupby(c.USER_ID)[c.VIDEO_ID].agg(lambda s: set(s.astype(int)))
    user_ids = grouped.index.to_numpy(dtype=np.int64)
    seen = train.seen_items(user_ids)
    relevant = [items - old for items, old in zip(grouped.tolist(), seen, strict=True)]
    keep = np.fromiter((bool(items) for items in relevant), dtype=bool, count=len(relevant))
    if not keep.any():
        raise DatasetError(
            "no test user interacted with anything new after the split: nothing to evaluate"
        )
    users = user_ids[keep]
    return Holdout(
        users,
        [items for items, k in zip(relevant, keep, strict=True) if k],
        train.user_index(users) < 0,
    )


def evaluate(recommend: RecommendFn, test: Holdout, k: int) -> dict[str, float]:
    """Every ranking metric at ``k`` of ``recommend`` on the test users."""
    ids, _ = recommend(test.user_ids, k)
    return evaluate_ranking(ids, test.relevant, k)


#: Cut-offs every training run reports.
DEFAULT_KS: tuple[int, ...] = (1, 5, 10, 20)


def item_popularity(train: Interactions) -> tuple[np.ndarray, np.ndarray]:
    """Training users per item: ``(item_ids, counts)``."""
    counts = np.bincount(train.matrix.indices, minlength=train.n_items).astype(np.float64)
    return train.item_ids, counts


def evaluate_at(
    recommend: RecommendFn,
    test: Holdout,
    train: Interactions,
    ks: Iterable[int] = DEFAULT_KS,
    genre_vectors: tuple[np.ndarray, object] | None = None,
) -> dict[str, float]:
    """Accuracy metrics at every k (one recommend call at the largest k), plus catalogue
    coverage, novelty, popularity bias and, given ``(item_ids, vectors)``, intra-list
    diversity at each k (names like ``ndcg_at_10``, ``coverage_at_10``)."""
    ks = _cut_offs(ks)
    ids, _ = recommend(test.user_ids, ks[-1])
    return evaluate_ids(ids, test, train, ks, genre_vectors)


def _cut_offs(ks: Iterable[int]) -> list[int]:
    """``ks`` sorted without repeats; ``ValueError`` unless every one is positive."""
    ks = sorted(set(ks))
    if not ks or ks[0] <= 0:
        raise ValueError(f"ks must be positive cut-offs, not {ks}")
    return ks


def evaluate_ids(
    ids: np.ndarray,
    test: Holdout,
    train: Interactions,
    ks: Iterable[int] = DEFAULT_KS,
    genre_vectors: tuple[np.ndarray, object] | None = None,
) -> dict[str, float]:
    """``evaluate_at`` for lists already recommended: ``ids`` has a row per test user, at
    least the largest k deep."""
    from training.metrics import (
        catalogue_coverage,
        intra_list_diversity,
        novelty,
        popularity_bias,
    )

    ks = _cut_offs(ks)
    item_ids, counts = item_popularity(train)
    out: dict[str, float] = {}
    for k in ks:
        out |= evaluate_ranking(ids, test.relevant, k)
        out[f"coverage_at_{k}"] = catalogue_coverage(ids, train.n_items, k)
        out[f"novelty_at_{k}"] = novelty(ids, item_ids, counts, train.n_users, k)
        out[f"popularity_bias_at_{k}"] = popularity_bias(ids, item_ids, counts, k)
        if genre_vectors is not None:
            vec_ids, vectors = genre_vectors
            out[f"diversity_at_{k}"] = intra_list_diversity(ids, vec_ids, vectors, k)
    return out
