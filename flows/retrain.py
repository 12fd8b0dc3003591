"""The ``retrain`` flow: fresh events -> features -> models -> fair comparison -> publish.

Each stage is a Prefect task that calls the same function as the CLI (``data export-events``,
``features build/apply/materialize``, ``train``): the event log is exported from the catalogue,
the Feast features are rebuilt and materialized, the candidate models and the ranker are fitted
on a temporal training split, and the new pipeline and the champion's recipe are scored on the
same holdout (``training.champion``). The new pipeline, refitted on every event with its FAISS
index, is registered as ``champion`` only when it wins (``training.promotion``), else as
``challenger`` with the reason; serving's model watcher follows the alias without a restart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, Field

from flows.feature_tasks import build_features, export_events, materialize_online

#: Folder under the data root where the champion's FAISS indexes are published.
INDEXES = "indexes"

if TYPE_CHECKING:
    from core.settings import Settings
    from models.pipeline import RecommendationPipeline
    from training.promotion import Decision
    from training.train import (
        Evaluation,
        FittedModels,
        LoadedData,
        RunConfig,
        Split,
        TrainReport,
    )


class RetrainOptions(BaseModel):
    """What a retrain fits and how it decides."""

    models: list[str] | None = Field(
        None, description="Candidate model families; default: the training default set."
    )
    rankers: bool = Field(True, description="Try the learned rankers on top of the blend.")
    factors: int = Field(256, ge=1, description="ALS latent factors.")
    iterations: int = Field(15, ge=1, description="ALS iterations.")
    min_gain: float = Field(0.0, ge=0, description="NDCG@10 margin the new pipeline needs.")
    split_by: Literal["time", "events"] = Field(
        "events",
        description="Hold out the newest 20 % of the events (robust to quiet periods and to a "
        "few stray new events), or the newest 20 % of the log's time span.",
    )
    experiment: bool = Field(
        False,
        description="When the new pipeline is not promoted, A/B test it against the champion.",
    )


class RetrainResult(BaseModel):
    """What the flow did: the registered version, its alias and why."""

    events: int
    model_version: int | None
    alias: str | None
    promoted: bool
    reason: str
    ndcg_at_10: float
    champion_ndcg_at_10: float | None
    experiment: str | None = None
    indexes: str | None = None

    def summary(self) -> str:
        """One human-readable line."""
        verdict = "promoted to champion" if self.promoted else "kept the champion"
        return (
            f"{self.events} events; v{self.model_version} registered as @{self.alias}: "
            f"{verdict} ({self.reason})"
            + (f"; experiment {self.experiment} started" if self.experiment else "")
        )


def run_config(settings: Settings, options: RetrainOptions) -> RunConfig:
    """The training run a retrain performs under ``settings``."""
    from models.als import ALSConfig
    from training.promotion import PromotionPolicy
    from training.train import DEFAULT_MODELS, RunConfig, SplitSettings, TrackingSettings
    from training.tuning import DEFAULT_RANKERS

    paths = settings.paths
    return RunConfig(
        events_path=paths.events_file,
        models=tuple(options.models or DEFAULT_MODELS),
        source_configs={"als": ALSConfig(factors=options.factors, iterations=options.iterations)},
        rankers=DEFAULT_RANKERS if options.rankers else (),
        database_url=settings.resolved_database_url,
        embeddings_path=paths.embeddings_file,
        tracking=TrackingSettings(
            uri=settings.resolved_mlflow_uri, artifacts_dir=paths.mlflow_artifacts
        ),
        promotion=PromotionPolicy(min_gain=options.min_gain),
        split=SplitSettings(by=options.split_by),
    )


@task(cache_policy=NO_CACHE)
def prepare(config: RunConfig) -> tuple[LoadedData, Split]:
    """Load the event log and item features; cut the temporal split."""
    from training.train import load_data, split_data

    data = load_data(config)
    return data, split_data(config, data)


@task(cache_policy=NO_CACHE)
def train_models(config: RunConfig, data: LoadedData, split: Split) -> FittedModels:
    """Fit the candidate models, then tune and fit the pipeline and its ranker."""
    from training.train import fit_models

    return fit_models(config, data, split)


@task(cache_policy=NO_CACHE)
def evaluate(
    config: RunConfig, data: LoadedData, split: Split, fitted: FittedModels
) -> tuple[Evaluation, Decision]:
    """Score the new pipeline and the champion's recipe on the same holdout; decide."""
    from training.train import promotion_decision, score_models

    scores = score_models(config, data, split, fitted)
    return scores, promotion_decision(config, data, split, scores)


@task(retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE)
def publish(
    config: RunConfig,
    data: LoadedData,
    split: Split,
    fitted: FittedModels,
    scores: Evaluation,
    decision: Decision,
) -> tuple[TrainReport, RecommendationPipeline]:
    """Refit the pipeline (and its FAISS index) on every event, log the run, register it
    under the alias the decision chose; the report and the served pipeline."""
    from training.train import log_run, refit_served, register_served, train_report

    served = refit_served(config, data, fitted)
    logged = log_run(config, data, split, fitted, scores, served)
    registered = register_served(config, logged, scores, decision)
    return train_report(data, split, fitted, scores, logged, registered, decision), served


@task(retries=1, retry_delay_seconds=5, cache_policy=NO_CACHE)
def publish_indexes(settings: Settings, served: RecommendationPipeline) -> str:
    """Rebuild the new champion's FAISS indexes (items, and content vectors when the media
    pipeline wrote them) and swap them into ``var/indexes``; what was published, in words."""
    from training.indexes import publish_indexes as publish

    folder = settings.paths.root / INDEXES
    try:
        published = publish(served, folder, embeddings_path=settings.paths.embeddings_file)
    except ValueError as exc:  # no embedding source (a popularity-only pipeline, say)
        return f"no index published: {exc}"
    sizes = ", ".join(f"{name} {s.size}" for name, s in published.indexes.items())
    return f"indexes published to {folder} ({sizes})"


@task(cache_policy=NO_CACHE)
def start_experiment(settings: Settings, version: int) -> str:
    """A 50/50 experiment between the champion and ``version``; its name."""
    from flows.experiment_start import start_champion_experiment

    return start_champion_experiment(settings, version)


@flow(name="retrain", log_prints=True)
def retrain(options: RetrainOptions | None = None) -> RetrainResult:
    """Export, featurize, train, compare with the champion on the same holdout, publish."""
    from core.settings import get_settings
    from training.train import PIPELINE, release_data

    options = options or RetrainOptions()
    settings = get_settings()
    logger = get_run_logger()
    events = export_events(settings)
    tables = build_features(settings)
    materialize_online(settings, tables)
    config = run_config(settings, options)
    data, split = prepare(config)
    try:
        fitted = train_models(config, data, split)
        scores, decision = evaluate(config, data, split, fitted)
        report, served = publish(config, data, split, fitted, scores, decision)
    finally:
        release_data(data)
    indexes = publish_indexes(settings, served) if decision.promote else None
    experiment = None
    if options.experiment and not decision.promote and report.model_version is not None:
        experiment = start_experiment(settings, report.model_version)
    result = RetrainResult(
        events=events,
        model_version=report.model_version,
        alias=report.alias,
        promoted=decision.promote,
        reason=decision.reason,
        ndcg_at_10=scores.metrics[PIPELINE]["ndcg_at_10"],
        champion_ndcg_at_10=decision.champion["ndcg_at_10"] if decision.champion else None,
        experiment=experiment,
        indexes=indexes,
    )
    logger.info(result.summary())
    return result
