"""One training run: split the event log, fit, evaluate, log to MLflow, register the pipeline.

Every chosen model is fitted on a temporal training split and scored on the test split at
k = 1, 5, 10, 20; the pipeline (sources -> ensemble -> ranker -> filters) is tuned on a
validation split carved from the training split, then scored the same way. The served
pipeline is refitted on the whole event log (same configs, same ranker) after evaluation: the
newest users, items and interactions are what a streaming service most needs to know, and the
holdout metrics of the train-split fit are the estimate of its quality.
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel

from core import columns as c
from core.errors import DatasetError
from core.eventlog import read_events
from core.types import EventType
from models.als import ALSConfig
from models.config import ModelConfig
from models.families import fit_source, make_source
from models.interactions import Interactions, Weighting
from models.mlflow_registry import (
    DEFAULT_MODEL_NAME,
    log_pipeline,
    register_pipeline,
    tracking_uri_scope,
)
from models.pipeline import RecommendationPipeline
from models.popularity import PopularityConfig
from models.postprocess import genre_vectors
from models.ranker import RankerConfig
from models.side_info import ItemFeatures
from training.evaluate import DEFAULT_KS, Holdout, build_holdout, evaluate_at, item_popularity
from training.plots import plot_metric_vs_k, plot_popularity_bias
from training.splits import temporal_split
from training.tuning import TuningReport, default_grids, fit_tuned_pipeline

if TYPE_CHECKING:
    import pandas as pd

EXPERIMENT = "reelrank"
#: Name of the full pipeline in metrics, runs and benchmarks.
PIPELINE = "ensemble_ranker"
#: Models trained when none are named: the fast pair the demo uses.
DEFAULT_MODELS: tuple[str, ...] = ("popularity", "als")


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
    tuning: dict[str, Any] = {}

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


def completion_rates(frame: pd.DataFrame) -> dict[int, float]:
    """Per video, ``complete`` events over ``play`` events (videos with plays only); empty
    when the log has no watch data (e.g. ratings datasets)."""
    types = frame[c.EVENT_TYPE].astype(str)
    plays = frame.loc[types == EventType.PLAY, c.VIDEO_ID].value_counts()
    if plays.empty:
        return {}
    completes = frame.loc[types == EventType.COMPLETE, c.VIDEO_ID].value_counts()
    rates = (completes.reindex(plays.index, fill_value=0) / plays).clip(upper=1.0)
    return {int(k): float(v) for k, v in rates.items()}


def item_features_from(
    database_url: str | None, embeddings_path: Path | None = None
) -> ItemFeatures | None:
    """Content features of the catalogue's videos, with the media pipeline's content vectors
    when ``embeddings_path`` exists; None without a catalogue or metadata."""
    if database_url is None:
        return None
    import pandas as pd

    from training.item_metadata import load_item_metadata

    metadata = load_item_metadata(database_url)
    if metadata.empty:
        return None
    embeddings = None
    if embeddings_path is not None and embeddings_path.is_file():
        embeddings = pd.read_parquet(embeddings_path, columns=[c.VIDEO_ID, "vector"])
    features = ItemFeatures.from_metadata(metadata, embeddings=embeddings)
    return features if features.n_features and features.matrix.nnz else None


@dataclass(frozen=True)
class Experiment:
    """What fitting and scoring on one split produced (before anything is logged)."""

    metrics: dict[str, dict[str, float]]
    fitted: dict[str, Any]
    pipeline: RecommendationPipeline
    tuning: TuningReport
    recommended: dict[str, np.ndarray]
    holdout: Holdout
    train_interactions: Interactions
    n_train_events: int
    n_test_events: int


def run_experiment(
    frame: pd.DataFrame,
    models: Sequence[str],
    *,
    source_configs: Mapping[str, ModelConfig] | None = None,
    item_features: ItemFeatures | None = None,
    ranker: RankerConfig | None = RankerConfig(),  # noqa: B008 - frozen
    ks: Sequence[int] = DEFAULT_KS,
    test_fraction: float = 0.2,
    split_by: Literal["time", "events"] = "time",
    weight: Weighting = "count",
    seed: int = 42,
    progress: bool = False,
) -> Experiment:
    """Temporal split; fit and score each model and the tuned pipeline on the test users."""
    from tqdm import tqdm

    if "content" in models and item_features is None:
        raise DatasetError(
            "the content model needs item metadata: give a catalogue with genres, tags or text"
        )
    train, test = temporal_split(frame, test_fraction, by=split_by)
    train_interactions = Interactions.from_events(train, weight)
    holdout: Holdout = build_holdout(train_interactions, test)
    completion = completion_rates(train)
    genres = None
    vectors = genre_vectors(item_features, train_interactions.item_ids)
    if vectors is not None:
        genres = (train_interactions.item_ids, vectors)
    configs = dict(source_configs or {})
    metrics: dict[str, dict[str, float]] = {}
    fitted: dict[str, Any] = {}
    recommended: dict[str, Any] = {}
    top = max(ks)
    for name in tqdm(list(models), desc="models", disable=not progress):
        model = fit_source(make_source(name, configs.get(name)), train_interactions, item_features)
        fitted[name] = model
        metrics[name] = evaluate_at(model.recommend, holdout, train_interactions, ks, genres)
        recommended[name] = model.recommend(holdout.user_ids, top)[0]
    with tqdm(total=1, desc=PIPELINE, disable=not progress) as bar:
        pipeline, tuning = fit_tuned_pipeline(
            train,
            "temporal",
            list(models),
            configs,
            item_features,
            ranker,
            weight,
            seed=seed,
            completion=completion,
            grids=default_grids(),
        )
        bar.update()
    metrics[PIPELINE] = evaluate_at(pipeline.recommend, holdout, train_interactions, ks, genres)
    recommended[PIPELINE] = pipeline.recommend(holdout.user_ids, top)[0]
    return Experiment(
        metrics=metrics,
        fitted=fitted,
        pipeline=pipeline,
        tuning=tuning,
        recommended=recommended,
        holdout=holdout,
        train_interactions=train_interactions,
        n_train_events=len(train),
        n_test_events=len(test),
    )


def _tuning_summary(tuning: TuningReport) -> dict[str, Any]:
    return {
        "weights": dict(tuning.ensemble.weights),
        "normalisation": tuning.ensemble.normalisation,
        "validation_blend_ndcg_at_10": tuning.blend_ndcg,
        "validation_ranker_ndcg_at_10": tuning.ranker_ndcg,
        "use_ranker": tuning.use_ranker,
        "validation_source_ndcg_at_10": dict(tuning.source_ndcg),
    }


def _log_plots(exp: Experiment, ks: Sequence[int], folder: Path) -> list[Path]:
    item_ids, counts = item_popularity(exp.train_interactions)
    return [
        plot_metric_vs_k(exp.metrics, folder / "ndcg_vs_k.png", "ndcg", ks),
        plot_metric_vs_k(exp.metrics, folder / "recall_vs_k.png", "recall", ks),
        plot_popularity_bias(exp.recommended, item_ids, counts, folder / "popularity_bias.png"),
    ]


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
    *,
    models: Sequence[str] | None = None,
    source_configs: Mapping[str, ModelConfig] | None = None,
    database_url: str | None = None,
    embeddings_path: Path | None = None,
    ranker: RankerConfig | None = RankerConfig(),  # noqa: B008 - frozen
    ks: Sequence[int] = DEFAULT_KS,
    seed: int = 42,
    progress: bool = False,
) -> TrainReport:
    """Fit ``models`` (default popularity + ALS) and the tuned pipeline on a temporal split,
    log one MLflow run per model under a parent run, and register the served pipeline.

    Metrics are logged at every k in ``ks`` plus ``k``; item metadata (genres, tags, ...) is
    read from ``database_url`` when given (needed by ``content``), with the content vectors
    of ``embeddings_path`` when that file exists. The served pipeline is
    refitted on all events and registered, aliased ``champion`` unless its NDCG@10 is below
    the champion's (then ``challenger``).
    """
    import mlflow

    try:
        frame = read_events(events_path)
    except FileNotFoundError as exc:
        raise DatasetError(str(exc)) from exc
    chosen = tuple(models) if models else DEFAULT_MODELS
    configs: dict[str, ModelConfig] = {"popularity": popularity, "als": als}
    configs.update(source_configs or {})
    all_ks = sorted({*ks, k, 10})
    features = item_features_from(database_url, embeddings_path)
    exp = run_experiment(
        frame,
        chosen,
        source_configs=configs,
        item_features=features,
        ranker=ranker,
        ks=all_ks,
        test_fraction=test_fraction,
        split_by=split_by,
        weight=weight,
        seed=seed,
        progress=progress,
    )
    dataset_sha256 = file_sha256(events_path)
    version = code_version()
    score = exp.metrics[PIPELINE]["ndcg_at_10"]
    served = RecommendationPipeline.fit(
        Interactions.from_events(frame, weight),
        config=exp.pipeline.config,
        source_configs=configs,
        item_features=features,
        ranker=exp.pipeline.ranker,
        completion=completion_rates(frame),
    )
    tuning = _tuning_summary(exp.tuning)
    common = {
        "k": k,
        "ks": ",".join(map(str, all_ks)),
        "models": ",".join(chosen),
        "test_fraction": test_fraction,
        "split_by": split_by,
        "weight": weight,
        "seed": seed,
        "n_events": len(frame),
        "n_train_events": exp.n_train_events,
        "n_test_events": exp.n_test_events,
        "n_test_users": exp.holdout.n_users,
        "n_cold_start_users": int(exp.holdout.cold_start.sum()),
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
            mlflow.log_params(common)
            for name, model in exp.fitted.items():
                with mlflow.start_run(
                    experiment_id=experiment_id, run_name=name, nested=True
                ) as run:
                    mlflow.set_tags(tags)
                    mlflow.log_params(common | model.config.flat(name))
                    mlflow.log_metrics(exp.metrics[name])
                    mlflow.log_artifacts(str(model.save(Path(tmp) / "models" / name)), "model")
                    model_runs[name] = run.info.run_id
            with mlflow.start_run(
                experiment_id=experiment_id, run_name=PIPELINE, nested=True
            ) as run:
                mlflow.set_tags(tags)
                params = common | exp.pipeline.config.flat("pipeline")
                for name in chosen:
                    params |= configs.get(name, make_source(name).config).flat(name)
                if exp.pipeline.ranker is not None:
                    params |= exp.pipeline.ranker.config.flat("ranker")
                mlflow.log_params({key: str(value)[:500] for key, value in params.items()})
                mlflow.log_metrics(exp.metrics[PIPELINE])
                mlflow.log_dict(tuning, "tuning.json")
                mlflow.log_artifacts(str(exp.pipeline.save(Path(tmp) / "train-split")), "pipeline")
                model_runs[PIPELINE] = run.info.run_id
            for plot in _log_plots(exp, all_ks, Path(tmp) / "plots"):
                mlflow.log_artifact(str(plot), "plots")
            mlflow.log_metrics(exp.metrics[PIPELINE])
            mlflow.log_dict(tuning, "tuning.json")
            model_uri = log_pipeline(served.save(Path(tmp) / "served"))
    report = TrainReport(
        experiment_id=experiment_id,
        run_id=parent.info.run_id,
        model_runs=model_runs,
        metrics=exp.metrics,
        dataset_sha256=dataset_sha256,
        code_version=version,
        n_events=len(frame),
        n_train_events=exp.n_train_events,
        n_test_events=exp.n_test_events,
        n_test_users=exp.holdout.n_users,
        n_cold_start_users=int(exp.holdout.cold_start.sum()),
        model_uri=model_uri,
        tuning=tuning,
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


def evaluate_models(
    events_path: Path,
    models: Sequence[str] | None = None,
    *,
    database_url: str | None = None,
    embeddings_path: Path | None = None,
    ks: Sequence[int] = DEFAULT_KS,
    test_fraction: float = 0.2,
    split_by: Literal["time", "events"] = "time",
    ranker: RankerConfig | None = RankerConfig(),  # noqa: B008 - frozen
    seed: int = 42,
    progress: bool = True,
) -> dict[str, dict[str, float]]:
    """``reelrank evaluate``: the metrics of ``train_and_log`` without logging or registering.

    Returns ``{model or "ensemble_ranker": {"ndcg_at_10": ..., "coverage_at_10": ...}}``.
    """
    try:
        frame = read_events(events_path)
    except FileNotFoundError as exc:
        raise DatasetError(str(exc)) from exc
    exp = run_experiment(
        frame,
        tuple(models) if models else DEFAULT_MODELS,
        item_features=item_features_from(database_url, embeddings_path),
        ranker=ranker,
        ks=ks,
        test_fraction=test_fraction,
        split_by=split_by,
        seed=seed,
        progress=progress,
    )
    return exp.metrics
