"""The LightGBM lambdarank ranker: it learns NDCG from candidate lists, padding and all."""

from __future__ import annotations

import numpy as np
import pytest

from models.base import PAD_ID
from models.lambdarank import LambdaRankConfig, LambdaRanker
from training.metrics import ndcg_at_k

FAST_TREES = LambdaRankConfig(
    n_estimators=40, learning_rate=0.05, num_leaves=15, min_child_samples=10, reg_lambda=0.0
)


def _lists(n: int, seed: int, width: int = 30) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lists of ``width`` candidates, up to 3 relevant each, the last few padding; column 0
    is noise, column 1 is higher for relevant items (noisily), column 2 is constant."""
    rng = np.random.default_rng(seed)
    labels = rng.random((n, width)) < 3 / width
    valid = np.ones((n, width), dtype=bool)
    valid[:, width - rng.integers(0, 5) :] = False
    labels &= valid
    features = np.stack(
        [
            rng.normal(size=(n, width)),
            rng.normal(size=(n, width)) + 1.5 * labels,
            np.ones((n, width)),
        ],
        axis=2,
    ).astype(np.float32)
    features[~valid] = 0.0
    return features, labels, valid


def _ndcg(scores: np.ndarray, labels: np.ndarray, valid: np.ndarray) -> float:
    ids = np.where(valid, np.arange(labels.shape[1]), PAD_ID)
    order = np.argsort(-np.where(valid, scores, -np.inf), axis=1, kind="stable")
    ranked = np.take_along_axis(ids, order, axis=1)
    relevant = [set(np.flatnonzero(row).tolist()) for row in labels]
    keep = [i for i, r in enumerate(relevant) if r]
    return ndcg_at_k(ranked[keep], [relevant[i] for i in keep], 10)


def test_lambdarank_beats_random_order_on_unseen_lists() -> None:
    features, labels, valid = _lists(300, seed=0)
    ranker = LambdaRanker(FAST_TREES).fit(features, labels, valid)
    test_x, test_y, test_valid = _lists(300, seed=1)
    learnt = _ndcg(ranker.score(test_x, test_valid), test_y, test_valid)
    random = _ndcg(np.random.default_rng(2).random(test_y.shape), test_y, test_valid)
    oracle = _ndcg(test_x[:, :, 1], test_y, test_valid)  # the signal column itself
    assert learnt > random + 0.2
    assert learnt > 0.9 * oracle


def test_lists_that_teach_nothing_are_skipped() -> None:
    features, labels, valid = _lists(80, seed=3)
    labels[:40] = False  # no relevant item: skipped, not a group of negatives
    labels[40:50] = valid[40:50]  # all relevant: skipped
    ranker = LambdaRanker(FAST_TREES).fit(features, labels, valid)
    assert ranker.score(features, valid).shape == labels.shape
    with pytest.raises(ValueError, match="nothing to learn"):
        LambdaRanker(FAST_TREES).fit(features[:50], labels[:50], valid[:50])


def test_the_config_is_typed_and_single_threaded_by_default() -> None:
    config = LambdaRankConfig()
    assert config.kind == "lambdarank" and config.num_threads == 1
    assert config.flat("ranker")["ranker.n_estimators"] == config.n_estimators
    with pytest.raises(ValueError, match="greater than 1"):
        LambdaRankConfig(num_leaves=1)
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        LambdaRankConfig(early_stopping_rounds=10)  # type: ignore[call-arg]
