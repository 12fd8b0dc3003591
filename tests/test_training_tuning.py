"""Validation tuning: source grids, blend weights and the ranker gate, never the test split."""

from __future__ import annotations

import pandas as pd
import pytest

from core import columns as c
from core.errors import DatasetError
from models.als import ALSConfig
from models.popularity import PopularityConfig
from models.ranker import RankerConfig
from tests.test_training_train import planted_cluster_events
from training.tuning import default_grids, fit_tuned_pipeline

FAST_RANKER = RankerConfig(epochs=5)


def test_tuning_picks_weights_and_configs_on_validation() -> None:
    train = planted_cluster_events(n_users=120, n_cold=0)
    grids = {"popularity": [PopularityConfig(), PopularityConfig(half_life_days=7.0)]}
    pipeline, report = fit_tuned_pipeline(
        train,
        "stratified_75_25",
        ["als", "popularity"],
        {"als": ALSConfig(factors=16, iterations=10)},
        ranker=FAST_RANKER,
        grids=grids,
    )
    assert report.n_validation_users > 100
    assert sum(report.ensemble.weights.values()) == pytest.approx(1.0)
    # the personal source knows the planted clusters: it gets most of the weight
    assert report.ensemble.weights["als"] > report.ensemble.weights["popularity"]
    assert report.source_ndcg["als"] > report.source_ndcg["popularity"]
    assert report.blend_ndcg >= report.source_ndcg["als"] - 1e-9
    assert len(report.model_choices["popularity"]["trials"]) == 2
    assert set(report.model_choices["ranker_check"]) == {"blend_ndcg", "ranker_ndcg_2fold"}
    assert report.use_ranker == (report.ranker_ndcg > report.blend_ndcg)
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


def test_bad_tuning_inputs_are_explained() -> None:
    train = planted_cluster_events(n_users=30, n_cold=0)
    with pytest.raises(ValueError, match="unknown model 'wals'"):
        fit_tuned_pipeline(train, "temporal", ["wals"])
    impressions = train.assign(**{c.EVENT_TYPE: "impression"})
    with pytest.raises(DatasetError, match=r"none of the .* events is a positive interaction"):
        fit_tuned_pipeline(impressions, "temporal", ["popularity"])
    assert {"trending", "itemknn"} <= set(default_grids())
