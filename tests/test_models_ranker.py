"""Rankers of both kinds and their features: planted signal, save/load, kind dispatch, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from models.base import PAD_ID
from models.ensemble import blend
from models.errors import ModelFormatError, NotFittedError
from models.lambdarank import LambdaRankConfig, LambdaRanker
from models.pair_features import (
    NoPairFeatures,
    blend_feature_names,
    ranker_feature_names,
    ranker_inputs,
)
from models.popularity import PopularityRecommender
from models.ranker import NeuralRanker, Ranker, RankerConfig, blend_prior
from models.rankers import RANKERS, load_ranker, make_ranker
from tests.conftest import planted_tastes

FAST = RankerConfig(epochs=60, hidden=16, learning_rate=0.01)
FAST_TREES = LambdaRankConfig(
    n_estimators=40, learning_rate=0.05, num_leaves=15, min_child_samples=10, reg_lambda=0.0
)
CONFIGS: dict[str, RankerConfig | LambdaRankConfig] = {"neural": FAST, "lambdarank": FAST_TREES}


class Columns:
    """A provider whose two columns are the item id and the user id, as floats."""

    names = ("item", "user")

    def pair_features(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        users = np.broadcast_to(np.asarray(user_ids, dtype=np.float32)[:, None], item_ids.shape)
        return np.stack([item_ids.astype(np.float32), users], axis=2)


def test_inputs_are_the_blend_features_then_the_providers() -> None:
    lists = {
        "a": (np.array([[7, 5, PAD_ID]]), np.array([[2.0, 1.0, -np.inf]], dtype=np.float32)),
        "b": (np.array([[5, 9, 3]]), np.array([[3.0, 2.0, 1.0]], dtype=np.float32)),
    }
    candidates = blend(lists, {"a": 0.5, "b": 0.5})
    out = ranker_inputs(np.array([42]), candidates, Columns())
    names = ranker_feature_names(("a", "b"), Columns.names)
    assert names == (
        *("a_score", "a_rank_gain", "a_proposed", "b_score", "b_rank_gain", "b_proposed"),
        *("blend_score", "item", "user"),
    )
    assert blend_feature_names(("a", "b")) == names[:7]
    assert out.shape == (1, 4, len(names)) and out.dtype == np.float32
    col = {n: j for j, n in enumerate(names)}
    row = {int(i): j for j, i in enumerate(candidates.item_ids[0])}
    assert out[0, row[7], col["a_rank_gain"]] == pytest.approx(1.0)
    assert out[0, row[5], col["a_rank_gain"]] == pytest.approx(1 / np.log2(3))
    assert out[0, row[5], col["b_proposed"]] == 1.0 and out[0, row[7], col["b_proposed"]] == 0.0
    assert out[0, row[9], col["a_score"]] == 0.0
    assert out[0, row[5], col["blend_score"]] == pytest.approx(candidates.scores[0, row[5]])
    assert out[0, row[3], col["item"]] == 3.0 and out[0, row[3], col["user"]] == 42.0
    assert ranker_inputs(np.array([42]), candidates, NoPairFeatures()).shape == (1, 4, 7)


def test_bad_provider_output_is_explained() -> None:
    candidates = blend({"a": (np.array([[1, 2]]), np.array([[2.0, 1.0]]))}, {"a": 1.0})

    class Broken(Columns):
        def pair_features(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
            out = super().pair_features(user_ids, item_ids)
            out[0, 0, 0] = np.nan
            return out

    class Narrow(Columns):
        def pair_features(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
            return super().pair_features(user_ids, item_ids)[:, :, :1]

    with pytest.raises(ValueError, match="1 NaN or infinite values"):
        ranker_inputs(np.array([1]), candidates, Broken())
    with pytest.raises(ValueError, match=r"returned shape \(1, 2, 1\), expected \(1, 2, 2\)"):
        ranker_inputs(np.array([1]), candidates, Narrow())
    with pytest.raises(ValueError, match=r"\['a_score'\] appear twice"):
        ranker_feature_names(("a",), ("a_score",))


def _planted(n: int = 200, width: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Features where only column 2 says which candidate is relevant."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, width, 4)).astype(np.float32)
    relevant = rng.integers(0, width, size=n)
    labels = np.zeros((n, width), dtype=bool)
    labels[np.arange(n), relevant] = True
    features[np.arange(n), relevant, 2] += 3.0
    return features, labels


@pytest.mark.parametrize(
    "config",
    [FAST, FAST.model_copy(update={"loss": "pairwise"}), FAST_TREES],
    ids=["neural-listwise", "neural-pairwise", "lambdarank"],
)
def test_ranker_learns_a_planted_signal(config: RankerConfig | LambdaRankConfig) -> None:
    features, labels = _planted()
    valid = np.ones(labels.shape, dtype=bool)
    ranker = make_ranker(config).fit(features, labels, valid)
    test_x, test_y = _planted(seed=1)
    scores = ranker.score(test_x, np.ones(test_y.shape, dtype=bool))
    top1 = test_y[np.arange(len(test_y)), np.argmax(scores, axis=1)].mean()
    assert top1 > 0.8  # random would be 1/12


def test_the_blend_prior_is_the_blend_score_standardised_within_each_list() -> None:
    names = ("x", "blend_score")
    features = np.zeros((3, 4, 2), dtype=np.float32)
    features[0, :, 1] = [4.0, 3.0, 2.0, 1.0]
    features[1, :, 1] = [9.0, 7.0, 0.0, 0.0]  # two valid candidates, two padding
    features[2, :, 1] = 5.0  # constant: no order to keep
    valid = np.array([[True] * 4, [True, True, False, False], [True] * 4])
    prior = blend_prior(features, valid, names)
    assert prior.dtype == np.float32 and prior.shape == (3, 4)
    assert prior[0] == pytest.approx((np.array([4, 3, 2, 1]) - 2.5) / np.sqrt(1.25))
    assert prior[1] == pytest.approx([1.0, -1.0, 0.0, 0.0])
    assert (prior[2] == 0).all()
    assert (blend_prior(features, valid, ("x", "y")) == 0).all()  # no blend column: no prior


def _blend_lists(n: int, seed: int, width: int = 40) -> tuple[np.ndarray, ...]:
    """Lists whose ``blend_score`` column (last) is a noisy signal of relevance and whose other
    three columns are noise, the last few candidates padding."""
    rng = np.random.default_rng(seed)
    valid = np.ones((n, width), dtype=bool)
    valid[:, width - 5 :] = False
    labels = (rng.random((n, width)) < 0.1) & valid
    features = rng.normal(size=(n, width, 4)).astype(np.float32)
    features[:, :, 3] = labels + rng.normal(size=(n, width))
    features[~valid] = 0.0
    return features, labels, valid


def _top_hits(scores: np.ndarray, labels: np.ndarray, valid: np.ndarray, k: int = 10) -> float:
    order = np.argsort(-np.where(valid, scores, -np.inf), axis=1, kind="stable")[:, :k]
    return float(np.take_along_axis(labels, order, axis=1).mean())


@pytest.mark.parametrize(
    "config",
    [
        LambdaRankConfig(
            blend_weight=2.0,
            n_estimators=100,
            learning_rate=0.02,
            num_leaves=3,
            min_child_samples=200,
            reg_lambda=10.0,
        ),
        RankerConfig(blend_weight=2.0, hidden=8, weight_decay=1e-2),
    ],
    ids=["lambdarank", "neural"],
)
def test_a_ranker_correcting_the_blend_keeps_its_order_when_the_rest_is_noise(
    config: RankerConfig | LambdaRankConfig, tmp_path: Path
) -> None:
    names = ("a", "b", "c", "blend_score")
    features, labels, valid = _blend_lists(300, seed=0)
    ranker = make_ranker(config).fit(features, labels, valid, names)
    test_x, test_y, test_valid = _blend_lists(300, seed=1)
    scores = ranker.score(test_x, test_valid)
    blend_hits = _top_hits(test_x[:, :, 3], test_y, test_valid)
    assert _top_hits(scores, test_y, test_valid) >= blend_hits - 0.005
    loaded = load_ranker(ranker.save(tmp_path / "r"))
    assert np.array_equal(loaded.score(test_x, test_valid), scores)


def test_the_neural_correction_starts_from_the_blend_order() -> None:
    names = ("a", "b", "c", "blend_score")
    features, labels, valid = _blend_lists(50, seed=2)
    config = RankerConfig(blend_weight=1.0, epochs=1, learning_rate=1e-9)
    scores = NeuralRanker(config).fit(features, labels, valid, names).score(features, valid)
    order = np.argsort(-scores, axis=1, kind="stable")
    expected = np.argsort(-np.where(valid, features[:, :, 3], -np.inf), axis=1, kind="stable")
    assert np.array_equal(order[valid.sum(1) > 0][:, :35], expected[:, :35])


@pytest.mark.parametrize("kind", list(CONFIGS))
def test_ranker_is_seeded_and_round_trips_through_its_kind(kind: str, tmp_path: Path) -> None:
    features, labels = _planted(n=60)
    valid = np.ones(labels.shape, dtype=bool)
    valid[:, -2:] = False
    names = ("w", "x", "y", "z")
    a = make_ranker(CONFIGS[kind]).fit(features, labels, valid, names)
    b = make_ranker(CONFIGS[kind]).fit(features, labels, valid, names)
    assert type(a) is RANKERS[kind] and a.kind == kind
    assert np.array_equal(a.score(features, valid), b.score(features, valid))
    assert np.isneginf(a.score(features, valid)[:, -2:]).all()
    loaded = load_ranker(a.save(tmp_path / "r"))
    assert type(loaded) is type(a) and loaded.config == a.config
    assert np.array_equal(loaded.score(features, valid), a.score(features, valid))
    assert loaded.feature_names == names
    manifest = json.loads((tmp_path / "r" / "model.json").read_text())
    assert manifest["kind"] == kind and manifest["config"]["kind"] == kind


def test_a_kind_refuses_another_kinds_directory(tmp_path: Path) -> None:
    features, labels = _planted(n=40)
    valid = np.ones(labels.shape, dtype=bool)
    NeuralRanker(FAST).fit(features, labels, valid).save(tmp_path / "neural")
    with pytest.raises(ModelFormatError, match="holds a 'neural' model, not a 'lambdarank'"):
        LambdaRanker.load(tmp_path / "neural")
    with pytest.raises(ModelFormatError, match="not a saved model directory"):
        load_ranker(tmp_path / "nothing")


def test_load_ranker_refuses_a_source_model(tmp_path: Path) -> None:
    tiny = planted_tastes(5, n_cold=0, n_clusters=1, items_per_cluster=4, plays=2)
    PopularityRecommender().fit(tiny.interactions()).save(tmp_path / "pop")
    with pytest.raises(ModelFormatError, match="not a ranker; ranker kinds: neural, lambdarank"):
        load_ranker(tmp_path / "pop")


@pytest.mark.parametrize("kind", list(CONFIGS))
def test_bad_inputs_are_explained(kind: str, tmp_path: Path) -> None:
    features, labels = _planted(n=20)
    valid = np.ones(labels.shape, dtype=bool)
    config = CONFIGS[kind]
    with pytest.raises(NotFittedError, match="ranker is not fitted"):
        make_ranker(config).score(features, valid)
    with pytest.raises(NotFittedError, match="ranker is not fitted"):
        make_ranker(config).save(tmp_path / "unfitted")
    broken = features.copy()
    broken[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="1 NaN or infinite values"):
        make_ranker(config).fit(broken, labels, valid)
    ranker: Ranker = make_ranker(config).fit(features, labels, valid)
    broken[0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        ranker.score(broken, valid)
    with pytest.raises(ValueError, match="trained on 4 features"):
        ranker.score(features[:, :, :3], valid)
    with pytest.raises(ValueError, match="nothing to learn"):
        make_ranker(config).fit(features, np.zeros_like(labels), valid)
    with pytest.raises(ValueError, match="matching labels and mask"):
        make_ranker(config).fit(features, labels, valid[:, :3])
    with pytest.raises(ValueError, match="3 feature names for 4 columns"):
        make_ranker(config).fit(features, labels, valid, ("a", "b", "c"))
    with pytest.raises(ModelFormatError, match="not a saved model directory"):
        RANKERS[kind].load(tmp_path)
