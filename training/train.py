"""One training run as stages over one ``RunConfig``: load, split, fit, score, log, register.

Every chosen model is fitted on a temporal training split and scored on the test split at
k = 1, 5, 10, 20; the pipeline (sources -> ensemble -> ranker -> filters) is tuned on a
validation split carved from the training split, then scored the same way. The served
pipeline is refitted on the whole event log (same configs, same ranker) after evaluation: the
newest users, items and interactions are what a streaming service most needs to know, and the
holdout metrics of the train-split fit are the estimate of its quality.

The registered champion is scored on the same holdout (its recipe refitted on the same training
split, ``training.champion``); the new pipeline is registered as ``champion`` only when it wins
by ``RunConfig.promotion`` (``training.promotion``), else as ``challenger`` with the reason.

Each stage is a plain function with typed inputs and outputs, so a notebook can run them one
at a time::

    data = load_data(config)
    split = split_data(config, data)
    fitted = fit_models(config, data, split)
    scores = score_models(config, data, split, fitted)
    served = refit_served(config, data, fitted)
    logged = log_run(config, data, split, fitted, scores, served)
    decision = promotion_decision(config, data, split, scores)  # the champion, same holdout
    registered = register_served(config, logged, scores, decision)
    release_data(data)  # the run's scratch feature repos

``run_training(config)`` chains them all; ``run_evaluation(config)`` stops after scoring.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, field_validator

from core import columns as c
from core.errors import DatasetError
from core.eventlog import read_events
from models.base import Recommender
from models.config import ModelConfig
from models.families import family, fit_source, make_source
from models.interactions import Interactions, Weighting
from models.mlflow_registry import (
    CHALLENGER,
    CHAMPION,
    DEFAULT_MODEL_NAME,
    RegisteredVersion,
    log_pipeline,
    register_pipeline,
    tracking_uri_scope,
)
from models.pair_features import PairFeatures
from models.pipeline import RecommendationPipeline
from models.postprocess import genre_vectors
from models.rankers import AnyRankerConfig
from models.side_info import ItemFeatures
from training.champion import load_champion, refit_recipe
from training.evaluate import DEFAULT_KS, Holdout, build_holdout, evaluate_ids, item_popularity
from training.plots import plot_metric_vs_k, plot_popularity_bias
from training.promotion import LATENCY, Decision, PromotionPolicy, decide
from training.splits import temporal_split
from training.tuning import DEFAULT_RANKERS, TuningReport, default_grids, fit_tuned_pipeline

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DEFAULT_MODELS",
    "EXPERIMENT",
    "PIPELINE",
    "Evaluation",
    "FittedModels",
    "LoadedData",
    "LoggedRun",
    "RegistrationSettings",
    "RunConfig",
    "Split",
    "SplitSettings",
    "TrackingSettings",
    "TrainReport",
    "code_version",
    "file_sha256",
    "fit_models",
    "item_features_from",
    "load_data",
    "log_run",
    "promotion_decision",
    "refit_served",
    "register_served",
    "run_evaluation",
    "run_training",
    "score_champion",
    "score_models",
    "score_pipeline",
    "split_data",
    "train_report",
]

EXPERIMENT = "reelrank"
#: Name of the full pipeline in metrics, runs and benchmarks.
PIPELINE = "ensemble_ranker"
#: Models trained when none are named: the fast pair the demo uses.
DEFAULT_MODELS: tuple[str, ...] = ("popularity", "als")


# -- the run config ---------------------------------------------------------------------------
class SplitSettings(BaseModel):
    """How the event log is cut into a training and a test part, and how events are weighted."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    test_fraction: float = Field(0.2, gt=0, lt=1, description="Share held out for testing.")
    by: Literal["time", "events"] = Field(
        "time", description="Cut at a share of the time span or of the events."
    )
    weight: Weighting = Field("count", description="How events become interaction weights.")


class TrackingSettings(BaseModel):
    """Where the run is logged."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    uri: str = Field(description="MLflow tracking (and registry) URI.")
    artifacts_dir: Path = Field(description="Artifact root of a newly created experiment.")


class RegistrationSettings(BaseModel):
    """Whether and under which name the served pipeline is registered."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(True, description="Register the served pipeline with an alias.")
    model_name: str = Field(DEFAULT_MODEL_NAME, description="Registered model name.")


class RunConfig(BaseModel):
    """Everything one training (or evaluation-only) run needs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    events_path: Path = Field(description="The parquet event log.")
    models: tuple[str, ...] = Field(DEFAULT_MODELS, min_length=1, description="Source models.")
    source_configs: dict[str, SerializeAsAny[ModelConfig]] = Field(
        default_factory=dict, description="Config per model name (defaults for the others)."
    )
    rankers: tuple[AnyRankerConfig, ...] = Field(
        DEFAULT_RANKERS,
        description="The rankers to try on the blend (one per kind; the best cross-validated "
        "one is kept if it beats the blend); empty: blend only.",
    )
    database_url: str | None = Field(
        None, description="Catalogue with item metadata (needed by the content model)."
    )
    embeddings_path: Path | None = Field(
        None, description="Content vectors of the media pipeline, used when the file exists."
    )
    ks: tuple[int, ...] = Field(DEFAULT_KS, min_length=1, description="Metric cut-offs.")
    k: int = Field(10, ge=1, description="Headline cut-off (always among the metric cut-offs).")
    seed: int = Field(42, description="Seed of the validation split and of tuning.")
    split: SplitSettings = Field(default_factory=SplitSettings)
    tracking: TrackingSettings | None = Field(
        None, description="MLflow tracking; needed by log_run (not by run_evaluation)."
    )
    registration: RegistrationSettings = Field(default_factory=RegistrationSettings)
    promotion: PromotionPolicy = Field(
        default_factory=PromotionPolicy,
        description="When the new pipeline replaces the champion (both scored on this run's "
        "holdout).",
    )
    progress: bool = Field(False, description="Show progress bars.")
    ranker_features: bool = Field(
        True,
        description="Train the rankers on Feast point-in-time training sets (built from the "
        "events each model saw) and score the pipeline with features from an online store; "
        "False: blend features only.",
    )

    @field_validator("source_configs", mode="before")
    @classmethod
    def _family_configs(cls, value: object) -> object:
        """Plain mappings (a config read back from JSON or YAML) become each family's config."""
        if not isinstance(value, Mapping):
            return value
        return {
            name: config if isinstance(config, ModelConfig) else family(name).config(**config)
            for name, config in value.items()
        }

    @property
    def metric_ks(self) -> list[int]:
        """The cut-offs metrics are computed at: ``ks``, ``k`` and 10 (the champion metric)."""
        return sorted({*self.ks, self.k, 10})


# -- stage outputs ----------------------------------------------------------------------------
@dataclass(frozen=True)
class LoadedData:
    """The event log and the item features of one run."""

    events: pd.DataFrame
    item_features: ItemFeatures | None
    dataset_sha256: str
    videos: pd.DataFrame | None = None  # catalogue columns of the feature tables
    feature_dir: Path | None = None  # scratch Feast repos of this run (ranker_features only)


@dataclass(frozen=True)
class Split:
    """The temporal train/test split and what the test users went on to watch."""

    train: pd.DataFrame
    test: pd.DataFrame
    train_interactions: Interactions
    holdout: Holdout


@dataclass(frozen=True)
class FittedModels:
    """Each source model and the tuned pipeline, fitted on the training split."""

    models: dict[str, Recommender]
    pipeline: RecommendationPipeline
    tuning: TuningReport


@dataclass(frozen=True)
class Evaluation:
    """Holdout metrics per model and for the pipeline, and their top-k lists."""

    metrics: dict[str, dict[str, float]]
    recommended: dict[str, np.ndarray]


@dataclass(frozen=True)
class LoggedRun:
    """The MLflow runs a training run wrote."""

    experiment_id: str
    run_id: str
    model_runs: dict[str, str]
    model_uri: str


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
    promotion: Decision | None = None

    def summary(self) -> str:
        """One human-readable line for the CLI."""
        scores = ", ".join(
            f"{name} NDCG@10={values.get('ndcg_at_10', float('nan')):.4f}"
            for name, values in self.metrics.items()
        )
        served = (
            f"registered {self.model_name} v{self.model_version} as @{self.alias}"
            + (f" ({self.promotion.reason})" if self.promotion else "")
            if self.model_name
            else f"logged {self.model_uri}"
        )
        return (
            f"{scores} on {self.n_test_users} test users ({self.n_cold_start_users} cold start); "
            f"{served}; MLflow run {self.run_id}"
        )


# -- stages -----------------------------------------------------------------------------------
def load_data(config: RunConfig) -> LoadedData:
    """Read the event log and the catalogue's item features; DatasetError without a log."""
    try:
        events = read_events(config.events_path)
    except FileNotFoundError as exc:
        raise DatasetError(str(exc)) from exc
    videos = feature_dir = None
    if config.ranker_features:
        from features.videos import empty_videos, load_videos

        videos = load_videos(config.database_url) if config.database_url else empty_videos()
        feature_dir = Path(tempfile.mkdtemp(prefix="reelrank-run-features-"))
    return LoadedData(
        events=events,
        item_features=item_features_from(config.database_url, config.embeddings_path),
        dataset_sha256=file_sha256(config.events_path),
        videos=videos,
        feature_dir=feature_dir,
    )


def release_data(data: LoadedData) -> None:
    """Remove the run's scratch feature repos."""
    if data.feature_dir is not None:
        shutil.rmtree(data.feature_dir, ignore_errors=True)


def split_data(config: RunConfig, data: LoadedData) -> Split:
    """The temporal split, the training interactions and the test users' new positives."""
    train, test = temporal_split(data.events, config.split.test_fraction, by=config.split.by)
    interactions = Interactions.from_events(train, config.split.weight)
    return Split(
        train=train,
        test=test,
        train_interactions=interactions,
        holdout=build_holdout(interactions, test),
    )


def fit_models(config: RunConfig, data: LoadedData, split: Split) -> FittedModels:
    """Fit each model on the training split, then tune and fit the pipeline on it."""
    from tqdm import tqdm

    if "content" in config.models and data.item_features is None:
        raise DatasetError(
            "the content model needs item metadata: give a catalogue with genres, tags or text"
        )
    models = {
        name: fit_source(
            make_source(name, config.source_configs.get(name)),
            split.train_interactions,
            data.item_features,
        )
        for name in tqdm(list(config.models), desc="models", disable=not config.progress)
    }
    with tqdm(total=1, desc=PIPELINE, disable=not config.progress) as bar:
        pipeline, tuning = _fit_tuned_pipeline(config, data, split)
        bar.update()
    return FittedModels(models=models, pipeline=pipeline, tuning=tuning)


def score_models(
    config: RunConfig, data: LoadedData, split: Split, fitted: FittedModels
) -> Evaluation:
    """Holdout metrics at every metric cut-off for each model and the pipeline (the pipeline's
    with its per-user latency)."""
    ks = config.metric_ks
    genres = _genres(data.item_features, split.train_interactions)
    metrics: dict[str, dict[str, float]] = {}
    recommended: dict[str, np.ndarray] = {}
    for name, model in fitted.models.items():
        recommended[name] = model.recommend(split.holdout.user_ids, max(ks))[0]
        metrics[name] = evaluate_ids(
            recommended[name], split.holdout, split.train_interactions, ks, genres
        )
    metrics[PIPELINE], recommended[PIPELINE] = score_pipeline(config, data, split, fitted.pipeline)
    return Evaluation(metrics=metrics, recommended=recommended)


def score_pipeline(
    config: RunConfig, data: LoadedData, split: Split, pipeline: RecommendationPipeline
) -> tuple[dict[str, float], np.ndarray]:
    """A pipeline fitted on the training split, scored on the holdout as serving would rank
    it (online features of the training split attached to its ranker): its metrics, with
    ``latency_ms_per_user``, and its top-k lists."""
    ks = config.metric_ks
    if pipeline.ranker is not None:
        pipeline.attach_features(_test_features(config, data, split))
    users = split.holdout.user_ids
    started = time.perf_counter()
    ids = pipeline.recommend(users, max(ks))[0]
    elapsed_ms = (time.perf_counter() - started) * 1000
    genres = _genres(data.item_features, split.train_interactions)
    metrics = evaluate_ids(ids, split.holdout, split.train_interactions, ks, genres)
    metrics[LATENCY] = elapsed_ms / max(len(users), 1)
    return metrics, ids


def score_champion(
    config: RunConfig, data: LoadedData, split: Split
) -> tuple[int, dict[str, float]] | None:
    """The registered champion's version and its metrics on this run's holdout (its recipe
    refitted on this run's training split); None when registration is off or there is no
    champion yet."""
    if not config.registration.enabled or config.tracking is None:
        return None
    found = load_champion(config.registration.model_name, config.tracking.uri)
    if found is None:
        return None
    version, champion = found
    refitted = refit_recipe(champion, split.train_interactions, data.item_features)
    return version, score_pipeline(config, data, split, refitted)[0]


def _test_features(config: RunConfig, data: LoadedData, split: Split) -> PairFeatures | None:
    """Online features of the training split (built once per run; None without Feast)."""
    if data.feature_dir is None:
        return None
    from features.online import OnlineFeatures
    from training.feature_sets import online_features

    repo = data.feature_dir / "test"
    marker = repo / ".materialized"
    if marker.is_file():
        return OnlineFeatures(repo)
    provider = online_features(split.train, _videos(data), repo, config.embeddings_path)
    marker.touch()
    return provider


def refit_served(
    config: RunConfig, data: LoadedData, fitted: FittedModels
) -> RecommendationPipeline:
    """The served pipeline: the tuned pipeline's configs and ranker, refitted on all events."""
    return _refit_pipeline(config, data, fitted.pipeline)


def log_run(
    config: RunConfig,
    data: LoadedData,
    split: Split,
    fitted: FittedModels,
    scores: Evaluation,
    served: RecommendationPipeline,
) -> LoggedRun:
    """One parent MLflow run (params, tags with the dataset digest and git commit, the event
    log as input, plots, the served model) with one nested run per model and one for the
    pipeline; each metric is logged once, in its model's run, under ``<metric>_at_<k>``."""
    import mlflow

    if config.tracking is None:
        raise ValueError("log_run needs config.tracking (an MLflow URI and artifacts folder)")
    tags = {
        "dataset.sha256": data.dataset_sha256,
        "dataset.path": str(config.events_path),
        "code_version": code_version(),
        "served_model": "refit_on_all_events",
    }
    commit = tags["code_version"].removesuffix("+dirty")
    if commit != "unknown":
        tags["mlflow.source.git.commit"] = commit  # shown as the run's git commit in the UI
    common = _common_params(config, data, split)
    model_runs: dict[str, str] = {}
    with tracking_uri_scope(config.tracking.uri), tempfile.TemporaryDirectory() as tmp:
        experiment_id = _experiment_id(config.tracking.artifacts_dir)
        with mlflow.start_run(experiment_id=experiment_id, run_name="train") as parent:
            mlflow.set_tags(tags)
            mlflow.log_params(common)
            _log_dataset(config.events_path, data.dataset_sha256)
            for name, model in fitted.models.items():
                with mlflow.start_run(
                    experiment_id=experiment_id, run_name=name, nested=True
                ) as run:
                    mlflow.set_tags(tags)
                    mlflow.log_params(common | model.config.flat(name))
                    mlflow.log_metrics(scores.metrics[name])
                    saved = model.save(Path(tmp) / "models" / name)
                    mlflow.log_artifacts(str(saved), "model")
                    model_runs[name] = run.info.run_id
            with mlflow.start_run(
                experiment_id=experiment_id, run_name=PIPELINE, nested=True
            ) as run:
                mlflow.set_tags(tags)
                _log_dataset(config.events_path, data.dataset_sha256)
                params = common | _pipeline_params(config, fitted.pipeline, fitted.tuning)
                mlflow.log_params({key: str(value)[:500] for key, value in params.items()})
                mlflow.log_metrics(scores.metrics[PIPELINE] | validation_metrics(fitted.tuning))
                mlflow.log_dict(tuning_summary(fitted.tuning), "tuning.json")
                saved = fitted.pipeline.save(Path(tmp) / "train-split")
                mlflow.log_artifacts(str(saved), "pipeline")
                model_runs[PIPELINE] = run.info.run_id
            for plot in _plots(config, split, scores, Path(tmp) / "plots"):
                mlflow.log_artifact(str(plot), "plots")
            model_uri = log_pipeline(served.save(Path(tmp) / "served"))
    return LoggedRun(
        experiment_id=experiment_id,
        run_id=parent.info.run_id,
        model_runs=model_runs,
        model_uri=model_uri,
    )


def register_served(
    config: RunConfig, logged: LoggedRun, scores: Evaluation, decision: Decision
) -> RegisteredVersion | None:
    """Register the served model as ``champion`` when ``decision`` promotes it, else as
    ``challenger``, with the reason as the version's description; None when the config says
    not to register."""
    if not config.registration.enabled:
        return None
    if config.tracking is None:
        raise ValueError("register_served needs config.tracking (an MLflow URI)")
    primary = config.promotion.primary
    tags = {primary: str(scores.metrics[PIPELINE][primary]), "promotion_reason": decision.reason}
    if decision.champion is not None:
        tags[f"champion_{primary}"] = str(decision.champion[primary])
    return register_pipeline(
        logged.model_uri,
        CHAMPION if decision.promote else CHALLENGER,
        config.tracking.uri,
        config.registration.model_name,
        description=decision.reason,
        tags=tags,
    )


def promotion_decision(
    config: RunConfig, data: LoadedData, split: Split, scores: Evaluation
) -> Decision:
    """Score the champion on this run's holdout and decide whether the new pipeline wins."""
    champion = score_champion(config, data, split)
    return decide(
        scores.metrics[PIPELINE],
        champion[1] if champion is not None else None,
        config.promotion,
        champion_version=champion[0] if champion is not None else None,
    )


def run_training(config: RunConfig) -> TrainReport:
    """Every stage in order: load, split, fit and tune, score, refit, score the champion on the
    same holdout and decide, log, register."""
    data = load_data(config)
    try:
        split = split_data(config, data)
        fitted = fit_models(config, data, split)
        scores = score_models(config, data, split, fitted)
        served = refit_served(config, data, fitted)
        decision = promotion_decision(config, data, split, scores)
        logged = log_run(config, data, split, fitted, scores, served)
        registered = register_served(config, logged, scores, decision)
    finally:
        release_data(data)
    return train_report(data, split, fitted, scores, logged, registered, decision)


def train_report(
    data: LoadedData,
    split: Split,
    fitted: FittedModels,
    scores: Evaluation,
    logged: LoggedRun,
    registered: RegisteredVersion | None,
    decision: Decision,
) -> TrainReport:
    """The report of a run from its stages' outputs."""
    return TrainReport(
        experiment_id=logged.experiment_id,
        run_id=logged.run_id,
        model_runs=logged.model_runs,
        metrics=scores.metrics,
        dataset_sha256=data.dataset_sha256,
        code_version=code_version(),
        n_events=len(data.events),
        n_train_events=len(split.train),
        n_test_events=len(split.test),
        n_test_users=split.holdout.n_users,
        n_cold_start_users=int(split.holdout.cold_start.sum()),
        model_uri=logged.model_uri,
        model_name=registered.name if registered else None,
        model_version=registered.version if registered else None,
        alias=registered.alias if registered else None,
        tuning=tuning_summary(fitted.tuning),
        promotion=decision if registered else None,
    )


def run_evaluation(config: RunConfig) -> Evaluation:
    """``reelrank evaluate``: load, split, fit and score, without logging or registering."""
    data = load_data(config)
    try:
        split = split_data(config, data)
        return score_models(config, data, split, fit_models(config, data, split))
    finally:
        release_data(data)


# -- helpers ----------------------------------------------------------------------------------
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


def tuning_summary(tuning: TuningReport) -> dict[str, Any]:
    """What validation chose, as logged to ``tuning.json`` and returned in the report."""
    return {
        "weights": dict(tuning.ensemble.weights),
        "normalisation": tuning.ensemble.normalisation,
        "validation_blend_ndcg_at_10": tuning.blend_ndcg,
        "validation_ranker_ndcg_at_10": tuning.ranker_ndcg,
        "validation_ranker_ndcg_at_10_by_kind": dict(tuning.ranker_scores),
        "ranker_kind": tuning.ranker_kind,
        "use_ranker": tuning.use_ranker,
        "validation_source_ndcg_at_10": dict(tuning.source_ndcg),
        "cold_start": tuning.cold_start,
    }


def validation_metrics(tuning: TuningReport) -> dict[str, float]:
    """Each ranker kind's two-fold validation NDCG@10, as logged on the pipeline's run
    (``validation_ranker_<kind>_ndcg_at_10``)."""
    return {
        f"validation_ranker_{kind}_ndcg_at_10": value
        for kind, value in tuning.ranker_scores.items()
    }


def _common_params(config: RunConfig, data: LoadedData, split: Split) -> dict[str, Any]:
    """Params every run of a training run records."""
    return {
        "k": config.k,
        "ks": ",".join(map(str, config.metric_ks)),
        "models": ",".join(config.models),
        "test_fraction": config.split.test_fraction,
        "split_by": config.split.by,
        "weight": config.split.weight,
        "seed": config.seed,
        "n_events": len(data.events),
        "n_train_events": len(split.train),
        "n_test_events": len(split.test),
        "n_test_users": split.holdout.n_users,
        "n_cold_start_users": int(split.holdout.cold_start.sum()),
    }


def _experiment_id(artifacts_dir: Path) -> str:
    """The ``reelrank`` experiment, created with its artifacts under ``artifacts_dir``."""
    import mlflow

    existing = mlflow.get_experiment_by_name(EXPERIMENT)
    if existing is not None:
        return str(existing.experiment_id)
    artifacts_dir.mkdir(parents=True, exist_ok=True)
    return mlflow.create_experiment(EXPERIMENT, artifact_location=artifacts_dir.resolve().as_uri())


def _log_dataset(events_path: Path, sha256: str) -> None:
    """Record the event log as the active run's input (the UI's dataset column), with the
    first 32 hex digits of its sha256 as the digest."""
    import mlflow
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset

    class EventLog(MetaDataset):
        """The event log, known by source and digest only (no profile)."""

        @property
        def profile(self) -> None:
            return None

    with warnings.catch_warnings():  # MLflow registers its local-file source twice
        warnings.filterwarnings("ignore", "The specified dataset source can be interpreted")
        source = resolve_dataset_source(str(events_path.resolve()))
    mlflow.log_input(EventLog(source, name=events_path.stem, digest=sha256[:32]), "training")


def _plots(config: RunConfig, split: Split, scores: Evaluation, folder: Path) -> list[Path]:
    """NDCG, recall and catalogue coverage against k, and the popularity bias of each model's
    top-k."""
    ks = config.metric_ks
    item_ids, counts = item_popularity(split.train_interactions)
    return [
        plot_metric_vs_k(scores.metrics, folder / "ndcg_vs_k.png", "ndcg", ks),
        plot_metric_vs_k(scores.metrics, folder / "recall_vs_k.png", "recall", ks),
        plot_metric_vs_k(scores.metrics, folder / "coverage_vs_k.png", "coverage", ks),
        plot_popularity_bias(scores.recommended, item_ids, counts, folder / "popularity_bias.png"),
    ]


def _genres(
    features: ItemFeatures | None, interactions: Interactions
) -> tuple[np.ndarray, Any] | None:
    """``(item ids, genre rows)`` of the trained items for the diversity metric; None
    without genres."""
    vectors = genre_vectors(features, interactions.item_ids)
    return (interactions.item_ids, vectors) if vectors is not None else None


# -- the pipeline: tuned on validation, then refitted on every event --------------------------
def _fit_tuned_pipeline(
    config: RunConfig, data: LoadedData, split: Split
) -> tuple[RecommendationPipeline, TuningReport]:
    """The pipeline tuned on a validation split of the training split, fitted on all of it."""
    return fit_tuned_pipeline(
        split.train,
        "temporal",
        list(config.models),
        dict(config.source_configs),
        data.item_features,
        config.rankers,
        config.split.weight,
        seed=config.seed,
        features_for=_features_for(config, data),
        grids=default_grids(),
    )


def _videos(data: LoadedData) -> pd.DataFrame:
    from features.videos import empty_videos

    return data.videos if data.videos is not None else empty_videos()


def _features_for(
    config: RunConfig, data: LoadedData
) -> Callable[[pd.DataFrame], PairFeatures] | None:
    """Point-in-time Feast features of a history frame (None: blend features only)."""
    if data.feature_dir is None:
        return None
    from training.feature_sets import feature_factory

    return feature_factory(_videos(data), data.feature_dir / "tuning", config.embeddings_path)


def _refit_pipeline(
    config: RunConfig, data: LoadedData, tuned: RecommendationPipeline
) -> RecommendationPipeline:
    """``tuned``'s pipeline config, source configs and ranker, refitted on every event."""
    return RecommendationPipeline.fit(
        Interactions.from_events(data.events, config.split.weight),
        config=tuned.config,
        source_configs=dict(config.source_configs),
        item_features=data.item_features,
        ranker=tuned.ranker,
    )


def _pipeline_params(
    config: RunConfig, pipeline: RecommendationPipeline, tuning: TuningReport
) -> dict[str, Any]:
    """The pipeline's config, each source's config, the served ranker's and the ranker kind
    validation chose (``none`` when no ranker was tried), as MLflow params."""
    params = pipeline.config.flat("pipeline")
    for name in config.models:
        source = config.source_configs.get(name) or make_source(name).config
        params |= source.flat(name)
    params["ranker_kind"] = tuning.ranker_kind or "none"
    if pipeline.ranker is not None:
        params |= pipeline.ranker.config.flat("ranker")
    return params
