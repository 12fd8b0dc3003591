"""Liveness (``/health``) and readiness (``/ready``: model, features, database)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy import text

from serving.deps import RecommenderDep, SessionDep
from serving.schemas import Health, Readiness

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
def health(session: SessionDep, recommender: RecommenderDep) -> Health:
    """Whether the database answers and which model is loaded."""
    try:
        session.execute(text("SELECT 1"))
        database = "ok"
    except Exception as exc:
        database = f"error: {exc.__class__.__name__}"
    return Health(
        status="ok" if database == "ok" else "degraded",
        database=database,
        model=recommender.model_label,
    )


@router.get(
    "/ready",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Not ready; the body says why."}},
)
def ready(session: SessionDep, recommender: RecommenderDep, response: Response) -> Readiness:
    """Whether recommendations are served as trained: the model is loaded, the ranker has its
    online features (the store answers, nothing is behind its table), the database answers.

    Answers 503 with the reasons otherwise; recommendations still work then (they fall back).
    """
    from features.status import feature_status

    problems: list[str] = []
    try:
        session.execute(text("SELECT 1"))
    except Exception as exc:
        problems.append(f"database: {exc.__class__.__name__}")
    if recommender.model_label is None:
        recommender.try_load()
    if recommender.model_label is None:
        problems.append("model: none loaded (run `reelrank train`)")
    status = feature_status(recommender.settings.paths.features, probe_online=False)
    behind = [v.name for v in status.views if v.behind]
    if not status.configured:
        problems.append("features: no Feast repo (run `reelrank features sync`)")
    elif status.materialized_at is None:
        problems.append("features: never materialized")
    elif behind:
        problems.append(f"features: online store behind its tables for {', '.join(behind)}")
    ranking = recommender.ranking
    if ranking.startswith("blend (fallback"):
        problems.append(f"ranking: {ranking}")
    features = "ok" if not any(p.startswith("features") for p in problems) else "not ready"
    if problems:
        response.status_code = 503
    return Readiness(
        ready=not problems,
        model=recommender.model_label,
        ranking=ranking,
        features=features,
        feature_staleness_s=status.staleness_s,
        problems=problems,
    )
