"""What a reviewer sees in MLflow: two training runs with the same stable metric names (so
the UI compares them side by side), plots, the dataset digest and the git commit, served by
``reelrank mlflow ui`` on the project's tracking store, with the registry's champion and
challenger and the reason for each verdict."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import mlflow
import pytest

from core.eventlog import write_events
from core.paths import DataPaths
from models.als import ALSConfig
from models.mlflow_registry import CHALLENGER, CHAMPION, DEFAULT_MODEL_NAME
from tests.conftest import PlantedFactory
from tests.live_server import live_server
from training.train import EXPERIMENT, PIPELINE, RunConfig, TrackingSettings, run_training

#: Metrics every model's run logs, under these names in every training run.
STABLE = {
    f"{metric}_at_{k}"
    for metric in ("ndcg", "recall", "precision", "map", "coverage", "popularity_bias", "novelty")
    for k in (1, 5, 10, 20)
}
PLOTS = {"ndcg_vs_k.png", "recall_vs_k.png", "coverage_vs_k.png", "popularity_bias.png"}


@dataclass(frozen=True)
class Reviewed:
    """A data root whose MLflow store holds two training runs (ALS with 16 and 4 factors)."""

    root: Path
    uri: str
    events: Path
    experiment_id: str


@pytest.fixture(scope="module")
def reviewed(
    tmp_path_factory: pytest.TempPathFactory, planted: PlantedFactory
) -> Iterator[Reviewed]:
    paths = DataPaths(tmp_path_factory.mktemp("review"))
    events = write_events(planted(120, n_cold=10, n_clusters=4).events, paths.events_file)
    uri = f"sqlite:///{paths.mlflow_db}"
    base = RunConfig(
        events_path=events,
        rankers=(),
        tracking=TrackingSettings(uri=uri, artifacts_dir=paths.mlflow_artifacts),
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        for factors in (16, 4):
            als = ALSConfig(factors=factors, iterations=5)
            report = run_training(base.model_copy(update={"source_configs": {"als": als}}))
        yield Reviewed(paths.root, uri, events, report.experiment_id)


def runs_named(reviewed: Reviewed, name: str) -> list[mlflow.entities.Run]:
    """The runs called ``name`` (``train`` or a model), oldest first."""
    client = mlflow.MlflowClient(tracking_uri=reviewed.uri)
    found = client.search_runs(
        [reviewed.experiment_id],
        f"tags.mlflow.runName = '{name}'",
        order_by=["attributes.start_time ASC"],
    )
    assert len(found) == 2, f"{len(found)} runs named {name}"
    return list(found)


@pytest.mark.parametrize("name", ["popularity", "als", PIPELINE])
def test_both_runs_log_the_same_stable_metric_names(reviewed: Reviewed, name: str) -> None:
    first, second = runs_named(reviewed, name)
    assert set(first.data.metrics) >= STABLE
    assert set(first.data.metrics) == set(second.data.metrics)
    for run in (first, second):
        assert 0 < run.data.metrics["ndcg_at_10"] < 1
        assert 0 < run.data.metrics["coverage_at_10"] <= 1
    if name != "popularity":
        assert (first.data.params["als.factors"], second.data.params["als.factors"]) == ("16", "4")


def test_each_training_run_has_plots_dataset_digest_and_commit(reviewed: Reviewed) -> None:
    client = mlflow.MlflowClient(tracking_uri=reviewed.uri)
    sha = hashlib.sha256(reviewed.events.read_bytes()).hexdigest()
    for run in runs_named(reviewed, "train"):
        plots = {Path(f.path).name for f in client.list_artifacts(run.info.run_id, "plots")}
        assert plots == PLOTS
        local = client.download_artifacts(run.info.run_id, "plots/coverage_vs_k.png")
        assert Path(local).read_bytes()[:4] == b"\x89PNG"
        assert run.data.tags["dataset.sha256"] == sha
        commit = run.data.tags["code_version"].removesuffix("+dirty")
        assert len(commit) == 40 and run.data.tags["mlflow.source.git.commit"] == commit
        (used,) = run.inputs.dataset_inputs
        assert (used.dataset.name, used.dataset.digest) == ("events", sha[:32])


def test_mlflow_ui_serves_the_runs_plots_and_champion(reviewed: Reviewed) -> None:
    with live_server(reviewed.root, command=("mlflow", "ui")) as url:
        api = f"{url}/api/2.0/mlflow"
        experiment = httpx.get(
            f"{api}/experiments/get-by-name", params={"experiment_name": EXPERIMENT}
        ).json()["experiment"]
        assert experiment["experiment_id"] == reviewed.experiment_id
        found = httpx.post(
            f"{api}/runs/search",
            json={
                "experiment_ids": [reviewed.experiment_id],
                "filter": f"tags.mlflow.runName = '{PIPELINE}'",
            },
        ).json()["runs"]
        assert len(found) == 2
        for run in found:
            assert {metric["key"] for metric in run["data"]["metrics"]} >= STABLE
        parent = runs_named(reviewed, "train")[0].info.run_id
        listed = httpx.get(
            f"{url}/ajax-api/2.0/mlflow/artifacts/list", params={"run_id": parent, "path": "plots"}
        ).json()["files"]
        assert {Path(f["path"]).name for f in listed} == PLOTS
        png = httpx.get(
            f"{url}/get-artifact", params={"path": "plots/ndcg_vs_k.png", "run_uuid": parent}
        )
        assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
        model = httpx.get(
            f"{api}/registered-models/get", params={"name": DEFAULT_MODEL_NAME}
        ).json()["registered_model"]
        aliases = {alias["alias"]: alias["version"] for alias in model["aliases"]}
        assert CHAMPION in aliases
        versions = {
            v["version"]: v
            for v in httpx.get(
                f"{api}/model-versions/search", params={"filter": f"name='{DEFAULT_MODEL_NAME}'"}
            ).json()["model_versions"]
        }
        assert versions["1"]["description"] == "first model: no champion yet"
        second = versions["2"]["description"]
        if aliases[CHAMPION] == "2":
            assert "beats the champion v1's" in second and "no guardrail is lost" in second
        else:
            assert aliases == {CHAMPION: "1", CHALLENGER: "2"}
            assert "does not beat the champion v1's" in second or "but it loses" in second
        tags = {t["key"]: t["value"] for t in versions["2"]["tags"]}
        assert tags["promotion_reason"] == second
        assert httpx.get(url).status_code == 200  # the UI's page
