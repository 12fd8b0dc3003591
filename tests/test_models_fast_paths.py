"""The serving fast paths give exactly what the dense batch paths give: a few users' heads of
the global order, and neighbours read from sparse rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from core import columns as c
from models.base import SMALL_BATCH, rank_by_global_scores, similar_by_item_weights, top_k
from models.interactions import Interactions


def _interactions(rng: np.random.Generator) -> Interactions:
    rows = [(int(u), int(v)) for u in range(1, 80) for v in rng.choice(60, size=8, replace=False)]
    frame = pd.DataFrame(rows, columns=[c.USER_ID, c.VIDEO_ID])
    frame[c.EVENT_TYPE] = "play"
    frame[c.EVENT_TIMESTAMP] = pd.Timestamp("2024-01-01", tz="UTC")
    return Interactions.from_events(frame)


def test_small_batches_rank_like_the_dense_path() -> None:
    rng = np.random.default_rng(3)
    interactions = _interactions(rng)
    # many ties, a NaN and a -inf: ordering must still match column for column
    scores = rng.integers(0, 5, interactions.n_items).astype(np.float32)
    scores[3], scores[7] = np.nan, -np.inf
    users = np.array([1, 5, 999, 40, 79], dtype=np.int64)
    for exclude in (True, False):
        fast = rank_by_global_scores(scores, interactions, users, 20, exclude)
        many = np.concatenate([users, np.arange(1000, 1000 + SMALL_BATCH)])
        dense = rank_by_global_scores(scores, interactions, many, 20, exclude)
        np.testing.assert_array_equal(fast[0], dense[0][: users.size])
        np.testing.assert_array_equal(fast[1], dense[1][: users.size])


def test_sparse_neighbours_match_dense_top_k() -> None:
    rng = np.random.default_rng(4)
    interactions = _interactions(rng)
    n = interactions.n_items
    dense_weights = rng.integers(-2, 4, size=(n, n)).astype(np.float32)
    dense_weights[rng.random((n, n)) < 0.6] = 0.0
    weights = sp.csr_matrix(dense_weights)
    items = np.concatenate([interactions.item_ids[:10], [12345]])
    ids, scores = similar_by_item_weights(interactions, weights, items, 7)
    expected = np.where(dense_weights > 0, dense_weights, -np.inf)
    want_ids, want_scores = top_k(
        expected[interactions.item_index(items[:10])], 7, interactions.item_ids
    )
    np.testing.assert_array_equal(ids[:10], want_ids)
    np.testing.assert_array_equal(scores[:10], want_scores)
    assert (ids[10] == -1).all()
