"""RP3beta: the random-walk weights by hand, learning planted clusters, pruning, edge cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import columns as c
from models.errors import ModelFormatError, NotFittedError
from models.interactions import Interactions
from models.popularity import PopularityRecommender
from models.rp3beta import RP3betaConfig, RP3betaRecommender
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


def _tiny() -> Interactions:
    """User 1 watched items 10 and 20, user 2 items 10, 20 and 30, user 3 item 30."""
    frame = pd.DataFrame(
        {
            c.USER_ID: [1, 1, 2, 2, 2, 3],
            c.VIDEO_ID: [10, 20, 10, 20, 30, 30],
            c.EVENT_TYPE: "play",
            c.EVENT_TIMESTAMP: START,
        }
    )
    return Interactions.from_events(frame)


def test_contract_and_round_trip(interactions: Interactions, tmp_path: Path) -> None:
    check_contract(RP3betaRecommender(RP3betaConfig(neighbours=10)).fit(interactions), tmp_path)


def test_learns_the_planted_clusters_better_than_popularity(
    model_tastes: PlantedTastes, interactions: Interactions
) -> None:
    rp3 = model_tastes.in_cluster_share(RP3betaRecommender().fit(interactions))
    popularity = model_tastes.in_cluster_share(PopularityRecommender().fit(interactions))
    assert rp3 > 0.95 and popularity < 0.7


def test_walk_weights_by_hand() -> None:
    # W_ij = sum over users u of i and j of 1/deg(i) * 1/|u|, divided by deg(j)^beta.
    # 10 -> 20: users 1 (2 items) and 2 (3 items): 1/2 * 1/2 + 1/2 * 1/3 = 5/12;
    # 10 -> 30 and 30 -> 10: user 2 only: 1/2 * 1/3 = 1/6; every item has 2 users.
    model = RP3betaRecommender(RP3betaConfig(alpha=1.0, beta=0.5)).fit(_tiny())
    r = 2**-0.5
    expected = np.array([[0, 5 / 12, 1 / 6], [5 / 12, 0, 1 / 6], [1 / 6, 1 / 6, 0]]) * r
    assert model.weights.dtype == np.float32
    assert np.allclose(model.weights.toarray(), expected, atol=1e-6)
    ids, scores = model.recommend(np.array([1, 3]), 2)
    assert ids.tolist() == [[30, -1], [10, 20]]
    assert scores[0, 0] == pytest.approx(2 * r / 6) and scores[1, 0] == pytest.approx(r / 6)
    # alpha raises each step's probability: 10 -> 30 becomes (1/2)^a * (1/3)^a
    walked = RP3betaRecommender(RP3betaConfig(alpha=0.5, beta=0.0)).fit(_tiny())
    assert walked.weights[0, 2] == pytest.approx(6**-0.5)


def test_beta_penalises_popular_destinations() -> None:
    frame = pd.DataFrame(
        {
            c.USER_ID: [1, 1, 2, 2, 3, 4, 5],
            c.VIDEO_ID: [10, 20, 10, 30, 20, 20, 20],
            c.EVENT_TYPE: "play",
            c.EVENT_TIMESTAMP: START,
        }
    )
    inter = Interactions.from_events(frame)  # from 10, 20 (4 users) and 30 (1 user) tie at 1/4
    plain = RP3betaRecommender(RP3betaConfig(alpha=1.0, beta=0.0)).fit(inter)
    assert plain.weights[0, 1] == pytest.approx(plain.weights[0, 2])
    penalised = RP3betaRecommender(RP3betaConfig(alpha=1.0, beta=0.5)).fit(inter)
    assert penalised.similar_items(np.array([10]), 2)[0].tolist() == [[30, 20]]


def test_neighbours_prune_each_row_and_normalise_rescales(interactions: Interactions) -> None:
    model = RP3betaRecommender(RP3betaConfig(neighbours=3, normalise=True)).fit(interactions)
    assert np.diff(model.weights.indptr).max() <= 3
    assert np.all(model.weights.diagonal() == 0)
    assert np.allclose(np.asarray(model.weights.sum(axis=1)).ravel(), 1.0, atol=1e-5)
    ids, _ = model.similar_items(np.array([1000]), 5)
    assert np.all((ids[0][:3] >= 1000) & (ids[0][:3] < 1008)) and ids[0][3:].tolist() == [-1, -1]


def test_bad_input_single_item_and_empty_interactions() -> None:
    model = RP3betaRecommender().fit(one_item())
    assert model.recommend(np.array([1]), 2)[0].tolist() == [[-1, -1]]
    assert model.recommend(np.array([424_242]), 2)[0].tolist() == [[-1, -1]]
    with pytest.raises(ValueError, match="k must be a positive integer"):
        model.recommend(np.array([1]), 0)
    with pytest.raises(ValueError, match="cannot fit RP3beta on an empty interaction matrix"):
        RP3betaRecommender().fit(EMPTY)


def test_unfitted_bad_config_and_bad_saves(tmp_path: Path) -> None:
    with pytest.raises(NotFittedError, match="RP3beta model is not fitted"):
        RP3betaRecommender().recommend(np.array([1]), 3)
    with pytest.raises(ValueError, match="greater than 0"):
        RP3betaConfig(neighbours=0)
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        RP3betaConfig(beta=-0.1)
    model = RP3betaRecommender().fit(_tiny())
    model.save(tmp_path / "m")
    (tmp_path / "m" / "rp3beta_weights.npz").unlink()
    with pytest.raises(ModelFormatError, match="incomplete RP3beta model"):
        RP3betaRecommender.load(tmp_path / "m")
