"""BPR matrix factorisation through implicit: learning, indexing, edge cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.base import EmbeddingModel
from models.bpr import BPRConfig, BPRRecommender
from models.errors import NotFittedError
from models.faiss_index import ItemIndex
from models.interactions import Interactions
from models.popularity import PopularityRecommender
from tests.conftest import PlantedTastes
from tests.model_contract import (
    EMPTY,
    check_contract,
    one_item,
)

CONFIG = BPRConfig(factors=8, iterations=200, learning_rate=0.05, num_threads=1)


@pytest.fixture(scope="module")
def interactions(model_tastes: PlantedTastes) -> Interactions:
    return model_tastes.interactions()


@pytest.fixture(scope="module")
def model(interactions: Interactions) -> BPRRecommender:
    return BPRRecommender(CONFIG).fit(interactions)


def test_contract_and_round_trip(model: BPRRecommender, tmp_path: Path) -> None:
    check_contract(model, tmp_path)


def test_learns_the_planted_clusters_better_than_popularity(
    model_tastes: PlantedTastes, model: BPRRecommender, interactions: Interactions
) -> None:
    popularity = model_tastes.in_cluster_share(PopularityRecommender().fit(interactions))
    assert model_tastes.in_cluster_share(model) > 0.9 and popularity < 0.7


def test_is_an_indexable_embedding_model(model: BPRRecommender) -> None:
    assert isinstance(model, EmbeddingModel)
    users = np.array([1, 2, 999])
    vectors, known = model.user_vectors(users)
    assert known.tolist() == [True, True, False] and not vectors[2].any()
    assert vectors.shape[1] == model.item_vectors.shape[1] == CONFIG.factors + 1
    ids, scores = ItemIndex.from_model(model).search(
        vectors[:2], 3, exclude=model.interactions.seen_items(users[:2])
    )
    expected_ids, expected_scores = model.recommend(users[:2], 3)
    assert np.array_equal(ids, expected_ids)
    assert np.allclose(scores, expected_scores, atol=1e-4)


def test_single_threaded_fits_are_reproducible(interactions: Interactions) -> None:
    a = BPRRecommender(CONFIG.model_copy(update={"iterations": 5})).fit(interactions)
    b = BPRRecommender(CONFIG.model_copy(update={"iterations": 5})).fit(interactions)
    assert np.array_equal(a.item_vectors, b.item_vectors)


def test_single_item_and_empty_interactions_are_refused() -> None:
    for bad in (one_item(), EMPTY):
        with pytest.raises(ValueError, match="BPR needs at least 2 items"):
            BPRRecommender(CONFIG).fit(bad)


def test_unfitted() -> None:
    with pytest.raises(NotFittedError, match="BPR model is not fitted"):
        BPRRecommender().similar_items(np.array([1]), 3)
