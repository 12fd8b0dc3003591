"""Item-KNN over cosine / BM25 / TF-IDF co-occurrence: learning, pruning, edge cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import columns as c
from models.errors import NotFittedError
from models.interactions import Interactions
from models.itemknn import ItemKNNConfig, ItemKNNRecommender
from models.popularity import PopularityRecommender
from tests.conftest import PlantedTastes
from tests.model_contract import (
    EMPTY,
    START,
    check_contract,
    one_item,
)


@pytest.fixture(scope="module")
def interactions(model_tastes: PlantedTastes) -> Interactions:
    return model_tastes.interactions()


@pytest.mark.parametrize("similarity", ["cosine", "bm25", "tfidf"])
def test_contract_and_learning(
    model_tastes: PlantedTastes, similarity: str, interactions: Interactions, tmp_path: Path
) -> None:
    model = ItemKNNRecommender(ItemKNNConfig(similarity=similarity, neighbours=10))
    model.fit(interactions)
    check_contract(model, tmp_path)
    popularity = model_tastes.in_cluster_share(PopularityRecommender().fit(interactions))
    assert model_tastes.in_cluster_share(model) > 0.95 and popularity < 0.7


def test_neighbourhood_size_prunes_the_similarity(interactions: Interactions) -> None:
    model = ItemKNNRecommender(ItemKNNConfig(similarity="cosine", neighbours=3))
    model.fit(interactions)
    per_item = np.diff(model.similarity.indptr)
    assert per_item.max() <= 3 and np.all(model.similarity.diagonal() == 0)
    ids, _ = model.similar_items(np.array([1000]), 5)
    assert np.all(ids[0][:3] // 1 < 1008) and ids[0][3:].tolist() == [-1, -1]


def test_cosine_similarity_of_co_occurrence() -> None:
    frame = pd.DataFrame(
        {
            c.USER_ID: [1, 1, 2, 2, 3],
            c.VIDEO_ID: [10, 20, 10, 20, 30],
            c.EVENT_TYPE: "play",
            c.EVENT_TIMESTAMP: START,
        }
    )
    model = ItemKNNRecommender(ItemKNNConfig(similarity="cosine")).fit(
        Interactions.from_events(frame)
    )
    assert np.allclose(model.similarity.toarray(), [[0, 1, 0], [1, 0, 0], [0, 0, 0]])
    ids, _ = model.recommend(np.array([3]), 2)  # item 30 shares no user: nothing to suggest
    assert ids.tolist() == [[-1, -1]]


def test_single_item_and_empty_interactions() -> None:
    model = ItemKNNRecommender().fit(one_item())
    assert model.recommend(np.array([1]), 2)[0].tolist() == [[-1, -1]]
    with pytest.raises(ValueError, match="cannot fit item-KNN on an empty interaction matrix"):
        ItemKNNRecommender().fit(EMPTY)


def test_unfitted_and_bad_config() -> None:
    with pytest.raises(NotFittedError, match="item-KNN model is not fitted"):
        ItemKNNRecommender().recommend(np.array([1]), 3)
    with pytest.raises(ValueError, match="'cosine', 'bm25' or 'tfidf'"):
        ItemKNNConfig(similarity="jaccard")  # type: ignore[arg-type]
