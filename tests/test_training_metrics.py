"""Ranking metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from training.metrics import (
    evaluate_ranking,
    hit_rate_at_k,
    hits,
    map_at_k,
    map_per_user,
    ndcg_at_k,
    ndcg_per_user,
    precision_at_k,
    recall_at_k,
)

# user 0: relevant {1, 3, 9} (9 is never recommended); hits at ranks 1 and 3.
# user 1: relevant {7}, fewer relevant items than k; hit at rank 2.
# user 2: relevant {} -> not scored.
# user 3: relevant {4, 5}; no hits; padding -1 must never count.
RECS = np.array(
    [
        [1, 2, 3, 4],
        [6, 7, 8, -1],
        [1, 2, 3, 4],
        [1, 2, -1, -1],
    ]
)
RELEVANT = [{1, 3, 9}, {7}, set(), {4, 5}]
K = 3


def test_hits_marks_relevant_ranks_and_ignores_padding() -> None:
    found = hits(RECS, [{1, 3}, {7, -1}, set(), {-1}], K)
    assert found.tolist() == [
        [True, False, True],
        [False, True, False],
        [False, False, False],
        [False, False, False],
    ]


def test_precision_recall_hit_rate_by_hand() -> None:
    # per user (scored users 0, 1, 3): precision 2/3, 1/3, 0; recall 2/3, 1/1, 0/2
    assert precision_at_k(RECS, RELEVANT, K) == pytest.approx((2 / 3 + 1 / 3 + 0) / 3)
    assert recall_at_k(RECS, RELEVANT, K) == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert hit_rate_at_k(RECS, RELEVANT, K) == pytest.approx(2 / 3)


def test_ndcg_by_hand() -> None:
    user0 = (1 + 1 / math.log2(4)) / (
        1 + 1 / math.log2(3) + 1 / math.log2(4)
    )  # 3 relevant, ideal 3 ranks
    user1 = (1 / math.log2(3)) / 1.0  # 1 relevant: ideal DCG is 1
    per_user = ndcg_per_user(RECS, RELEVANT, K)
    assert per_user[:2] == pytest.approx([user0, user1])
    assert np.isnan(per_user[2])
    assert per_user[3] == 0.0
    assert ndcg_at_k(RECS, RELEVANT, K) == pytest.approx((user0 + user1 + 0) / 3)


def test_ndcg_is_one_for_a_perfect_ranking_shorter_than_k() -> None:
    assert ndcg_at_k(np.array([[5, 6, 1, 2]]), [{5, 6}], 4) == pytest.approx(1.0)


def test_map_by_hand() -> None:
    user0 = (1 / 1 + 2 / 3) / 3  # min(|rel|=3, k=3)
    user1 = (1 / 2) / 1  # min(|rel|=1, k)
    per_user = map_per_user(RECS, RELEVANT, K)
    assert per_user[[0, 1, 3]] == pytest.approx([user0, user1, 0.0])
    assert map_at_k(RECS, RELEVANT, K) == pytest.approx((user0 + user1) / 3)


def test_evaluate_ranking_names_every_metric_with_k() -> None:
    result = evaluate_ranking(RECS, RELEVANT, K)
    assert set(result) == {
        "ndcg_at_3",
        "precision_at_3",
        "recall_at_3",
        "map_at_3",
        "hit_rate_at_3",
    }
    assert result["ndcg_at_3"] == ndcg_at_k(RECS, RELEVANT, K)


def test_users_without_relevant_items_only_is_an_error() -> None:
    with pytest.raises(ValueError, match="no user has a relevant item"):
        ndcg_at_k(np.array([[1, 2]]), [set()], 2)


@pytest.mark.parametrize(
    ("recs", "relevant", "k", "message"),
    [
        (np.array([[1, 2]]), [{1}], 0, "k must be a positive integer"),
        (np.array([[1, 2]]), [{1}], 3, "fewer than k=3"),
        (np.array([[1, 2]]), [{1}, {2}], 1, "1 rows but relevant has 2 users"),
        (np.array([1, 2]), [{1}], 1, "must be 2-d"),
    ],
)
def test_bad_arguments_are_explained(
    recs: np.ndarray, relevant: list[set[int]], k: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ndcg_at_k(recs, relevant, k)
