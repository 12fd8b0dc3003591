"""Liveness."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from serving.deps import RecommenderDep, SessionDep
from serving.schemas import Health

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
