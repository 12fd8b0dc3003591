"""Retrieve -> rank -> filter: cold start, exclusions, padding, save/load."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import columns as c
from models.als import ALSConfig, ALSRecommender
from models.errors import ModelFormatError, VocabularyMismatchError
from models.faiss_index import ItemIndex
from models.interactions import Interactions
from models.pipeline import RecommendationPipeline
from models.popularity import PopularityRecommender

ALS = ALSConfig(factors=8, iterations=8)


def _interactions(n_items: int = 20, seed: int = 0) -> Interactions:
    """50 users in two taste halves of the catalogue, 4 plays each."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(1, 51):
        half = user % 2
        for item in rng.choice(n_items // 2, size=4, replace=False):
            rows.append((user, 100 + half * (n_items // 2) + int(item)))
    frame = pd.DataFrame(rows, columns=[c.USER_ID, c.VIDEO_ID])
    frame[c.EVENT_TYPE] = "play"
    frame[c.EVENT_TIMESTAMP] = pd.Timestamp("2024-01-01", tz="UTC")
    return Interactions.from_events(frame)


@pytest.fixture(scope="module")
def pipeline() -> RecommendationPipeline:
    return RecommendationPipeline.fit(_interactions(), als=ALS)


def test_known_users_get_als_results_through_the_index(pipeline: RecommendationPipeline) -> None:
    users = np.array([1, 2, 3])
    ids, scores = pipeline.recommend(users, 5)
    expected_ids, expected_scores = pipeline.als.recommend(users, 5, exclude_seen=True)
    assert np.array_equal(ids, expected_ids)
    assert np.allclose(scores, expected_scores, atol=1e-5)
    assert pipeline.personalized(users).all()


def test_cold_start_users_get_popularity(pipeline: RecommendationPipeline) -> None:
    ids, scores = pipeline.recommend(np.array([1, 9_999]), 4)
    assert not pipeline.personalized(np.array([9_999]))[0]
    assert ids[1].tolist() == pipeline.popularity.top_items(4)[0].tolist()
    assert scores[1].tolist() == pipeline.popularity.top_items(4)[1].tolist()
    assert not np.array_equal(ids[0], ids[1])


def test_seen_and_unavailable_items_are_filtered(pipeline: RecommendationPipeline) -> None:
    users = np.array([1, 9_999])
    default_ids, _ = pipeline.recommend(users, 20)
    for row, seen in zip(default_ids, pipeline.als.interactions.seen_items(users), strict=True):
        assert not seen & set(row.tolist())
    blocked = {int(default_ids[0, 0]), int(default_ids[1, 1])}
    ids, _ = pipeline.recommend(
        users, 5, seen=[set(), {int(default_ids[1, 0])}], unavailable=blocked
    )
    assert not blocked & set(ids.ravel().tolist())
    assert int(default_ids[1, 0]) not in ids[1].tolist()
    # with nothing seen, user 1 may now get items from their own history
    assert pipeline.als.interactions.seen_items(np.array([1]))[0] & set(ids[0].tolist())


def test_k_beyond_the_catalogue_is_padded(pipeline: RecommendationPipeline) -> None:
    ids, scores = pipeline.recommend(np.array([1, 9_999]), 30, unavailable={100})
    assert (ids[0] >= 0).sum() == 20 - 4 - 1  # 4 seen items, one unavailable
    assert (ids[1] >= 0).sum() == 20 - 1
    assert np.all(np.isneginf(scores[ids < 0]))


def test_bad_arguments_are_explained(pipeline: RecommendationPipeline) -> None:
    with pytest.raises(ValueError, match="k must be a positive integer"):
        pipeline.recommend(np.array([1]), 0)
    with pytest.raises(ValueError, match="seen has 1 sets for 2 users"):
        pipeline.recommend(np.array([1, 2]), 3, seen=[set()])


def test_save_load_round_trip(pipeline: RecommendationPipeline, tmp_path: Path) -> None:
    pipeline.save(tmp_path / "p")
    loaded = RecommendationPipeline.load(tmp_path / "p")
    users = np.array([1, 4, 17, 9_999, 12_345])
    for args in ({}, {"unavailable": {101, 115}}):
        expected = pipeline.recommend(users, 6, **args)
        got = loaded.recommend(users, 6, **args)
        assert np.array_equal(expected[0], got[0])
        assert np.array_equal(expected[1], got[1])


def test_load_refuses_an_index_from_another_model(
    pipeline: RecommendationPipeline, tmp_path: Path
) -> None:
    pipeline.save(tmp_path / "p")
    other = ALSRecommender(ALS).fit(_interactions(n_items=16, seed=3))
    shutil.rmtree(tmp_path / "p" / "index")
    ItemIndex.from_model(other).save(tmp_path / "p" / "index")
    with pytest.raises(VocabularyMismatchError, match="rebuild the index from this model"):
        RecommendationPipeline.load(tmp_path / "p")
    with pytest.raises(VocabularyMismatchError, match="does not match the model's"):
        RecommendationPipeline(pipeline.popularity, other, pipeline.index)


def test_load_of_something_else_is_explained(tmp_path: Path) -> None:
    PopularityRecommender().fit(_interactions()).save(tmp_path / "pop")
    with pytest.raises(ModelFormatError, match="not a saved pipeline"):
        RecommendationPipeline.load(tmp_path / "pop")
