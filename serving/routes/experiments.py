"""A/B experiments: create, list, start, stop (admin) and results."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from fastapi import Path as PathParam

from serving.deps import (
    ExperimentsDep,
    ExposuresDep,
    RecommenderDep,
    SettingsDep,
    require_admin,
)
from serving.experiment_models import (
    NAME_PATTERN,
    ExperimentOut,
    ExperimentResultsOut,
    ExperimentSpec,
)
from serving.experiment_results import experiment_results
from serving.recommender import ModelUnavailableError

router = APIRouter(prefix="/experiments", tags=["experiments"])

ExperimentName = Annotated[str, PathParam(pattern=NAME_PATTERN, description="Experiment name.")]
Admin = [Depends(require_admin)]


@router.post("", response_model=ExperimentOut, status_code=201, dependencies=Admin)
def create_experiment(spec: ExperimentSpec, experiments: ExperimentsDep) -> ExperimentOut:
    """A new draft experiment (409 when the name is taken)."""
    return experiments.create(spec)


@router.get("", response_model=list[ExperimentOut])
def list_experiments(experiments: ExperimentsDep) -> list[ExperimentOut]:
    """Every experiment, newest first."""
    return experiments.list_experiments()


@router.get("/{name}", response_model=ExperimentOut)
def get_experiment(name: ExperimentName, experiments: ExperimentsDep) -> ExperimentOut:
    """One experiment with its variants."""
    return experiments.get(name)


@router.post("/{name}/start", response_model=ExperimentOut, dependencies=Admin)
def start_experiment(
    name: ExperimentName, experiments: ExperimentsDep, recommender: RecommenderDep
) -> ExperimentOut:
    """Start bucketing users into the experiment (409 while another runs; 422 when a
    variant's model cannot be loaded or its settings do not fit that model)."""
    for variant in experiments.get(name).variants:
        try:
            recommender.variant(variant.model, variant.settings)
        except ModelUnavailableError as exc:
            raise HTTPException(422, f"variant {variant.name!r}: {exc}") from exc
    return experiments.start(name)


@router.post("/{name}/stop", response_model=ExperimentOut, dependencies=Admin)
def stop_experiment(name: ExperimentName, experiments: ExperimentsDep) -> ExperimentOut:
    """Stop the experiment; its results stay readable."""
    return experiments.stop(name)


@router.get("/{name}/results", response_model=ExperimentResultsOut)
def get_results(
    name: ExperimentName, settings: SettingsDep, exposures: ExposuresDep
) -> ExperimentResultsOut:
    """Per-variant metrics with 95 % intervals against control, and the sample-ratio check;
    exposures still buffered are written first."""
    exposures.flush()
    return experiment_results(settings.resolved_database_url, name)
