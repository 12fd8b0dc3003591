"""Validation tuning: source grids, blend weights and the ranker gate, never the test split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core import columns as c
from core.errors import DatasetError
from models.als import ALSConfig
from models.ensemble import EnsembleConfig, blend
from models.popularity import PopularityConfig
from models.ranker import RankerConfig
from tests.conftest import PlantedFactory
from tests.test_models_ensemble import A_IDS, A_SCORES, B_IDS, B_SCORES
from training.metrics import ndcg_at_k
from training.tuning import (
    GATE_Z,
    blend_ndcg,
    default_grids,
    fit_tuned_pipeline,
    gain_check,
    tune_weights,
    weight_grid,
)

FAST_RANKER = RankerConfig(epochs=5)


@pytest.mark.slow
def test_tuning_picks_weights_and_configs_on_validation(planted: PlantedFactory) -> None:
    train = planted(120, n_cold=0).events
    grids = {"popularity": [PopularityConfig(), PopularityConfig(half_life_days=7.0)]}
    pipeline, report = fit_tuned_pipeline(
        train,
        "stratified_75_25",
        ["als", "popularity"],
        {"als": ALSConfig(factors=16, iterations=10, regularization=0.05, alpha=10.0)},
        ranker=FAST_RANKER,
        grids=grids,
    )
    assert report.n_validation_users > 100
    assert sum(report.ensemble.weights.values()) == pytest.approx(1.0)
    # the personal source knows the planted clusters: it gets most of the weight
    assert report.ensemble.weights["als"] > report.ensemble.weights.get("popularity", 0.0)
    assert report.source_ndcg["als"] > report.source_ndcg["popularity"]
    assert report.blend_ndcg >= report.source_ndcg["als"] - 1e-9
    assert len(report.model_choices["popularity"]["trials"]) == 2
    check = report.model_choices["ranker_check"]
    assert set(check) == {"blend_ndcg", "ranker_ndcg_2fold", "gain", "gain_se", "passed"}
    assert check["gain"] == pytest.approx(report.ranker_ndcg - report.blend_ndcg)
    assert report.use_ranker == check["passed"] == (check["gain"] > GATE_Z * check["gain_se"])
    blend_check = report.model_choices["blend_check"]
    assert blend_check["best_source"] == "als"
    if not blend_check["passed"]:  # the blend did not clearly beat ALS alone: ALS is served
        assert report.ensemble.weights == {"als": 1.0}
    assert (pipeline.ranker is not None) == report.use_ranker
    assert pipeline.config.ensemble == report.ensemble
    # the served pipeline is refitted on the whole training frame
    assert pipeline.interactions.nnz > 0
    assert set(pipeline.interactions.user_ids) == set(train[c.USER_ID])


def test_a_split_too_small_for_the_ranker_leaves_it_off() -> None:
    rows = [(u, v, d) for u in (1, 2) for v, d in ((10, 0), (11, 1), (12, 2), (13, 3))]
    train = pd.DataFrame(rows, columns=[c.USER_ID, c.VIDEO_ID, "day"])
    train[c.EVENT_TYPE] = "play"
    train[c.EVENT_TIMESTAMP] = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(
        train.pop("day"), unit="D"
    )
    pipeline, report = fit_tuned_pipeline(train, "leave_last_1", ["popularity"], ranker=FAST_RANKER)
    assert pipeline.ranker is None and not report.use_ranker
    assert "nothing to learn" in report.model_choices["ranker_check"]["skipped"]


def test_bad_tuning_inputs_are_explained(planted: PlantedFactory) -> None:
    train = planted(30, n_cold=0).events
    with pytest.raises(ValueError, match="unknown model 'wals'"):
        fit_tuned_pipeline(train, "temporal", ["wals"])
    impressions = train.assign(**{c.EVENT_TYPE: "impression"})
    with pytest.raises(DatasetError, match=r"none of the .* events is a positive interaction"):
        fit_tuned_pipeline(impressions, "temporal", ["popularity"])
    assert {"trending", "itemknn", "rp3beta"} <= set(default_grids())


def test_gain_check_needs_a_gain_beyond_the_noise() -> None:
    relevant = [{1}, {2}, {3}, {4}]
    hit = np.array([[1], [2], [3], [4]])
    miss = np.array([[9], [9], [9], [9]])
    clear = gain_check(hit, miss, relevant, k=1)
    assert clear == {"gain": 1.0, "gain_se": 0.0, "passed": True}
    mixed = np.array([[1], [9], [9], [9]])  # one user better: mean gain 0.25, se 0.25
    noisy = gain_check(mixed, miss, relevant, k=1)
    assert noisy["gain"] == pytest.approx(0.25) and noisy["gain_se"] == pytest.approx(0.25)
    assert not noisy["passed"] and not gain_check(miss, miss, relevant, k=1)["passed"]
    with pytest.raises(ValueError, match="no validation user has a relevant item"):
        gain_check(hit, miss, [set(), set(), set(), set()], k=1)


def test_tuning_finds_the_source_that_knows_the_answer() -> None:
    rng = np.random.default_rng(0)
    n = 40
    truth = rng.integers(0, 1000, size=n)
    good = np.column_stack([truth, rng.integers(1000, 2000, size=(n, 4))])
    noise = rng.integers(2000, 3000, size=(n, 5))
    scores = np.tile(np.arange(5, 0, -1, dtype=np.float32), (n, 1))
    lists = {"noise": (noise, scores), "good": (good, scores)}
    blends = {m: blend(lists, {"noise": 0.5, "good": 0.5}, m) for m in ("minmax", "rank")}
    relevant = [{int(t)} for t in truth]
    config, value, trials = tune_weights(blends, relevant, k=1, step=0.25)
    assert value == 1.0
    chosen = blends[config.normalisation].reweighted(config.weights)
    assert np.array_equal(chosen.item_ids[:, 0], truth)
    assert config.weights["good"] > config.weights["noise"]
    assert len(trials) == 2 * 5  # 5 weightings of two sources per normalisation
    assert isinstance(config, EnsembleConfig)


def test_blend_ndcg_matches_the_metric() -> None:
    out = blend({"a": (A_IDS, A_SCORES), "b": (B_IDS, B_SCORES)}, {"a": 0.3, "b": 0.7})
    relevant = [{12, 99}, {21}]
    labels = np.array(
        [[i in r for i in row] for row, r in zip(out.item_ids, relevant, strict=True)]
    )
    value = blend_ndcg(out, labels, np.array([2, 1]), np.array([0.3, 0.7], np.float32), 3)
    assert value == pytest.approx(ndcg_at_k(out.item_ids, relevant, 3))


def test_bad_weight_tuning_inputs_are_explained() -> None:
    with pytest.raises(ValueError, match="no validation user has a relevant item"):
        tune_weights({"minmax": blend({"a": (A_IDS, A_SCORES)}, {"a": 1.0})}, [set(), set()])
    with pytest.raises(ValueError, match="grid step"):
        weight_grid(("a",), 0.0)
