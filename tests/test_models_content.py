"""Content-based recommendations from item features: profiles, cold items, edge cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import columns as c
from models.content import ContentConfig, ContentRecommender
from models.errors import NotFittedError
from models.interactions import Interactions
from models.popularity import PopularityRecommender
from models.side_info import ItemFeatures
from tests.conftest import PlantedTastes
from tests.model_contract import (
    EMPTY,
    START,
    check_contract,
    one_item,
)

#: The shape of the ``model_tastes`` fixture (tests/conftest.py).
CLUSTERS, PER_CLUSTER = 3, 8


def _features(extra: bool = True) -> ItemFeatures:
    """Genre = cluster for the 24 played items; 2000-2002 are new items nobody played."""
    ids = [1000 + i for i in range(CLUSTERS * PER_CLUSTER)]
    genres = [[f"g{i // PER_CLUSTER}"] for i in range(CLUSTERS * PER_CLUSTER)]
    if extra:
        ids += [2000, 2001, 2002]
        genres += [["g0"], ["g1"], ["g2"]]
    return ItemFeatures.from_metadata(pd.DataFrame({c.VIDEO_ID: ids, "genres": genres}))


@pytest.fixture(scope="module")
def interactions(model_tastes: PlantedTastes) -> Interactions:
    return model_tastes.interactions()


@pytest.fixture(scope="module")
def model(interactions: Interactions) -> ContentRecommender:
    return ContentRecommender().fit(interactions, item_features=_features())


def test_contract_and_round_trip(model: ContentRecommender, tmp_path: Path) -> None:
    check_contract(model, tmp_path)
    loaded = ContentRecommender.load(tmp_path / "m")
    assert np.array_equal(loaded.item_ids, model.item_ids)


def test_recommends_the_users_genre_including_new_items(
    model_tastes: PlantedTastes, model: ContentRecommender, interactions: Interactions
) -> None:
    popularity = model_tastes.in_cluster_share(PopularityRecommender().fit(interactions))
    played_only = ContentRecommender().fit(interactions, item_features=_features(extra=False))
    assert model_tastes.in_cluster_share(played_only) == 1.0 and popularity < 0.7
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
    single = ContentRecommender().fit(one_item(), item_features=_features())
    assert single.recommend(np.array([1]), 1)[0].tolist() == [[-1]]  # item 7 has no features
    with pytest.raises(NotFittedError, match="content model is not fitted"):
        ContentRecommender().similar_items(np.array([1]), 3)
