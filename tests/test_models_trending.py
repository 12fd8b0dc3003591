"""Trending: time-decayed counts over a window, reference time, edge cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from core import columns as c
from models.base import Recommender
from models.errors import NotFittedError
from models.interactions import Interactions
from models.popularity import PopularityRecommender
from models.trending import TrendingConfig, TrendingRecommender

START = pd.Timestamp("2024-01-01", tz="UTC")
CLUSTERS, PER_CLUSTER = 3, 8


def _clustered(seed: int = 0, n_users: int = 90) -> Interactions:
    """Users in 3 taste clusters of 8 items (cluster 0 holds half the users, so popularity
    favours its items); each user plays 5 items of their own cluster."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(1, n_users + 1):
        cluster = 0 if user % 2 else 1 + (user // 2) % 2
        for item in rng.choice(PER_CLUSTER, size=5, replace=False):
            rows.append((user, 1000 + cluster * PER_CLUSTER + int(item), int(rng.integers(0, 720))))
    frame = pd.DataFrame(rows, columns=[c.USER_ID, c.VIDEO_ID, "hours"])
    frame[c.EVENT_TYPE] = "play"
    frame[c.EVENT_TIMESTAMP] = START + pd.to_timedelta(frame.pop("hours"), unit="h")
    return Interactions.from_events(frame)


def _cluster_of_user(users: np.ndarray) -> np.ndarray:
    return np.where(users % 2 == 1, 0, 1 + (users // 2) % 2)


def _in_cluster_share(model: Recommender, k: int = 2) -> float:
    """Share of each user's top-k (unseen) items that belong to the user's own cluster."""
    users = np.arange(1, 91)
    ids, _ = model.recommend(users, k)
    return float(np.mean((ids - 1000) // PER_CLUSTER == _cluster_of_user(users)[:, None]))


def _one_item() -> Interactions:
    frame = pd.DataFrame(
        {c.USER_ID: [1, 2], c.VIDEO_ID: [7, 7], c.EVENT_TYPE: "play", c.EVENT_TIMESTAMP: START}
    )
    return Interactions.from_events(frame)


EMPTY = Interactions(
    sp.csr_matrix((0, 0), dtype=np.float32),
    np.empty(0, np.int64),
    np.empty(0, np.int64),
    np.empty(0, np.float64),
)


def _check_contract(model: Recommender, tmp_path: Path) -> None:
    """Shape, order, seen-exclusion, padding, k checks and the save/load round trip."""
    assert isinstance(model, Recommender)
    inter = model.interactions
    users = np.array([1, 2, 3, 424_242])
    ids, scores = model.recommend(users, 4)
    assert ids.shape == scores.shape == (4, 4)
    assert ids.dtype == np.int64 and scores.dtype == np.float32
    assert np.all(np.diff(scores[:3], axis=1) <= 0)
    for row, seen in zip(ids, inter.seen_items(users), strict=True):
        assert not seen & set(row.tolist())
    big, big_scores = model.recommend(np.array([1]), 1000)
    valid = big[0] >= 0
    catalogue = getattr(model, "item_ids", inter.item_ids)  # content adds unwatched items
    assert 0 < valid.sum() <= catalogue.size - 5 and np.all(valid[: valid.sum()])
    assert np.all(np.isneginf(big_scores[0][~valid]))
    for k in (0, -1):
        with pytest.raises(ValueError, match="k must be a positive integer"):
            model.recommend(users, k)
        with pytest.raises(ValueError, match="k must be a positive integer"):
            model.similar_items(np.array([1000]), k)
    sim, _ = model.similar_items(np.array([1000, 999_999]), 3)
    assert 1000 not in sim[0].tolist() and sim[1].tolist() == [-1, -1, -1]
    model.save(tmp_path / "m")
    loaded = type(model).load(tmp_path / "m")
    assert loaded.config == model.config
    for exclude in (True, False):
        a_ids, a_scores = model.recommend(users, 7, exclude_seen=exclude)
        b_ids, b_scores = loaded.recommend(users, 7, exclude_seen=exclude)
        assert np.array_equal(a_ids, b_ids) and np.array_equal(a_scores, b_scores)
    same = model.similar_items(inter.item_ids, 3)[0] == loaded.similar_items(inter.item_ids, 3)[0]
    assert same.all()


@pytest.fixture(scope="module")
def interactions() -> Interactions:
    return _clustered()


def _timed(rows: list[tuple[int, int, float]]) -> Interactions:
    """Plays from ``(user, video, days after START)`` rows."""
    frame = pd.DataFrame(rows, columns=[c.USER_ID, c.VIDEO_ID, "days"])
    frame[c.EVENT_TYPE] = "play"
    frame[c.EVENT_TIMESTAMP] = START + pd.to_timedelta(frame.pop("days"), unit="D")
    return Interactions.from_events(frame)


def test_contract_and_round_trip(interactions: Interactions, tmp_path: Path) -> None:
    model = TrendingRecommender(TrendingConfig(window_days=10)).fit(interactions)
    _check_contract(model, tmp_path)
    loaded = TrendingRecommender.load(tmp_path / "m")
    assert loaded.reference_time == model.reference_time


def test_recent_items_beat_all_time_favourites() -> None:
    # item 1: 3 users long ago; item 2: 2 users this week; item 3: 1 user this week
    inter = _timed([(1, 1, 0), (2, 1, 1), (3, 1, 2), (4, 2, 98), (5, 2, 99), (6, 3, 100)])
    popular = PopularityRecommender().fit(inter).top_items(3)[0]
    assert popular.tolist() == [1, 2, 3]
    trending = TrendingRecommender(TrendingConfig(window_days=7, half_life_days=None)).fit(inter)
    assert trending.top_items(3)[0].tolist() == [2, 3, 1]  # item 1 only breaks ties
    assert trending.scores[1] == pytest.approx(2.0) and trending.scores[0] < 1e-5
    decayed = TrendingRecommender(TrendingConfig(window_days=7, half_life_days=1)).fit(inter)
    assert decayed.scores[1] == pytest.approx(0.25 + 0.5, rel=1e-5)  # ages 2 and 1 days


def test_explicit_reference_time_ignores_later_events() -> None:
    inter = _timed([(1, 1, 0), (2, 1, 1), (3, 2, 50)])
    model = TrendingRecommender(TrendingConfig(window_days=5, half_life_days=None))
    model.fit(inter, now=(START + pd.Timedelta(days=2)).to_pydatetime())
    assert model.top_items(2)[0].tolist() == [1, 2]
    assert model.scores[1] < 1e-5  # the future play of item 2 does not count


def test_unknown_users_get_the_trending_list(interactions: Interactions) -> None:
    model = TrendingRecommender().fit(interactions)
    ids, _ = model.recommend(np.array([424_242]), 3)
    assert ids[0].tolist() == model.top_items(3)[0].tolist()


def test_single_item_and_empty_interactions() -> None:
    model = TrendingRecommender().fit(_one_item())
    assert model.recommend(np.array([99]), 2)[0].tolist() == [[7, -1]]
    with pytest.raises(ValueError, match="cannot fit the trending model on an empty"):
        TrendingRecommender().fit(EMPTY)


def test_unfitted_and_bad_config() -> None:
    with pytest.raises(NotFittedError, match="trending model is not fitted"):
        TrendingRecommender().top_items(3)
    with pytest.raises(ValueError, match="greater than 0"):
        TrendingConfig(window_days=0)
