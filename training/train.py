"""One training run: split the event log, fit, evaluate, log to MLflow, register the pipeline.

The served model is refitted on the whole event log (same configs) after evaluation: the
newest users, items and interactions are what a streaming service most needs to know, and the
holdout metrics of the train-split fit are the estimate of its quality.
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from core.errors import DatasetError
from core.eventlog import read_events
from models.als import ALSConfig, ALSRecommender
from models.faiss_index import ItemIndex
from models.interactions import Interactions, Weighting
from models.pipeline import RecommendationPipeline
from models.popularity import PopularityConfig, PopularityRecommender
from models.registry import (
    DEFAULT_MODEL_NAME,
    log_pipeline,
    register_pipeline,
    tracking_uri_scope,
)
from training.evaluate import build_holdout, evaluate
from training.splits import temporal_split

EXPERIMENT = "reelrank"


class TrainReport(BaseModel):
    """What a training run measured, logged and registered."""

    experiment_id: str
    run_id: str
    model_runs: dict[str, str]
    metrics: dict[str, dict[str, float]]
    dataset_sha256: str
    code_version: str
    n_events: int
    n_train_events: int
    n_test_events: int
    n_test_users: int
    n_cold_start_users: int
    served_model: Literal["refit_on_all_events"] = "refit_on_all_events"
    model_uri: str
    model_name: str | None = None
    model_version: int | None = None
    alias: str | None = None

    def summary(self) -> str:
        """One human-readable line for the CLI."""
        scores = ", ".join(
            f"{name} NDCG@10={values.get('ndcg_at_10', float('nan')):.4f}"
            for name, values in self.metrics.items()
        )
        served = (
            f"registered {self.model_name} v{self.model_version} as @{self.alias}"
            if self.model_name
            else f"logged {self.model_uri}"
        )
        return (
            f"{scores} on {self.n_test_users} test users ({self.n_cold_start_users} cold start); "
            f"{served}; MLflow run {self.run_id}"
        )


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def code_version() -> str:
    """The git commit of this checkout (``+dirty`` with uncommitted changes), or ``unknown``."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10
        )
        if commit.returncode != 0:
            return "unknown"
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit.stdout.strip() + ("+dirty" if status.stdout.strip() else "")


def _experiment_id(artifacts_dir: Path) -> str:
    """The ``reelrank`` experiment, created with its artifacts under ``artifacts_dir``."""
    import mlflow

    existing = mlflow.get_experiment_by_name(EXPERIMENT)
    if existing is not None:
        return existing.experiment_id
    artifacts_dir.mkdir(parents=True, exist_ok=True)
    return mlflow.create_experiment(EXPERIMENT, artifact_location=artifacts_dir.resolve().as_uri())


def train_and_log(
    events_path: Path,
    tracking_uri: str,
    artifacts_dir: Path,
    popularity: PopularityConfig = PopularityConfig(),  # noqa: B008 - frozen
    als: ALSConfig = ALSConfig(),  # noqa: B008 - frozen
    k: int = 10,
    register: bool = True,
    test_fraction: float = 0.2,
    split_by: Literal["time", "events"] = "time",
    weight: Weighting = "count",
    model_name: str = DEFAULT_MODEL_NAME,
) -> TrainReport:
    """Fit popularity and the ALS pipeline on a temporal split, log both runs, register.

    Popularity and the pipeline (ALS for known users, popularity for cold-start users) are
    evaluated at ``k`` on test users' new positive items; the served pipeline is refitted on
    all events and registered, aliased ``champion`` unless it scores below the champion.
    """
    import mlflow

    try:
        frame = read_events(events_path)
    except FileNotFoundError as exc:
        raise DatasetError(str(exc)) from exc
    dataset_sha256 = file_sha256(events_path)
    version = code_version()
    train, test = temporal_split(frame, test_fraction, by=split_by)
    train_interactions = Interactions.from_events(train, weight)
    holdout = build_holdout(train_interactions, test)

    pop_model = PopularityRecommender(popularity).fit(train_interactions)
    als_model = ALSRecommender(als).fit(train_interactions)
    pipeline = RecommendationPipeline(pop_model, als_model, ItemIndex.from_model(als_model))
    metrics = {
        "popularity": evaluate(pop_model.recommend, holdout, k),
        "als": evaluate(pipeline.recommend, holdout, k),
    }
    # the registry ranks versions by NDCG@10 whatever k the report uses
    score = metrics["als"].get("ndcg_at_10")
    if score is None:
        score = evaluate(pipeline.recommend, holdout, 10)["ndcg_at_10"]
    served = RecommendationPipeline.fit(Interactions.from_events(frame, weight), popularity, als)

    common = {
        "k": k,
        "test_fraction": test_fraction,
        "split_by": split_by,
        "weight": weight,
        "n_events": len(frame),
        "n_train_events": len(train),
        "n_test_events": len(test),
        "n_test_users": holdout.n_users,
        "n_cold_start_users": int(holdout.cold_start.sum()),
    }
    tags = {
        "dataset.sha256": dataset_sha256,
        "dataset.path": str(events_path),
        "code_version": version,
        "served_model": "refit_on_all_events",
    }
    model_runs: dict[str, str] = {}
    with tracking_uri_scope(tracking_uri), tempfile.TemporaryDirectory() as tmp:
        experiment_id = _experiment_id(artifacts_dir)
        with mlflow.start_run(experiment_id=experiment_id, run_name="train") as parent:
            mlflow.set_tags(tags)
            mlflow.log_params(common | popularity.flat("popularity") | als.flat("als"))
            with mlflow.start_run(
                experiment_id=experiment_id, run_name="popularity", nested=True
            ) as run:
                mlflow.set_tags(tags)
                mlflow.log_params(common | popularity.flat("popularity"))
                mlflow.log_metrics(metrics["popularity"])
                mlflow.log_artifacts(str(pop_model.save(Path(tmp) / "popularity")), "model")
                model_runs["popularity"] = run.info.run_id
            with mlflow.start_run(
                experiment_id=experiment_id, run_name="als-pipeline", nested=True
            ) as run:
                mlflow.set_tags(tags)
                mlflow.log_params(common | popularity.flat("popularity") | als.flat("als"))
                mlflow.log_metrics(metrics["als"])
                mlflow.log_artifacts(str(pipeline.save(Path(tmp) / "train-split")), "pipeline")
                model_runs["als"] = run.info.run_id
            mlflow.log_metrics(metrics["als"])
            model_uri = log_pipeline(served.save(Path(tmp) / "served"))
    report = TrainReport(
        experiment_id=experiment_id,
        run_id=parent.info.run_id,
        model_runs=model_runs,
        metrics=metrics,
        dataset_sha256=dataset_sha256,
        code_version=version,
        n_events=len(frame),
        n_train_events=len(train),
        n_test_events=len(test),
        n_test_users=holdout.n_users,
        n_cold_start_users=int(holdout.cold_start.sum()),
        model_uri=model_uri,
    )
    if register:
        registered = register_pipeline(model_uri, score, tracking_uri, model_name)
        report = report.model_copy(
            update={
                "model_name": registered.name,
                "model_version": registered.version,
                "alias": registered.alias,
            }
        )
    return report
