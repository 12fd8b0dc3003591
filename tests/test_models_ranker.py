"""The PyTorch ranker and its features: planted signal, save/load, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import columns as c
from models.ensemble import blend
from models.errors import ModelFormatError, NotFittedError
from models.interactions import Interactions
from models.ranker import FeatureContext, NeuralRanker, RankerConfig, feature_names
from models.side_info import ItemFeatures

FAST = RankerConfig(epochs=60, hidden=16, learning_rate=0.01)


def _interactions() -> Interactions:
    """Users 1..20 watch comedies (items 0..4) or dramas (items 5..9), spread over 30 days."""
    rows = []
    for user in range(1, 21):
        base = 0 if user % 2 else 5
        for j, item in enumerate(range(base, base + 4)):
            rows.append((user, item, pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(days=j)))
    rows.append((1, 9, pd.Timestamp("2024-01-30", tz="UTC")))
    frame = pd.DataFrame(rows, columns=[c.USER_ID, c.VIDEO_ID, c.EVENT_TIMESTAMP])
    frame[c.EVENT_TYPE] = "play"
    return Interactions.from_events(frame)


def _features() -> ItemFeatures:
    meta = pd.DataFrame({c.VIDEO_ID: range(10), "genres": [["Comedy"]] * 5 + [["Drama"]] * 5})
    return ItemFeatures.from_metadata(meta)


def test_features_have_the_documented_columns_and_values() -> None:
    inter = _interactions()
    context = FeatureContext.build(inter, _features(), completion={0: 0.75})
    lists = {"s": (np.array([[0, 5, 99]]), np.array([[2.0, 1.0, 0.5]], dtype=np.float32))}
    candidates = blend(lists, {"s": 1.0})
    out = context.features(np.array([1]), candidates)
    names = feature_names(("s",))
    assert out.shape == (1, 3, len(names))
    col = {n: j for j, n in enumerate(names)}
    row = {int(i): j for j, i in enumerate(candidates.item_ids[0])}
    # user 1 (odd) watched comedies: affinity with comedy 0 > drama 5; unknown item 99 is 0
    assert out[0, row[0], col["user_genre_affinity"]] > out[0, row[5], col["user_genre_affinity"]]
    assert out[0, row[99], col["item_log_popularity"]] == 0.0
    assert out[0, row[0], col["item_completion_rate"]] == pytest.approx(0.75)
    assert out[0, row[0], col["s_rank_gain"]] == pytest.approx(1.0)
    assert out[0, row[5], col["s_rank_gain"]] == pytest.approx(1 / np.log2(3))
    assert out[0, row[0], col["user_log_activity"]] == pytest.approx(np.log1p(5))
    # item 9 is the only one seen in the last 30 days' ... all are recent: counts match
    assert out[0, row[5], col["item_log_popularity"]] == pytest.approx(np.log1p(10))


def _planted(n: int = 200, width: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Features where only column 2 says which candidate is relevant."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, width, 4)).astype(np.float32)
    relevant = rng.integers(0, width, size=n)
    labels = np.zeros((n, width), dtype=bool)
    labels[np.arange(n), relevant] = True
    features[np.arange(n), relevant, 2] += 3.0
    return features, labels


@pytest.mark.parametrize("loss", ["listwise", "pairwise"])
def test_ranker_learns_a_planted_signal(loss: str) -> None:
    features, labels = _planted()
    valid = np.ones(labels.shape, dtype=bool)
    ranker = NeuralRanker(FAST.model_copy(update={"loss": loss})).fit(features, labels, valid)
    test_x, test_y = _planted(seed=1)
    scores = ranker.score(test_x, np.ones(test_y.shape, dtype=bool))
    top1 = test_y[np.arange(len(test_y)), np.argmax(scores, axis=1)].mean()
    assert top1 > 0.8  # random would be 1/12


def test_ranker_is_seeded_and_round_trips(tmp_path: Path) -> None:
    features, labels = _planted(n=60)
    valid = np.ones(labels.shape, dtype=bool)
    valid[:, -2:] = False
    a = NeuralRanker(FAST).fit(features, labels, valid)
    b = NeuralRanker(FAST).fit(features, labels, valid)
    assert np.array_equal(a.score(features, valid), b.score(features, valid))
    assert np.isneginf(a.score(features, valid)[:, -2:]).all()
    loaded = NeuralRanker.load(a.save(tmp_path / "r"))
    assert np.allclose(loaded.score(features, valid), a.score(features, valid))
    assert loaded.feature_names == a.feature_names


def test_context_round_trips(tmp_path: Path) -> None:
    context = FeatureContext.build(_interactions(), _features())
    loaded = FeatureContext.load(context.save(tmp_path / "ctx"))
    candidates = blend({"s": (np.array([[0, 5]]), np.array([[1.0, 0.5]]))}, {"s": 1.0})
    users = np.array([1])
    assert np.array_equal(loaded.features(users, candidates), context.features(users, candidates))


def test_bad_inputs_are_explained(tmp_path: Path) -> None:
    features, labels = _planted(n=20)
    valid = np.ones(labels.shape, dtype=bool)
    with pytest.raises(NotFittedError, match="ranker is not fitted"):
        NeuralRanker().score(features, valid)
    broken = features.copy()
    broken[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="1 NaN or infinite values"):
        NeuralRanker(FAST).fit(broken, labels, valid)
    ranker = NeuralRanker(FAST).fit(features, labels, valid)
    broken[0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        ranker.score(broken, valid)
    with pytest.raises(ValueError, match="trained on 4 features"):
        ranker.score(features[:, :, :3], valid)
    with pytest.raises(ValueError, match="nothing to learn"):
        NeuralRanker(FAST).fit(features, np.zeros_like(labels), valid)
    with pytest.raises(ValueError, match="matching labels and mask"):
        NeuralRanker(FAST).fit(features, labels[:, :3], valid)
    with pytest.raises(ModelFormatError, match="not a saved model directory"):
        NeuralRanker.load(tmp_path)
    with pytest.raises(ModelFormatError, match="not a saved ranker context"):
        FeatureContext.load(tmp_path)
