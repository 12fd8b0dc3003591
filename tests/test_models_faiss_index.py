"""FAISS inner-product search over item vectors: exact, HNSW and IVF, and ANN recall."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import columns as c
from models.als import ALSConfig, ALSRecommender
from models.errors import ModelFormatError, VocabularyMismatchError
from models.faiss_index import IndexConfig, ItemIndex, measure_recall
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
    return ALSRecommender(ALSConfig(factors=6, iterations=3, regularization=0.05, alpha=10.0)).fit(
        Interactions.from_events(frame)
    )


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


@pytest.fixture(scope="module")
def random_20k() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    items = rng.normal(size=(20_000, 64)).astype(np.float32)
    queries = rng.normal(size=(200, 64)).astype(np.float32)
    return np.arange(20_000, dtype=np.int64) + 7, items, queries


@pytest.mark.slow  # an HNSW build over 20k vectors: 3 s idle, 18 s on a shared 2-core host
def test_default_ann_recall_on_20k_random_vectors(
    random_20k: tuple[np.ndarray, np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    item_ids, items, queries = random_20k
    index = ItemIndex.build(item_ids, items)
    assert index.kind == "hnsw"  # 20k is above the default exact threshold
    exact = index.exact()
    assert exact.kind == "flat" and np.array_equal(exact.vectors(), items)
    recall = measure_recall(index, exact, queries, 10)
    assert recall >= 0.95
    index.save(tmp_path / "hnsw")
    loaded = ItemIndex.load(tmp_path / "hnsw")
    assert loaded.kind == "hnsw"
    assert np.array_equal(loaded.search(queries[:20], 10)[0], index.search(queries[:20], 10)[0])


def test_ivf_index_and_recall_bounds(random_20k: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    item_ids, items, queries = random_20k
    sample_ids, sample = item_ids[:4000], items[:4000]
    exact = ItemIndex.build(sample_ids, sample, IndexConfig(kind="flat"))
    coarse = ItemIndex.build(sample_ids, sample, IndexConfig(kind="ivf", ivf_lists=64, ivf_probe=1))
    fine = ItemIndex.build(sample_ids, sample, IndexConfig(kind="ivf", ivf_lists=64, ivf_probe=64))
    assert coarse.kind == fine.kind == "ivf"
    assert measure_recall(exact, exact, queries, 10) == 1.0
    assert measure_recall(fine, exact, queries, 10) == pytest.approx(1.0)  # every cell probed
    assert measure_recall(coarse, exact, queries, 10) < 0.9  # one cell of 64 misses neighbours
    assert np.allclose(np.sort(fine.vectors(), axis=0), np.sort(sample, axis=0))


def test_small_catalogues_stay_exact_and_bad_vectors_are_refused() -> None:
    items = np.eye(4, dtype=np.float32)
    assert ItemIndex.build(np.arange(4), items).kind == "flat"
    assert ItemIndex.build(np.arange(4), items, IndexConfig(kind="hnsw")).kind == "hnsw"
    items[2, 1] = np.nan
    with pytest.raises(ValueError, match="1 item vector\\(s\\) contain NaN or infinite values"):
        ItemIndex.build(np.arange(4), items)


def test_recall_needs_the_same_vocabulary_and_queries() -> None:
    a = ItemIndex.build(np.arange(3), np.eye(3, dtype=np.float32))
    b = ItemIndex.build(np.arange(1, 4), np.eye(3, dtype=np.float32))
    with pytest.raises(VocabularyMismatchError, match="same item vocabulary"):
        measure_recall(a, b, np.eye(3, dtype=np.float32), 2)
    with pytest.raises(ValueError, match="at least one query vector"):
        measure_recall(a, a, np.empty((0, 3), np.float32), 2)
