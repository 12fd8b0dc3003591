"""FastAPI dependencies: settings, database sessions, the loaded models and recommendation
service, the event sink and pusher, the experiment registry, the exposure log; the admin
check comes from ``serving.auth``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from core.db.session import session_factory
from core.settings import Settings
from serving.auth import require_admin as require_admin
from serving.event_sink import EventSink
from serving.experiments import ExperimentRegistry
from serving.exposure_log import ExposureLog
from serving.feature_pusher import FeaturePusher
from serving.recommendation_service import RecommendationService
from serving.recommender import RecommenderService


def get_settings_dep(request: Request) -> Settings:
    """The settings the app was created with."""
    return request.app.state.settings


def get_session(request: Request) -> Iterator[Session]:
    """A catalogue session for one request."""
    settings: Settings = request.app.state.settings
    with session_factory(settings.resolved_database_url)() as session:
        yield session


async def get_recommender(request: Request) -> RecommenderService:
    """The recommender loaded at start-up (or on first use)."""
    return request.app.state.recommender


async def get_recommendations(
    request: Request, recommender: Annotated[RecommenderService, Depends(get_recommender)]
) -> RecommendationService:
    """The recommendation service (models, catalogue snapshot, experiments, exposures),
    serving the models ``get_recommender`` gives (so overriding that one is enough)."""
    service: RecommendationService = request.app.state.recommendations
    return service if service.models is recommender else service.using(recommender)


def get_event_sink(request: Request) -> EventSink:
    """The sink accepted events are made durable in (opened at start-up)."""
    return request.app.state.event_sink


def get_feature_pusher(request: Request) -> FeaturePusher:
    """The background pusher of online user features."""
    return request.app.state.feature_pusher


def get_experiments(request: Request) -> ExperimentRegistry:
    """The experiment registry (with its cached running experiment)."""
    return request.app.state.experiments


def get_exposures(request: Request) -> ExposureLog:
    """The buffered exposure log."""
    return request.app.state.exposures


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SessionDep = Annotated[Session, Depends(get_session)]
RecommenderDep = Annotated[RecommenderService, Depends(get_recommender)]
RecommendationsDep = Annotated[RecommendationService, Depends(get_recommendations)]
EventSinkDep = Annotated[EventSink, Depends(get_event_sink)]
FeaturePusherDep = Annotated[FeaturePusher, Depends(get_feature_pusher)]
ExperimentsDep = Annotated[ExperimentRegistry, Depends(get_experiments)]
ExposuresDep = Annotated[ExposureLog, Depends(get_exposures)]
