"""Exact FAISS inner-product search over a model's item vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import columns as c
from models.als import ALSConfig, ALSRecommender
from models.errors import ModelFormatError, VocabularyMismatchError
from models.faiss_index import ItemIndex
from models.interactions import Interactions


def _als(n_items: int, seed: int) -> ALSRecommender:
    """ALS fitted on random plays of ``n_items`` items by 40 users."""
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(1, 41), 6)
    frame = pd.DataFrame(
        {
            c.USER_ID: users,
            c.VIDEO_ID: 500 + rng.integers(0, n_items, size=users.size),
            c.EVENT_TYPE: "play",
            c.EVENT_TIMESTAMP: pd.Timestamp("2024-01-01", tz="UTC"),
        }
    )
    return ALSRecommender(ALSConfig(factors=6, iterations=3)).fit(Interactions.from_events(frame))


@pytest.fixture(scope="module")
def model() -> ALSRecommender:
    return _als(30, seed=1)


def test_search_matches_brute_force_numpy() -> None:
    rng = np.random.default_rng(7)
    item_ids = np.arange(100, 400, dtype=np.int64)
    items = rng.normal(size=(300, 16)).astype(np.float32)
    queries = rng.normal(size=(25, 16)).astype(np.float32)
    ids, scores = ItemIndex.build(item_ids, items).search(queries, 10)
    brute = queries @ items.T
    expected = np.argsort(-brute, axis=1)[:, :10]
    assert np.array_equal(ids, item_ids[expected])
    assert np.allclose(scores, np.take_along_axis(brute, expected, axis=1), atol=1e-4)


def test_search_matches_the_models_own_ranking(model: ALSRecommender) -> None:
    users = model.interactions.user_ids[:10]
    vectors, known = model.user_vectors(users)
    assert known.all()
    seen = model.interactions.seen_items(users)
    ids, scores = ItemIndex.from_model(model).search(vectors, 5, exclude=seen)
    expected_ids, expected_scores = model.recommend(users, 5, exclude_seen=True)
    assert np.allclose(scores, expected_scores, atol=1e-5)
    assert np.array_equal(ids, expected_ids)


def test_exclude_and_padding() -> None:
    item_ids = np.array([1, 2, 3], dtype=np.int64)
    index = ItemIndex.build(item_ids, np.eye(3, dtype=np.float32))
    ids, scores = index.search(np.array([[0.1, 0.9, 0.5]], dtype=np.float32), 5, exclude=[{2}])
    assert ids.tolist() == [[3, 1, -1, -1, -1]]
    assert scores[0, :2] == pytest.approx([0.5, 0.1])
    assert np.all(np.isneginf(scores[0, 2:]))


def test_save_load_round_trip(model: ALSRecommender, tmp_path: Path) -> None:
    index = ItemIndex.from_model(model)
    index.save(tmp_path / "index")
    loaded = ItemIndex.load(tmp_path / "index", model=model)
    vectors, _ = model.user_vectors(model.interactions.user_ids)
    assert np.array_equal(index.search(vectors, 8)[0], loaded.search(vectors, 8)[0])


def test_loading_for_another_models_vocabulary_is_refused(
    model: ALSRecommender, tmp_path: Path
) -> None:
    ItemIndex.from_model(model).save(tmp_path / "index")
    other = _als(12, seed=2)
    with pytest.raises(VocabularyMismatchError, match="does not match the model's"):
        ItemIndex.load(tmp_path / "index", model=other)


def test_tampered_vocabulary_is_refused(model: ALSRecommender, tmp_path: Path) -> None:
    ItemIndex.from_model(model).save(tmp_path / "index")
    np.save(tmp_path / "index" / "item_ids.npy", model.interactions.item_ids[::-1].copy())
    with pytest.raises(VocabularyMismatchError, match="does not match the digest"):
        ItemIndex.load(tmp_path / "index")


def test_queries_of_the_wrong_dimension_are_refused(model: ALSRecommender) -> None:
    with pytest.raises(VocabularyMismatchError, match="do not fit a 6-d item index"):
        ItemIndex.from_model(model).search(np.zeros((2, 4), dtype=np.float32), 3)


def test_build_needs_one_vector_per_id() -> None:
    with pytest.raises(VocabularyMismatchError, match="3 item ids but item vectors of shape"):
        ItemIndex.build(np.array([1, 2, 3]), np.zeros((2, 4), dtype=np.float32))


def test_load_of_a_missing_index_is_explained(tmp_path: Path) -> None:
    with pytest.raises(ModelFormatError, match="not a saved item index"):
        ItemIndex.load(tmp_path)
