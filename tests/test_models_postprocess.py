"""Post-processing shared by evaluation and serving: filters, diversity, cold start, anchors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core import columns as c
from models.postprocess import (
    PostProcessConfig,
    anchor_items,
    business_mask,
    compact,
    exclusion_mask,
    genre_cap,
    genre_cold_start,
    item_languages,
    mmr_rerank,
    reason,
)
from models.side_info import ItemFeatures

# items 1..3 Comedy (en), 4..6 Drama (fr), 7 has no metadata at all
FEATURES = ItemFeatures.from_metadata(
    pd.DataFrame(
        {
            c.VIDEO_ID: [1, 2, 3, 4, 5, 6],
            "genres": [["Comedy"]] * 3 + [["Drama"]] * 3,
            "language": ["en"] * 3 + ["fr"] * 3,
        }
    )
)
IDS = np.array([[1, 2, 3, 4, 5, 6, 7, -1]])
SCORES = np.array([[8, 7, 6, 5, 4, 3, 2, -np.inf]], dtype=np.float32)


def test_exclusion_and_compaction() -> None:
    keep = exclusion_mask(IDS, [{2, 5}])
    ids, scores = compact(IDS, SCORES, keep, 4)
    assert ids.tolist() == [[1, 3, 4, 6]]
    assert scores.tolist() == [[8, 6, 5, 3]]
    ids, scores = compact(IDS, SCORES, keep, 10)
    assert ids[0, 5:].tolist() == [-1] * 5 and np.isneginf(scores[0, 5:]).all()
    with pytest.raises(ValueError, match="exclude has 2 sets for 1 users"):
        exclusion_mask(IDS, [set(), set()])


def test_language_and_maturity_rules() -> None:
    assert item_languages(FEATURES, np.array([1, 4, 7])) == ["en", "fr", None]
    keep = business_mask(IDS, PostProcessConfig(languages=("FR",)), FEATURES)
    # French items and the item of unknown language pass
    assert IDS[keep].tolist() == [4, 5, 6, 7, -1]
    rules = PostProcessConfig(max_maturity=12)
    keep = business_mask(IDS, rules, FEATURES, maturity={1: 18, 2: 12})
    assert 1 not in IDS[keep].tolist() and 2 in IDS[keep].tolist()


def test_mmr_alternates_genres_when_variety_matters() -> None:
    # relevance (min-max) 1, .83, .67, .5, .33, .17, 0; value .3 * rel - .7 * max similarity:
    # 1 first, then drama 4 (.15), then 7 (no genre: 0 beats -.45), then comedy 2
    ids, scores = mmr_rerank(IDS, SCORES, FEATURES, 4, trade_off=0.3)
    assert ids.tolist() == [[1, 4, 7, 2]]
    assert scores.tolist() == [[8, 5, 2, 7]]
    same, _ = mmr_rerank(IDS, SCORES, FEATURES, 4, trade_off=1.0)
    assert same.tolist() == [[1, 2, 3, 4]]
    assert set(scores[0].tolist()) <= set(SCORES[0].tolist())
    with pytest.raises(ValueError, match="between 0 and 1"):
        mmr_rerank(IDS, SCORES, FEATURES, 4, trade_off=2.0)


def test_genre_cap_keeps_at_most_n_per_genre() -> None:
    ids, _ = genre_cap(IDS, SCORES, FEATURES, 5, cap=1)
    # one comedy, one drama, and item 7 (no genre: never capped)
    assert ids.tolist() == [[1, 4, 7, -1, -1]]
    with pytest.raises(ValueError, match="per-genre cap must be a positive"):
        genre_cap(IDS, SCORES, FEATURES, 5, cap=0)


def test_cold_start_puts_chosen_genres_first() -> None:
    trending = np.array([1, 4, 2, 5])
    scores = np.array([4, 3, 2, 1], dtype=np.float32)
    ids, out = genre_cold_start(trending, scores, FEATURES, {"DRAMA", "unknown-genre"})
    assert ids.tolist() == [4, 5, 1, 2]
    assert out.tolist() == [3, 1, 4, 2]
    same, _ = genre_cold_start(trending, scores, FEATURES, set())
    assert same.tolist() == trending.tolist()
    assert genre_cold_start(trending, scores, None, {"drama"})[0].tolist() == trending.tolist()


def test_anchor_is_the_first_watched_similar_item() -> None:
    rec = np.array([[10, 11, -1]])
    similar = np.array([[[5, 6, 7], [8, 9, 3], [-1, -1, -1]]])
    anchors = anchor_items(similar, [{7, 6}], rec)
    assert anchors.tolist() == [[6, -1, -1]]
    assert reason("als", "collaborative", 6) == "because you watched 6"
    assert reason("trending", "trending", None) == "trending now"
