"""Behaviour every recommender shares, and what is particular to popularity and ALS."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import columns as c
from models.als import ALSConfig, ALSRecommender
from models.base import Recommender
from models.errors import ModelFormatError, NotFittedError
from models.interactions import Interactions
from models.popularity import PopularityConfig, PopularityRecommender
from tests.conftest import PlantedFactory

START = pd.Timestamp("2024-01-01", tz="UTC")
N_ITEMS = 24


def _make(kind: str) -> Recommender:
    if kind == "popularity":
        return PopularityRecommender()
    return ALSRecommender(ALSConfig(factors=8, iterations=10, regularization=0.05, alpha=10.0))


KINDS = ["popularity", "als"]


@pytest.fixture(scope="module")
def interactions(planted: PlantedFactory) -> Interactions:
    """60 users in 3 taste clusters of 8 items (user % 3); each plays 5 items of their own."""
    return planted(
        60,
        n_cold=0,
        n_clusters=3,
        items_per_cluster=8,
        plays=5,
        own_share=1.0,
        impressions=0,
        days=30.0,
        first_item=1000,
    ).interactions()


@pytest.fixture(scope="module", params=KINDS)
def fitted(request: pytest.FixtureRequest, interactions: Interactions) -> Recommender:
    return _make(request.param).fit(interactions)


def test_models_implement_the_protocol(fitted: Recommender) -> None:
    assert isinstance(fitted, Recommender)


def test_recommend_shape_dtype_and_order(fitted: Recommender) -> None:
    users = np.array([1, 2, 3])
    ids, scores = fitted.recommend(users, 4)
    assert ids.shape == scores.shape == (3, 4)
    assert ids.dtype == np.int64 and scores.dtype == np.float32
    assert np.all(np.diff(scores, axis=1) <= 0)
    assert set(ids.ravel()) <= set(fitted.interactions.item_ids.tolist())


def test_exclude_seen(fitted: Recommender, interactions: Interactions) -> None:
    users = np.array([1, 2, 3, 4])
    ids, _ = fitted.recommend(users, 10, exclude_seen=True)
    for row, seen in zip(ids, interactions.seen_items(users), strict=True):
        assert not seen & set(row.tolist())
    ids_all, _ = fitted.recommend(users, N_ITEMS, exclude_seen=False)
    assert all(
        seen <= set(row.tolist())
        for row, seen in zip(ids_all, interactions.seen_items(users), strict=True)
    )


def test_k_larger_than_the_catalogue_is_padded(fitted: Recommender) -> None:
    ids, scores = fitted.recommend(np.array([1]), N_ITEMS + 6)
    valid = ids[0] >= 0
    assert valid.sum() == N_ITEMS - 5  # the user's 5 seen items are excluded
    assert np.all(ids[0][~valid] == -1) and np.all(np.isneginf(scores[0][~valid]))
    assert np.all(valid[: valid.sum()])  # padding only at the end


@pytest.mark.parametrize("k", [0, -3])
def test_non_positive_k_is_refused(fitted: Recommender, k: int) -> None:
    with pytest.raises(ValueError, match="k must be a positive integer"):
        fitted.recommend(np.array([1]), k)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        fitted.similar_items(np.array([1000]), k)


def test_unknown_users(interactions: Interactions) -> None:
    inter = interactions
    pop_ids, _ = PopularityRecommender().fit(inter).recommend(np.array([99_999]), 3)
    assert np.all(pop_ids >= 0)  # popularity serves everyone
    als_ids, als_scores = _make("als").fit(inter).recommend(np.array([99_999, 1]), 3)
    assert als_ids[0].tolist() == [-1, -1, -1] and np.all(np.isneginf(als_scores[0]))
    assert np.all(als_ids[1] >= 0)


def test_similar_items(fitted: Recommender) -> None:
    ids, _ = fitted.similar_items(np.array([1000, 424242]), 3)
    assert 1000 not in ids[0].tolist() and np.all(ids[0] >= 0)
    assert ids[1].tolist() == [-1, -1, -1]


def test_als_learns_the_planted_clusters(interactions: Interactions) -> None:
    model = ALSRecommender(
        ALSConfig(factors=8, iterations=10, regularization=0.05, alpha=10.0)
    ).fit(interactions)
    users = np.arange(1, 61)
    ids, _ = model.recommend(users, 2)  # each user has 3 unseen items of their own cluster
    clusters = (ids - 1000) // 8
    assert np.mean(clusters == (users % 3)[:, None]) > 0.95
    items = interactions.item_ids
    similar, _ = model.similar_items(items, 2)  # mostly neighbours of the item's own cluster
    assert np.mean((similar - 1000) // 8 == ((items - 1000) // 8)[:, None]) > 0.8


def test_als_is_deterministic(interactions: Interactions) -> None:
    a = ALSRecommender(ALSConfig(factors=8, iterations=5, regularization=0.05, alpha=10.0)).fit(
        interactions
    )
    b = ALSRecommender(ALSConfig(factors=8, iterations=5, regularization=0.05, alpha=10.0)).fit(
        interactions
    )
    assert np.array_equal(a.item_vectors, b.item_vectors)


def test_popularity_counts_users_and_decays_old_activity() -> None:
    frame = pd.DataFrame(
        {
            c.USER_ID: [1, 2, 3, 4],
            c.VIDEO_ID: [10, 10, 20, 20],
            c.EVENT_TYPE: "play",
            c.EVENT_TIMESTAMP: [START, START, START + pd.Timedelta(days=20), START],
        }
    )
    inter = Interactions.from_events(frame)
    assert PopularityRecommender().fit(inter).scores.tolist() == [2.0, 2.0]
    decayed = PopularityRecommender(PopularityConfig(half_life_days=10)).fit(inter)
    # item 10: two plays 20 days (two half-lives) old; item 20: one fresh, one 20 days old
    assert decayed.scores == pytest.approx([0.5, 1.25])
    assert decayed.top_items(5)[0].tolist() == [20, 10]


@pytest.mark.parametrize("kind", KINDS)
def test_save_load_round_trip(kind: str, interactions: Interactions, tmp_path: Path) -> None:
    model = _make(kind).fit(interactions)
    model.save(tmp_path / kind)
    loaded = type(model).load(tmp_path / kind)
    assert loaded.config == model.config
    users = np.array([1, 5, 9, 77_777])
    for exclude in (True, False):
        expected, expected_scores = model.recommend(users, 7, exclude_seen=exclude)
        got, got_scores = loaded.recommend(users, 7, exclude_seen=exclude)
        assert np.array_equal(expected, got)
        assert np.array_equal(expected_scores, got_scores)


def test_load_refuses_another_kind_or_an_empty_directory(
    interactions: Interactions, tmp_path: Path
) -> None:
    PopularityRecommender().fit(interactions).save(tmp_path / "pop")
    with pytest.raises(ModelFormatError, match="holds a 'popularity' model, not a 'als' model"):
        ALSRecommender.load(tmp_path / "pop")
    with pytest.raises(ModelFormatError, match="not a saved model directory"):
        ALSRecommender.load(tmp_path / "nothing")


@pytest.mark.parametrize("kind", KINDS)
def test_unfitted_models_say_so(kind: str) -> None:
    with pytest.raises(NotFittedError, match="not fitted: call fit"):
        _make(kind).recommend(np.array([1]), 3)


def test_configs_refuse_unknown_and_invalid_fields() -> None:
    with pytest.raises(ValueError, match="factor"):
        ALSConfig(factor=3)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="greater than 0"):
        PopularityConfig(half_life_days=0)
    assert ALSConfig().flat("als")["als.factors"] == 256


def test_top_k_breaks_ties_by_column_whatever_k() -> None:
    """A model's top 3 is the start of its top 6 even when scores tie (the cold-start source
    and the pipeline's candidate lists must agree)."""
    from models.base import top_k

    rng = np.random.default_rng(0)
    scores = rng.integers(0, 3, size=(50, 40)).astype(np.float32)
    scores[0, :] = np.nan  # no finite score: all padding
    items = np.arange(100, 140)
    short, _ = top_k(scores, 3, items)
    long, long_scores = top_k(scores, 6, items)
    np.testing.assert_array_equal(short, long[:, :3])
    assert (short[0] == -1).all()
    for row in range(1, 50):
        expected = sorted(range(40), key=lambda j: (-scores[row, j], j))[:6]
        np.testing.assert_array_equal(long[row], items[expected])
        assert (np.diff(long_scores[row]) <= 0).all()
