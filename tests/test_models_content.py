"""Content-based recommendations from item features: profiles, cold items, edge cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from core import columns as c
from models.base import Recommender
from models.content import ContentConfig, ContentRecommender
from models.errors import NotFittedError
from models.interactions import Interactions
from models.popularity import PopularityRecommender
from models.side_info import ItemFeatures

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


def _features(extra: bool = True) -> ItemFeatures:
    """Genre = cluster for the 24 played items; 2000-2002 are new items nobody played."""
    ids = [1000 + i for i in range(CLUSTERS * PER_CLUSTER)]
    genres = [[f"g{i // PER_CLUSTER}"] for i in range(CLUSTERS * PER_CLUSTER)]
    if extra:
        ids += [2000, 2001, 2002]
        genres += [["g0"], ["g1"], ["g2"]]
    return ItemFeatures.from_metadata(pd.DataFrame({c.VIDEO_ID: ids, "genres": genres}))


@pytest.fixture(scope="module")
def interactions() -> Interactions:
    return _clustered()


@pytest.fixture(scope="module")
def model(interactions: Interactions) -> ContentRecommender:
    return ContentRecommender().fit(interactions, item_features=_features())


def test_contract_and_round_trip(model: ContentRecommender, tmp_path: Path) -> None:
    _check_contract(model, tmp_path)
    loaded = ContentRecommender.load(tmp_path / "m")
    assert np.array_equal(loaded.item_ids, model.item_ids)


def test_recommends_the_users_genre_including_new_items(
    model: ContentRecommender, interactions: Interactions
) -> None:
    popularity = _in_cluster_share(PopularityRecommender().fit(interactions))
    played_only = ContentRecommender().fit(interactions, item_features=_features(extra=False))
    assert _in_cluster_share(played_only) == 1.0 and popularity < 0.7
    ids, scores = model.recommend(np.array([2]), 4)  # cluster 2: 3 unseen old items + 2002
    assert 2002 in ids[0].tolist() and scores[0] == pytest.approx([1.0] * 4)


def test_similar_items_work_for_cold_items(model: ContentRecommender) -> None:
    ids, scores = model.similar_items(np.array([2001, 5555]), 3)
    assert np.all((ids[0] - 1000) // PER_CLUSTER == 1) and scores[0] == pytest.approx([1.0] * 3)
    assert ids[1].tolist() == [-1, -1, -1]
    picks, _ = model.recommend_for_items([np.array([2000]), np.array([])], 2)
    assert np.all((picks[0] - 1000) // PER_CLUSTER == 0) and picks[1].tolist() == [-1, -1]


def test_profiles_are_weighted_means(interactions: Interactions) -> None:
    frame = pd.DataFrame(
        {
            c.USER_ID: [1, 1, 1],
            c.VIDEO_ID: [1000, 1001, 1008],
            c.EVENT_TYPE: "play",
            c.EVENT_TIMESTAMP: [START, START, START + pd.Timedelta(days=30)],
        }
    )
    inter = Interactions.from_events(frame)
    plain = ContentRecommender().fit(inter, item_features=_features())
    assert plain.recommend(np.array([1]), 1)[0][0][0] < 1008  # two g0 items outweigh one g1
    recent = ContentRecommender(ContentConfig(half_life_days=5)).fit(inter, _features())
    assert 1008 <= recent.recommend(np.array([1]), 1)[0][0][0] < 1016  # the recent g1 wins


def test_unknown_users_and_items_without_features(interactions: Interactions) -> None:
    partial = ItemFeatures.from_metadata(
        pd.DataFrame({c.VIDEO_ID: [1000, 1001], "genres": [["g0"], ["g0"]]})
    )
    model = ContentRecommender().fit(interactions, item_features=partial)
    ids, _ = model.recommend(np.array([2, 424_242, 1]), 3)
    assert ids[0].tolist() == ids[1].tolist() == [-1, -1, -1]  # no featured items / unknown
    assert set(ids[2].tolist()) <= {1000, 1001, -1}


def test_bad_inputs_are_explained(interactions: Interactions) -> None:
    with pytest.raises(ValueError, match="needs item_features"):
        ContentRecommender().fit(interactions)
    empty = ItemFeatures.from_metadata(pd.DataFrame({c.VIDEO_ID: [1000]}))
    with pytest.raises(ValueError, match="the item features are empty"):
        ContentRecommender().fit(interactions, item_features=empty)
    with pytest.raises(ValueError, match="cannot fit the content model on an empty"):
        ContentRecommender().fit(EMPTY, item_features=_features())
    single = ContentRecommender().fit(_one_item(), item_features=_features())
    assert single.recommend(np.array([1]), 1)[0].tolist() == [[-1]]  # item 7 has no features
    with pytest.raises(NotFittedError, match="content model is not fitted"):
        ContentRecommender().similar_items(np.array([1]), 3)
