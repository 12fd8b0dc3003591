"""End to end: train on a synthetic event log, log to MLflow, register, load the champion."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from core import columns as c
from core.errors import DatasetError, NotFoundError
from core.eventlog import write_events
from models.als import ALSConfig
from models.mlflow_registry import CHALLENGER, CHAMPION, DEFAULT_MODEL_NAME, load_pipeline
from tests.conftest import PlantedFactory, PlantedTastes
from training.train import PIPELINE, TrainReport, evaluate_models, train_and_log

#: Every test here shares a module fixture that trains and logs a full run (~15 s).
pytestmark = pytest.mark.slow

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


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, planted: PlantedFactory) -> Iterator[Store]:
    """The store, with a first run trained from an empty working directory, on 300 users in 6
    taste clusters of 25 items (plus 30 cold-start users)."""
    s = Store(tmp_path_factory.mktemp("train"), planted())
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(s.cwd)
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        s.first = train_and_log(s.events, s.uri, s.artifacts, source_configs={"als": ALS})
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
    parent_files = {f.path for f in client.list_artifacts(report.run_id, "plots")}
    assert parent_files == {
        "plots/ndcg_vs_k.png",
        "plots/recall_vs_k.png",
        "plots/popularity_bias.png",
    }
    assert next(store.artifacts.rglob("ndcg_vs_k.png")).read_bytes()[:4] == b"\x89PNG"
    pipeline_files = {f.path for f in client.list_artifacts(pipeline_run.info.run_id, "pipeline")}
    assert {"pipeline/pipeline.json", "pipeline/index", "pipeline/sources"} <= pipeline_files
    experiment = client.get_experiment(report.experiment_id)
    assert experiment.artifact_location == store.artifacts.resolve().as_uri()
    assert any(store.artifacts.rglob("pipeline.json"))


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


def test_a_worse_model_becomes_challenger(store: Store) -> None:
    weak = ALSConfig(factors=2, iterations=1, regularization=50.0)
    report = train_and_log(store.events, store.uri, store.artifacts, source_configs={"als": weak})
    first = store.first.metrics[PIPELINE]["ndcg_at_10"]  # type: ignore[union-attr]
    assert report.metrics[PIPELINE]["ndcg_at_10"] < first
    assert (report.model_version, report.alias) == (2, CHALLENGER)
    client = mlflow.MlflowClient(tracking_uri=store.uri, registry_uri=store.uri)
    assert int(client.get_model_version_by_alias(DEFAULT_MODEL_NAME, CHAMPION).version) == 1
    challenger = load_pipeline(alias=CHALLENGER, tracking_uri=store.uri)
    assert challenger.sources["als"].config == weak


def test_unregistered_run_and_missing_alias(store: Store) -> None:
    report = train_and_log(
        store.events,
        store.uri,
        store.artifacts,
        source_configs={"als": ALS},
        register=False,
        ranker=None,
    )
    assert report.model_version is None and report.model_uri.startswith("models:/")
    with pytest.raises(NotFoundError, match="no model version reelrank-recommender@staging"):
        load_pipeline(alias="staging", tracking_uri=store.uri)


def test_missing_event_log_and_content_without_metadata_are_explained(
    store: Store, tmp_path: Path
) -> None:
    with pytest.raises(DatasetError, match="no event log at"):
        train_and_log(tmp_path / "none.parquet", store.uri, store.artifacts, register=False)
    with pytest.raises(DatasetError, match="the content model needs item metadata"):
        evaluate_models(store.events, ("popularity", "content"), progress=False)
    with pytest.raises(ValueError, match="unknown model 'wals'"):
        evaluate_models(store.events, ("popularity", "wals"), progress=False)


def test_the_registered_model_serves_through_pyfunc(store: Store) -> None:
    from models.mlflow_registry import tracking_uri_scope

    with tracking_uri_scope(store.uri):
        model = mlflow.pyfunc.load_model(f"models:/{DEFAULT_MODEL_NAME}@{CHAMPION}")
    frame = model.predict(pd.DataFrame({c.USER_ID: [1, 88_888]}), params={"k": 3})
    assert frame[c.USER_ID].tolist() == [1, 1, 1, 88_888, 88_888, 88_888]
    assert frame[c.RANK].tolist() == [1, 2, 3, 1, 2, 3]
    assert frame[c.VIDEO_ID].between(10_000, 10_149).all()
