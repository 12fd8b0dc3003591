"""EASE: closed-form item weights, learning planted clusters, edge cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.ease import EASEConfig, EASERecommender
from models.errors import NotFittedError
from models.interactions import Interactions
from models.popularity import PopularityRecommender
from tests.conftest import PlantedTastes
from tests.model_contract import (
    EMPTY,
    check_contract,
    one_item,
)


@pytest.fixture(scope="module")
def interactions(model_tastes: PlantedTastes) -> Interactions:
    return model_tastes.interactions()


def test_contract_and_round_trip(interactions: Interactions, tmp_path: Path) -> None:
    check_contract(EASERecommender(EASEConfig(l2=5.0)).fit(interactions), tmp_path)


def test_learns_the_planted_clusters_better_than_popularity(
    model_tastes: PlantedTastes, interactions: Interactions
) -> None:
    ease = model_tastes.in_cluster_share(EASERecommender(EASEConfig(l2=5.0)).fit(interactions))
    popularity = model_tastes.in_cluster_share(PopularityRecommender().fit(interactions))
    assert ease > 0.95 and popularity < 0.7


def test_weights_solve_the_closed_form(interactions: Interactions) -> None:
    model = EASERecommender(EASEConfig(l2=10.0)).fit(interactions)
    x = (interactions.matrix > 0).astype(np.float64).toarray()
    p = np.linalg.inv(x.T @ x + 10.0 * np.eye(x.shape[1]))
    expected = np.eye(x.shape[1]) - p / np.diag(p)[None, :]
    np.fill_diagonal(expected, 0.0)
    assert model.weights.dtype == np.float32
    assert np.allclose(model.weights, expected, atol=1e-4)
    assert np.all(np.diag(model.weights) == 0)


def test_single_item_and_empty_interactions() -> None:
    model = EASERecommender().fit(one_item())
    ids, _ = model.recommend(np.array([1]), 3)  # the only item is seen: nothing to recommend
    assert ids.tolist() == [[-1, -1, -1]]
    assert model.recommend(np.array([1]), 1, exclude_seen=False)[0].tolist() == [[7]]
    with pytest.raises(ValueError, match="cannot fit EASE on an empty interaction matrix"):
        EASERecommender().fit(EMPTY)


def test_too_large_catalogues_are_refused(interactions: Interactions) -> None:
    with pytest.raises(ValueError, match=r"dense 24 x 24 matrix .* exceeds max_items=10"):
        EASERecommender(EASEConfig(max_items=10)).fit(interactions)


def test_unfitted_and_bad_config() -> None:
    with pytest.raises(NotFittedError, match="EASE model is not fitted"):
        EASERecommender().recommend(np.array([1]), 3)
    with pytest.raises(ValueError, match="greater than 0"):
        EASEConfig(l2=0)
