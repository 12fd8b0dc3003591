"""Ranking metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from training.metrics import (
    catalogue_coverage,
    evaluate_ranking,
    hit_rate_at_k,
    hits,
    intra_list_diversity,
    map_at_k,
    map_per_user,
    mrr_at_k,
    ndcg_at_k,
    ndcg_per_user,
    novelty,
    popularity_bias,
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
        "mrr_at_3",
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


def test_mrr_by_hand() -> None:
    # user 0: first hit at rank 1; user 1: rank 2; user 3: none
    assert mrr_at_k(RECS, RELEVANT, K) == pytest.approx((1 + 1 / 2 + 0) / 3)


def test_coverage_counts_distinct_recommended_items() -> None:
    # first 3 columns: {1, 2, 3, 6, 7, 8} (padding ignored) of a 12-item catalogue
    assert catalogue_coverage(RECS, 12, 3) == pytest.approx(6 / 12)
    with pytest.raises(ValueError, match="n_items must be positive"):
        catalogue_coverage(RECS, 0, 3)


ITEMS = np.array([1, 2, 3, 4])
COUNTS = np.array([8.0, 4.0, 2.0, 1.0])  # users per item, out of 8 users


def test_novelty_is_mean_self_information() -> None:
    recs = np.array([[1, 2], [3, -1]])
    expected = (-math.log2(8 / 8) - math.log2(4 / 8) - math.log2(2 / 8)) / 3
    assert novelty(recs, ITEMS, COUNTS, 8, 2) == pytest.approx(expected)
    # an item nobody watched counts as one user
    assert novelty(np.array([[99]]), ITEMS, COUNTS, 8, 1) == pytest.approx(3.0)


def test_popularity_bias_is_mean_percentile() -> None:
    # percentiles: item 1 -> 3/3, item 2 -> 2/3, item 4 -> 0
    recs = np.array([[1, 2], [4, -1]])
    assert popularity_bias(recs, ITEMS, COUNTS, 2) == pytest.approx((1 + 2 / 3 + 0) / 3)
    assert math.isnan(popularity_bias(np.array([[-1]]), ITEMS, COUNTS, 1))
    with pytest.raises(ValueError, match="4 item ids but 3 popularity counts"):
        popularity_bias(recs, ITEMS, COUNTS[:3], 2)


def test_intra_list_diversity_by_hand() -> None:
    # genres: 1 = {a}, 2 = {a}, 3 = {b}, 4 = {a, b}
    vectors = np.array([[1, 0], [1, 0], [0, 1], [1, 1]], dtype=float)
    # list [1, 2, 3]: distances 0 (1-2), 1 (1-3), 1 (2-3) -> 2/3; list [3, 4]: 1 - 1/sqrt2
    recs = np.array([[1, 2, 3], [3, 4, -1]])
    expected = (2 / 3 + (1 - 1 / math.sqrt(2))) / 2
    assert intra_list_diversity(recs, ITEMS, vectors, 3) == pytest.approx(expected)
    # lists with fewer than two known items do not count
    assert math.isnan(intra_list_diversity(np.array([[1, 99]]), ITEMS, vectors, 2))
    bad = vectors.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        intra_list_diversity(recs, ITEMS, bad, 3)
