"""LightFM WARP hybrid with item and user features: learning, cold items, edge cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import columns as c
from models.base import EmbeddingModel
from models.errors import NotFittedError
from models.interactions import Interactions
from models.lightfm_hybrid import LightFMConfig, LightFMRecommender
from models.popularity import PopularityRecommender
from models.side_info import ItemFeatures, UserFeatures
from tests.conftest import PlantedTastes
from tests.model_contract import (
    EMPTY,
    check_contract,
    one_item,
)

CONFIG = LightFMConfig(components=8, epochs=30, num_threads=1)


#: The shape of the ``model_tastes`` fixture (tests/conftest.py).
CLUSTERS, PER_CLUSTER = 3, 8


def _genres() -> ItemFeatures:
    """Every item's genre is its cluster; items 2000 and 2001 are new (cluster 1, 2)."""
    ids = [1000 + i for i in range(CLUSTERS * PER_CLUSTER)] + [2000, 2001]
    genres = [[f"g{i // PER_CLUSTER}"] for i in range(CLUSTERS * PER_CLUSTER)] + [["g1"], ["g2"]]
    return ItemFeatures.from_metadata(pd.DataFrame({c.VIDEO_ID: ids, "genres": genres}))


@pytest.fixture(scope="module")
def interactions(model_tastes: PlantedTastes) -> Interactions:
    return model_tastes.interactions()


@pytest.fixture(scope="module")
def model(interactions: Interactions) -> LightFMRecommender:
    return LightFMRecommender(CONFIG).fit(interactions, item_features=_genres())


def test_contract_and_round_trip(model: LightFMRecommender, tmp_path: Path) -> None:
    check_contract(model, tmp_path)
    loaded = LightFMRecommender.load(tmp_path / "m")
    new = np.array([2000, 1000])
    assert np.array_equal(
        loaded.vectors_for_items(new, _genres()), model.vectors_for_items(new, _genres())
    )


def test_learns_the_planted_clusters_better_than_popularity(
    model_tastes: PlantedTastes, model: LightFMRecommender, interactions: Interactions
) -> None:
    popularity = model_tastes.in_cluster_share(PopularityRecommender().fit(interactions))
    assert model_tastes.in_cluster_share(model) > 0.9 and popularity < 0.7


def test_new_items_are_scored_from_their_features(model: LightFMRecommender) -> None:
    vectors = model.vectors_for_items(np.array([2000, 2001]), _genres())
    users = np.array([2, 4])  # clusters 2 and 1
    user_vectors, _ = model.user_vectors(users)
    scores = user_vectors @ vectors.T
    assert scores[0, 1] > scores[0, 0] and scores[1, 0] > scores[1, 1]
    with pytest.raises(ValueError, match="differ from those the model was fitted with"):
        other = pd.DataFrame({c.VIDEO_ID: [2000], "genres": [["western"]]})
        model.vectors_for_items(np.array([2000]), ItemFeatures.from_metadata(other))


def test_user_features_and_no_side_features(
    model_tastes: PlantedTastes, interactions: Interactions
) -> None:
    items = _genres()
    users = UserFeatures.from_interactions(interactions, items)
    hybrid = LightFMRecommender(CONFIG).fit(interactions, item_features=items, user_features=users)
    assert model_tastes.in_cluster_share(hybrid) > 0.9
    pure = LightFMRecommender(CONFIG).fit(interactions)
    assert isinstance(pure, EmbeddingModel) and model_tastes.in_cluster_share(pure) > 0.9


def test_single_threaded_fits_are_reproducible(interactions: Interactions) -> None:
    assert LightFMConfig().num_threads == 1, "the default repeats exactly for a seed"
    quick = CONFIG.model_copy(update={"epochs": 2})
    a = LightFMRecommender(quick).fit(interactions, item_features=_genres())
    b = LightFMRecommender(quick).fit(interactions, item_features=_genres())
    assert np.array_equal(a.item_vectors, b.item_vectors)


def test_single_item_and_empty_interactions_are_refused() -> None:
    for bad in (one_item(), EMPTY):
        with pytest.raises(ValueError, match="LightFM WARP needs at least 2 items"):
            LightFMRecommender(CONFIG).fit(bad)


def test_unfitted() -> None:
    with pytest.raises(NotFittedError, match="LightFM model is not fitted"):
        LightFMRecommender().recommend(np.array([1]), 3)
