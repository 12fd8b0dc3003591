"""End to end: train on a synthetic event log, log to MLflow, register, load the champion.

The runs blend without the rankers (their training dominates a run's time) except one slow
test of the default config; a second registration and an unregistered run are slow tests too (each
full run logs a model to MLflow).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from core import columns as c
from core.errors import DatasetError, NotFoundError
from core.eventlog import write_events
from models.als import ALSConfig
from models.itemknn import ItemKNNConfig
from models.mlflow_registry import (
    CHALLENGER,
    CHAMPION,
    DEFAULT_MODEL_NAME,
    load_pipeline,
    tracking_uri_scope,
)
from tests.conftest import PlantedFactory, PlantedTastes
from training.promotion import decide
from training.train import (
    PIPELINE,
    Evaluation,
    LoggedRun,
    RegistrationSettings,
    RunConfig,
    TrackingSettings,
    TrainReport,
    register_served,
    run_evaluation,
    run_training,
)
from training.tuning import DEFAULT_RANKERS

ALS = ALSConfig(factors=16, iterations=10, alpha=5.0, regularization=0.1)


class Store:
    """A temporary MLflow store and the first training run logged into it."""

    def __init__(self, root: Path, tastes: PlantedTastes) -> None:
        self.root = root
        self.tastes = tastes
        self.events = write_events(tastes.events, root / "events" / "events.parquet")
        self.uri = f"sqlite:///{root / 'mlflow' / 'mlflow.db'}"
        self.artifacts = root / "mlflow" / "artifacts"
        self.cwd = root / "cwd"
        self.cwd.mkdir()
        self.first: TrainReport | None = None

    def config(self, **changes: object) -> RunConfig:
        """A run on this store's event log and MLflow store, ALS as ``ALS`` and no rankers
        unless changed."""
        base = RunConfig(
            events_path=self.events,
            source_configs={"als": ALS},
            rankers=(),
            tracking=TrackingSettings(uri=self.uri, artifacts_dir=self.artifacts),
        )
        return base.model_copy(update=changes)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, planted: PlantedFactory) -> Iterator[Store]:
    """The store, with a first run trained from an empty working directory, on 300 users in 6
    taste clusters of 25 items (plus 30 cold-start users)."""
    s = Store(tmp_path_factory.mktemp("train"), planted())
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(s.cwd)
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        s.first = run_training(s.config())
        yield s


def test_pipeline_beats_popularity_at_every_k(store: Store) -> None:
    report = store.first
    assert report is not None
    assert set(report.metrics) == {"popularity", "als", PIPELINE}
    pipe, pop = report.metrics[PIPELINE], report.metrics["popularity"]
    names = ("ndcg", "precision", "recall", "map", "hit_rate", "mrr", "coverage", "novelty")
    assert {f"{n}_at_{k}" for n in names for k in (1, 5, 10, 20)} <= set(pipe)
    assert "popularity_bias_at_10" in pipe
    assert pipe["ndcg_at_10"] > pop["ndcg_at_10"] + 0.1
    assert pipe["recall_at_20"] > pop["recall_at_20"]
    assert pipe["popularity_bias_at_10"] < pop["popularity_bias_at_10"]
    assert report.tuning["weights"] and report.tuning["normalisation"] in ("minmax", "rank", "rrf")
    assert report.n_cold_start_users > 0
    assert report.n_test_users > report.n_cold_start_users
    assert report.n_train_events + report.n_test_events == report.n_events


def test_runs_record_params_metrics_dataset_and_code(store: Store) -> None:
    report = store.first
    assert report is not None
    client = mlflow.MlflowClient(tracking_uri=store.uri)
    expected_sha = hashlib.sha256(store.events.read_bytes()).hexdigest()
    assert report.dataset_sha256 == expected_sha
    for name, run_id in report.model_runs.items():
        run = client.get_run(run_id)
        assert run.data.metrics["ndcg_at_10"] == pytest.approx(report.metrics[name]["ndcg_at_10"])
        assert run.data.tags["dataset.sha256"] == expected_sha
        assert run.data.tags["code_version"] == report.code_version
        assert run.data.tags["mlflow.parentRunId"] == report.run_id
        if name != "als":
            assert run.data.params["popularity.half_life_days"] == "None"
    als_run = client.get_run(report.model_runs["als"])
    assert als_run.data.params["als.factors"] == "16"
    assert als_run.data.params["k"] == "10"
    pipeline_run = client.get_run(report.model_runs[PIPELINE])
    assert pipeline_run.data.params["pipeline.sources"] == "['popularity', 'als']"
    assert pipeline_run.data.params["ranker_kind"] == "none"  # no ranker was tried
    parent_files = {f.path for f in client.list_artifacts(report.run_id, "plots")}
    assert parent_files == {
        "plots/ndcg_vs_k.png",
        "plots/recall_vs_k.png",
        "plots/coverage_vs_k.png",
        "plots/popularity_bias.png",
    }
    assert next(store.artifacts.rglob("ndcg_vs_k.png")).read_bytes()[:4] == b"\x89PNG"
    pipeline_files = {f.path for f in client.list_artifacts(pipeline_run.info.run_id, "pipeline")}
    assert {"pipeline/pipeline.json", "pipeline/index", "pipeline/sources"} <= pipeline_files
    experiment = client.get_experiment(report.experiment_id)
    assert experiment.artifact_location == store.artifacts.resolve().as_uri()
    assert any(store.artifacts.rglob("pipeline.json"))


def test_every_metric_is_logged_exactly_once(store: Store) -> None:
    report = store.first
    assert report is not None
    client = mlflow.MlflowClient(tracking_uri=store.uri)
    runs = {"train": report.run_id, **report.model_runs}
    for run_name, run_id in runs.items():
        for key in client.get_run(run_id).data.metrics:
            history = client.get_metric_history(run_id, key)
            assert len(history) == 1, f"{key} logged {len(history)} times in run {run_name}"
    # each model's metrics are in its own run only: none is repeated on the parent run
    assert client.get_run(report.run_id).data.metrics == {}
    validation = {
        f"validation_ranker_{kind}_ndcg_at_10"
        for kind in report.tuning["validation_ranker_ndcg_at_10_by_kind"]
    }
    for name, values in report.metrics.items():
        extra = validation if name == PIPELINE else set()
        assert set(client.get_run(report.model_runs[name]).data.metrics) == set(values) | extra


def test_nothing_is_written_to_the_working_directory(store: Store) -> None:
    assert list(store.cwd.iterdir()) == []


def test_first_version_is_champion_and_loads(store: Store) -> None:
    report = store.first
    assert report is not None
    assert (report.model_name, report.model_version, report.alias) == (
        DEFAULT_MODEL_NAME,
        1,
        CHAMPION,
    )
    pipeline = load_pipeline(DEFAULT_MODEL_NAME, CHAMPION, tracking_uri=store.uri)
    users = np.array([1, 2, 3, 77_777])
    ids, _ = pipeline.recommend(users, 10)
    assert ids.shape == (4, 10) and np.all(ids >= 10_000)
    assert pipeline.personalized(users).tolist() == [True, True, True, False]
    # the served pipeline was refitted on all events: it knows the cold-start users
    assert pipeline.personalized(np.array([330])).all()
    # personal recommendations come mostly from the user's own cluster
    clusters = store.tastes.cluster_of_item(ids[:3])
    assert np.mean(clusters == store.tastes.cluster_of_user(users[:3])[:, None]) > 0.8


@pytest.mark.slow
def test_a_worse_model_becomes_challenger(store: Store) -> None:
    weak = ALSConfig(factors=2, iterations=1, regularization=50.0)
    report = run_training(store.config(source_configs={"als": weak}))
    first = store.first.metrics[PIPELINE]["ndcg_at_10"]  # type: ignore[union-attr]
    assert report.metrics[PIPELINE]["ndcg_at_10"] < first
    assert (report.model_version, report.alias) == (2, CHALLENGER)
    client = mlflow.MlflowClient(tracking_uri=store.uri, registry_uri=store.uri)
    assert int(client.get_model_version_by_alias(DEFAULT_MODEL_NAME, CHAMPION).version) == 1
    # the champion was scored again on this run's holdout, not read from its old run
    promotion = report.promotion
    assert promotion is not None and not promotion.promote and promotion.champion is not None
    assert promotion.champion_version == 1
    assert promotion.champion["ndcg_at_10"] > promotion.challenger["ndcg_at_10"]
    assert "does not beat the champion v1" in promotion.reason
    version = client.get_model_version(DEFAULT_MODEL_NAME, "2")
    assert version.description == promotion.reason
    assert version.tags["promotion_reason"] == promotion.reason
    challenger = load_pipeline(alias=CHALLENGER, tracking_uri=store.uri)
    assert challenger.sources["als"].config == weak


def test_registration_can_be_turned_off(store: Store) -> None:
    logged = LoggedRun(experiment_id="0", run_id="r", model_runs={}, model_uri="models:/m-1")
    scores = Evaluation(metrics={PIPELINE: {"ndcg_at_10": 1.0}}, recommended={})
    off = store.config(registration=RegistrationSettings(enabled=False))
    decision = decide(scores.metrics[PIPELINE], None)
    assert register_served(off, logged, scores, decision) is None  # without touching MLflow


@pytest.mark.slow
def test_unregistered_run_and_missing_alias(store: Store) -> None:
    report = run_training(store.config(registration=RegistrationSettings(enabled=False)))
    assert report.model_version is None and report.model_uri.startswith("models:/")
    with pytest.raises(NotFoundError, match="no model version reelrank-recommender@staging"):
        load_pipeline(alias="staging", tracking_uri=store.uri)


@pytest.mark.slow
def test_the_default_ranker_is_tried_logged_and_served(store: Store) -> None:
    config = store.config(rankers=DEFAULT_RANKERS, registration=RegistrationSettings(enabled=False))
    report = run_training(config)
    by_kind = report.tuning["validation_ranker_ndcg_at_10_by_kind"]
    assert set(by_kind) == {"neural", "lambdarank"}  # both kinds were tried
    assert report.tuning["ranker_kind"] == max(by_kind, key=by_kind.__getitem__)
    assert report.metrics[PIPELINE]["ndcg_at_10"] > report.metrics["popularity"]["ndcg_at_10"]
    run = mlflow.MlflowClient(tracking_uri=store.uri).get_run(report.model_runs[PIPELINE])
    for kind, value in by_kind.items():
        assert run.data.metrics[f"validation_ranker_{kind}_ndcg_at_10"] == pytest.approx(value)
    assert run.data.params["ranker_kind"] == report.tuning["ranker_kind"]
    ranker_params = {k for k in run.data.params if k.startswith("ranker.")}
    assert bool(ranker_params) == report.tuning["use_ranker"]
    with tracking_uri_scope(store.uri):
        served = mlflow.pyfunc.load_model(report.model_uri)
    assert len(served.predict(pd.DataFrame({c.USER_ID: [1]}), params={"k": 5})) == 5


def test_missing_event_log_and_content_without_metadata_are_explained(
    store: Store, tmp_path: Path
) -> None:
    with pytest.raises(DatasetError, match="no event log at"):
        run_training(store.config(events_path=tmp_path / "none.parquet"))
    with pytest.raises(DatasetError, match="the content model needs item metadata"):
        run_evaluation(store.config(models=("popularity", "content")))
    with pytest.raises(ValueError, match="unknown model 'wals'"):
        run_evaluation(store.config(models=("popularity", "wals")))


def test_the_registered_model_serves_through_pyfunc(store: Store) -> None:
    with tracking_uri_scope(store.uri):
        model = mlflow.pyfunc.load_model(f"models:/{DEFAULT_MODEL_NAME}@{CHAMPION}")
    frame = model.predict(pd.DataFrame({c.USER_ID: [1, 88_888]}), params={"k": 3})
    assert frame[c.USER_ID].tolist() == [1, 1, 1, 88_888, 88_888, 88_888]
    assert frame[c.RANK].tolist() == [1, 2, 3, 1, 2, 3]
    assert frame[c.VIDEO_ID].between(10_000, 10_149).all()


def test_a_run_config_round_trips_through_json_with_each_family_config(tmp_path: Path) -> None:
    config = RunConfig(
        events_path=tmp_path / "events.parquet",
        models=("als", "itemknn"),
        source_configs={"als": ALS, "itemknn": ItemKNNConfig(neighbours=7)},
    )
    again = RunConfig.model_validate_json(config.model_dump_json())
    assert again == config
    assert isinstance(again.source_configs["als"], ALSConfig)
    assert again.source_configs["itemknn"] == ItemKNNConfig(neighbours=7)


@pytest.mark.parametrize(
    ("configs", "message"),
    [({"nope": {}}, "unknown model 'nope'"), ({"als": {"factorz": 3}}, "factorz")],
)
def test_a_run_config_refuses_unknown_families_and_fields(
    tmp_path: Path, configs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        RunConfig.model_validate({"events_path": str(tmp_path), "source_configs": configs})
