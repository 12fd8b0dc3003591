"""Validation tuning: source grids, blend weights and the ranker gate, never the test split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core import columns as c
from core.errors import DatasetError
from models.als import ALSConfig
from models.ensemble import EnsembleConfig, blend
from models.lambdarank import LambdaRankConfig
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
FAST_TREES = LambdaRankConfig(n_estimators=30, min_child_samples=10)
SMALL_ALS = {"als": ALSConfig(factors=8, iterations=8, regularization=0.05, alpha=10.0)}


@pytest.mark.slow
def test_tuning_picks_weights_and_configs_on_validation(planted: PlantedFactory) -> None:
    train = planted(120, n_cold=0).events
    grids = {"popularity": [PopularityConfig(), PopularityConfig(half_life_days=7.0)]}
    pipeline, report = fit_tuned_pipeline(
        train,
        "stratified_75_25",
        ["als", "popularity"],
        {"als": ALSConfig(factors=16, iterations=10, regularization=0.05, alpha=10.0)},
        rankers=(FAST_RANKER, FAST_TREES),
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
    assert set(check) == {
        *("blend_ndcg", "n_ranker_users", "kinds", "best_kind", "ranker_ndcg_2fold"),
        *("gain", "gain_se", "passed"),
    }
    assert set(check["kinds"]) == set(report.ranker_scores) == {"neural", "lambdarank"}
    assert report.ranker_kind == check["best_kind"]
    assert report.ranker_ndcg == max(report.ranker_scores.values())
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
    pipeline, report = fit_tuned_pipeline(
        train, "leave_last_1", ["popularity"], rankers=(FAST_RANKER,)
    )
    assert pipeline.ranker is None and not report.use_ranker
    assert "nothing to learn" in report.model_choices["ranker_check"]["skipped"]


class Watched:
    """Pair features that reveal relevance: 1 where ``frame`` has the user play the item (the
    whole training frame, so the validation items too: a leak on purpose, to help)."""

    names = ("watched",)

    def __init__(self, frame: pd.DataFrame) -> None:
        plays = frame[frame[c.EVENT_TYPE] == "play"]
        self.pairs = set(zip(plays[c.USER_ID], plays[c.VIDEO_ID], strict=True))

    def pair_features(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        out = np.zeros((*item_ids.shape, 1), dtype=np.float32)
        for i, user in enumerate(user_ids.tolist()):
            for j, item in enumerate(item_ids[i].tolist()):
                out[i, j, 0] = (user, item) in self.pairs
        return out


#: A config of each kind that cannot learn: no tree splits, or one step of a tiny rate.
CRIPPLED = {
    "lambdarank": LambdaRankConfig(min_child_samples=1_000_000),
    "neural": RankerConfig(epochs=1, learning_rate=1e-6, seed=3),
}


@pytest.mark.parametrize("good", ["neural", "lambdarank"])
def test_tuning_keeps_the_kind_with_the_better_cross_validated_score(
    planted: PlantedFactory, good: str
) -> None:
    train = planted(80, n_cold=12, n_clusters=4, items_per_cluster=10, plays=8).events
    histories: list[pd.DataFrame] = []

    def features_for(history: pd.DataFrame) -> Watched:
        histories.append(history)
        return Watched(train)

    configs = {"neural": FAST_RANKER.model_copy(update={"epochs": 20}), "lambdarank": FAST_TREES}
    configs[next(kind for kind in configs if kind != good)] = CRIPPLED[
        next(kind for kind in configs if kind != good)
    ]
    pipeline, report = fit_tuned_pipeline(
        train,
        "temporal",
        ["als", "popularity"],
        SMALL_ALS,
        rankers=tuple(configs.values()),
        features_for=features_for,
    )
    # the provider is asked once, for the features known at the end of the inner part
    assert len(histories) == 1 and len(histories[0]) < len(train)
    assert histories[0][c.EVENT_TIMESTAMP].max() < train[c.EVENT_TIMESTAMP].max()
    assert set(report.ranker_scores) == {"neural", "lambdarank"}
    bad = next(kind for kind in configs if kind != good)
    assert report.ranker_scores[good] > report.ranker_scores[bad]
    assert report.ranker_kind == good and report.use_ranker
    assert pipeline.ranker is not None and pipeline.ranker.kind == good
    assert pipeline.ranker.feature_names[-1] == "watched"
    # only users a personal source knows are ranked (and trained on): not the cold ones
    assert 0 < report.n_ranker_users < report.n_validation_users
    assert report.model_choices["ranker_check"]["n_ranker_users"] == report.n_ranker_users
    assert report.cold_start["sources"] == ["popularity"]
    # the pipeline comes without pair features; the report's provider is the one trained on
    assert not pipeline.ranking_active and isinstance(report.pair_features, Watched)
    pipeline.attach_features(report.pair_features)
    assert pipeline.ranking_active


def test_without_rankers_or_a_provider_tuning_still_works(planted: PlantedFactory) -> None:
    train = planted(40, n_cold=0, n_clusters=2, items_per_cluster=10, plays=6).events
    pipeline, report = fit_tuned_pipeline(
        train, "temporal", ["als", "popularity"], SMALL_ALS, rankers=()
    )
    assert pipeline.ranker is None and report.pair_features is None
    assert "ranker_check" not in report.model_choices and report.ranker_kind is None
    _, report = fit_tuned_pipeline(
        train, "temporal", ["als", "popularity"], SMALL_ALS, rankers=(FAST_TREES,)
    )
    assert report.pair_features is not None and report.pair_features.names == ()
    assert set(report.ranker_scores) == {"lambdarank"}


def test_bad_tuning_inputs_are_explained(planted: PlantedFactory) -> None:
    train = planted(30, n_cold=0).events
    with pytest.raises(ValueError, match="unknown model 'wals'"):
        fit_tuned_pipeline(train, "temporal", ["wals"])
    with pytest.raises(ValueError, match="at most one config per ranker kind"):
        fit_tuned_pipeline(train, "temporal", ["popularity"], rankers=(FAST_RANKER, FAST_RANKER))
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
