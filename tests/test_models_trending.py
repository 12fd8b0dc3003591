"""Trending: time-decayed counts over a window, reference time, edge cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import columns as c
from models.errors import NotFittedError
from models.interactions import Interactions
from models.popularity import PopularityRecommender
from models.trending import TrendingConfig, TrendingRecommender
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


def _timed(rows: list[tuple[int, int, float]]) -> Interactions:
    """Plays from ``(user, video, days after START)`` rows."""
    frame = pd.DataFrame(rows, columns=[c.USER_ID, c.VIDEO_ID, "days"])
    frame[c.EVENT_TYPE] = "play"
    frame[c.EVENT_TIMESTAMP] = START + pd.to_timedelta(frame.pop("days"), unit="D")
    return Interactions.from_events(frame)


def test_contract_and_round_trip(interactions: Interactions, tmp_path: Path) -> None:
    model = TrendingRecommender(TrendingConfig(window_days=10)).fit(interactions)
    check_contract(model, tmp_path)
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
    model = TrendingRecommender().fit(one_item())
    assert model.recommend(np.array([99]), 2)[0].tolist() == [[7, -1]]
    with pytest.raises(ValueError, match="cannot fit the trending model on an empty"):
        TrendingRecommender().fit(EMPTY)


def test_unfitted_and_bad_config() -> None:
    with pytest.raises(NotFittedError, match="trending model is not fitted"):
        TrendingRecommender().top_items(3)
    with pytest.raises(ValueError, match="greater than 0"):
        TrendingConfig(window_days=0)
