"""The contract every recommender family must keep, and edge-case data sets.

Shared by the per-family test files (tests/test_models_<family>.py); their planted-tastes data
is the ``model_tastes`` fixture of tests/conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from core import columns as c
from models.base import Recommender
from models.interactions import Interactions
from tests.conftest import PLANTED_START as START


def one_item() -> Interactions:
    frame = pd.DataFrame(
        {c.USER_ID: [1, 2], c.VIDEO_ID: [7, 7], c.EVENT_TYPE: "play", c.EVENT_TIMESTAMP: START}
    )
    return Interactions.from_events(frame)


EMPTY = Interactions(
    sp.csr_matrix((0, 0), dtype=np.float32),
    np.empty(0, np.int64),
    np.empty(0, np.int64),
    np.empty(0, np.float64),
)


def check_contract(model: Recommender, tmp_path: Path) -> None:
    """Shape, order, seen-exclusion, padding, k checks and the save/load round trip."""
    assert isinstance(model, Recommender)
    inter = model.interactions
    users = np.array([1, 2, 3, 424_242])
    ids, scores = model.recommend(users, 4)
    assert ids.shape == scores.shape == (4, 4)
    assert ids.dtype == np.int64 and scores.dtype == np.float32
    assert np.all(np.diff(scores[:3], axis=1) <= 0)
    for row, seen in zip(ids, inter.seen_items(users), strict=True):
        assert not seen & set(row.tolist())
    big, big_scores = model.recommend(np.array([1]), 1000)
    valid = big[0] >= 0
    catalogue = getattr(model, "item_ids", inter.item_ids)  # content adds unwatched items
    assert 0 < valid.sum() <= catalogue.size - 5 and np.all(valid[: valid.sum()])
    assert np.all(np.isneginf(big_scores[0][~valid]))
    for k in (0, -1):
        with pytest.raises(ValueError, match="k must be a positive integer"):
            model.recommend(users, k)
        with pytest.raises(ValueError, match="k must be a positive integer"):
            model.similar_items(np.array([1000]), k)
    sim, _ = model.similar_items(np.array([1000, 999_999]), 3)
    assert 1000 not in sim[0].tolist() and sim[1].tolist() == [-1, -1, -1]
    model.save(tmp_path / "m")
    loaded = type(model).load(tmp_path / "m")
    assert loaded.config == model.config
    for exclude in (True, False):
        a_ids, a_scores = model.recommend(users, 7, exclude_seen=exclude)
        b_ids, b_scores = loaded.recommend(users, 7, exclude_seen=exclude)
        assert np.array_equal(a_ids, b_ids) and np.array_equal(a_scores, b_scores)
    same = model.similar_items(inter.item_ids, 3)[0] == loaded.similar_items(inter.item_ids, 3)[0]
    assert same.all()
