"""FastAPI dependencies: settings, database sessions, the loaded recommender, the experiment
registry, the exposure log and the admin check."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request
from sqlalchemy.orm import Session

from core.db.session import session_factory
from core.settings import Settings
from serving.experiments import ExperimentRegistry
from serving.exposure_log import ExposureLog
from serving.recommender import RecommenderService


def get_settings_dep(request: Request) -> Settings:
    """The settings the app was created with."""
    return request.app.state.settings


def get_session(request: Request) -> Iterator[Session]:
    """A catalogue session for one request."""
    settings: Settings = request.app.state.settings
    with session_factory(settings.resolved_database_url)() as session:
        yield session


def get_recommender(request: Request) -> RecommenderService:
    """The recommender loaded at start-up (or on first use)."""
    return request.app.state.recommender


def get_experiments(request: Request) -> ExperimentRegistry:
    """The experiment registry (with its cached running experiment)."""
    return request.app.state.experiments


def get_exposures(request: Request) -> ExposureLog:
    """The buffered exposure log."""
    return request.app.state.exposures


def require_admin(
    request: Request,
    x_admin_token: Annotated[str | None, Header(description="The admin token.")] = None,
) -> None:
    """Refuse the request unless ``X-Admin-Token`` equals the configured admin token: 403 when
    none is configured or the token is wrong, 401 when the header is missing."""
    expected = request.app.state.settings.admin_token
    if not expected:
        raise HTTPException(403, "admin routes are disabled: set REELRANK_ADMIN_TOKEN")
    if x_admin_token is None:
        raise HTTPException(401, "missing X-Admin-Token header")
    if not hmac.compare_digest(x_admin_token.encode(), expected.encode()):
        raise HTTPException(403, "wrong X-Admin-Token")


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SessionDep = Annotated[Session, Depends(get_session)]
RecommenderDep = Annotated[RecommenderService, Depends(get_recommender)]
ExperimentsDep = Annotated[ExperimentRegistry, Depends(get_experiments)]
ExposuresDep = Annotated[ExposureLog, Depends(get_exposures)]
