"""Blending candidate sources: normalisation, provenance, default weights (tuned weights:
tests/test_training_tuning.py)."""

from __future__ import annotations

import numpy as np
import pytest

from models.base import PAD_ID, PAD_SCORE
from models.ensemble import (
    blend,
    default_weights,
    normalise,
)

# two users; source "a" and "b" lists of depth 3 (user 1's "b" list is padded)
A_IDS = np.array([[10, 11, 12], [20, 21, 22]])
A_SCORES = np.array([[3.0, 2.0, 1.0], [9.0, 9.0, 9.0]], dtype=np.float32)
B_IDS = np.array([[12, 13, 10], [23, -1, -1]])
B_SCORES = np.array([[0.9, 0.5, 0.1], [0.2, -np.inf, -np.inf]], dtype=np.float32)


def test_normalisations_by_hand() -> None:
    assert normalise(A_IDS, A_SCORES, "minmax", 3).tolist() == [[1.0, 0.5, 0.0], [1.0] * 3]
    assert np.allclose(normalise(B_IDS, B_SCORES, "rank", 3), [[1, 2 / 3, 1 / 3], [1, 0, 0]])
    assert normalise(B_IDS, B_SCORES, "rrf", 3)[0].tolist() == pytest.approx(
        [1.0, 61 / 62, 61 / 63]
    )
    std = np.sqrt(2 / 3)  # population std of 3, 2, 1
    assert np.allclose(normalise(A_IDS, A_SCORES, "zscore", 3), [[2 / std, 1 / std, 0], [1] * 3])
    with pytest.raises(ValueError, match="unknown normalisation 'softmax'"):
        normalise(A_IDS, A_SCORES, "softmax", 3)


def test_blend_keeps_each_items_sources_scores_and_ranks() -> None:
    out = blend({"a": (A_IDS, A_SCORES), "b": (B_IDS, B_SCORES)}, {"a": 0.5, "b": 0.5})
    row = {int(i): j for j, i in enumerate(out.item_ids[0]) if i >= 0}
    assert set(row) == {10, 11, 12, 13}
    # item 10: a rank 1 (norm 1.0), b rank 3 (norm 0.0) -> 0.5; item 12: a 0.0, b 1.0 -> 0.5
    assert out.scores[0, row[10]] == pytest.approx(0.5)
    assert out.source_ranks[0, row[10]].tolist() == [1, 3]
    assert out.source_ranks[0, row[13]].tolist() == [0, 2]
    assert out.proposed[0, row[11]].tolist() == [True, False]
    assert out.raw_scores[0, row[12]].tolist() == pytest.approx([1.0, 0.9])
    # best first, padding last
    assert np.all(np.diff(out.scores[1][out.item_ids[1] >= 0]) <= 0)
    assert out.item_ids.shape == (2, 4) and (out.item_ids[1] >= 0).sum() == 4


def test_reweighting_changes_the_order_not_the_candidates() -> None:
    out = blend({"a": (A_IDS, A_SCORES), "b": (B_IDS, B_SCORES)}, {"a": 1.0, "b": 0.0})
    assert out.item_ids[0, 0] == 10
    only_b = out.reweighted({"b": 1.0})
    assert only_b.item_ids[0, 0] == 12
    assert set(only_b.item_ids[0].tolist()) == set(out.item_ids[0].tolist())


def test_default_weights_follow_the_seed_design() -> None:
    roles = {
        "als": "collaborative",
        "ease": "collaborative",
        "content": "content",
        "pop": "trending",
    }
    assert default_weights(roles) == pytest.approx(
        {"als": 0.25, "ease": 0.25, "content": 0.3, "pop": 0.2}
    )
    # missing roles: the others are rescaled to sum to 1
    assert default_weights({"als": "collaborative", "pop": "trending"}) == pytest.approx(
        {"als": 0.5 / 0.7, "pop": 0.2 / 0.7}
    )
    with pytest.raises(ValueError, match="unknown source roles"):
        default_weights({"x": "social"})


def test_bad_inputs_are_explained() -> None:
    with pytest.raises(ValueError, match="at least one candidate source"):
        blend({}, {})
    with pytest.raises(ValueError, match="weights for unknown sources"):
        blend({"a": (A_IDS, A_SCORES)}, {"z": 1.0})
    with pytest.raises(ValueError, match="finite and >= 0"):
        blend({"a": (A_IDS, A_SCORES)}, {"a": float("nan")})
    with pytest.raises(ValueError, match="2-d list per user"):
        blend({"a": (A_IDS, A_SCORES), "b": (B_IDS[:1], B_SCORES[:1])}, {"a": 1.0})
    bad = A_SCORES.copy()
    bad[0, 1] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        blend({"a": (A_IDS, bad)}, {"a": 1.0})


def test_blend_unions_match_a_per_user_reference() -> None:
    rng = np.random.default_rng(3)
    n, depth = 40, 12
    sources = {}
    for name in ("a", "b", "c"):
        ids = np.stack([rng.choice(30, size=depth, replace=False) for _ in range(n)])
        ids[rng.random((n, depth)) < 0.2] = PAD_ID  # padding anywhere, as short lists have
        scores = np.where(ids != PAD_ID, rng.random((n, depth)), PAD_SCORE).astype(np.float32)
        sources[name] = (ids, scores)
    sources["empty"] = (np.full((n, depth), PAD_ID), np.full((n, depth), PAD_SCORE))
    blended = blend(sources, {"a": 0.5, "b": 0.3, "c": 0.2}, "minmax", depth)
    for i in range(n):
        union = np.unique(np.concatenate([ids[i] for ids, _ in sources.values()]))
        union = union[union != PAD_ID]
        row = blended.item_ids[i]
        assert sorted(row[row != PAD_ID].tolist()) == union.tolist()
        for j, item in enumerate(row[row != PAD_ID]):
            for s, (ids, scores) in enumerate(sources.values()):
                hit = np.flatnonzero(ids[i] == item)
                if hit.size:
                    assert blended.raw_scores[i, j, s] == scores[i, hit[0]]
                    assert blended.source_ranks[i, j, s] == np.sum(ids[i, : hit[0] + 1] != PAD_ID)
                else:
                    assert blended.source_ranks[i, j, s] == 0
        assert np.all(np.diff(blended.scores[i][row != PAD_ID]) <= 0)
