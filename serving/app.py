"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from core.errors import NotFoundError, ReelRankError
from core.settings import Settings, get_settings
from serving.experiments import ExperimentConflictError, ExperimentRegistry
from serving.exposure_log import ExposureLog
from serving.recommender import ModelUnavailableError, RecommenderService
from serving.routes import experiments, health, recommendations, search, videos


def create_app(settings: Settings | None = None) -> FastAPI:
    """A ReelRank API bound to ``settings`` (the process settings by default)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.recommender.try_load()
        yield
        app.state.exposures.close()

    app = FastAPI(
        title="ReelRank",
        description="Catalogue, HLS streaming and personalized recommendations.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.recommender = RecommenderService(settings)
    app.state.experiments = ExperimentRegistry(settings.resolved_database_url)
    app.state.exposures = ExposureLog(settings.resolved_database_url)

    @app.exception_handler(NotFoundError)
    async def not_found(_request: Request, exc: NotFoundError) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    @app.exception_handler(ModelUnavailableError)
    async def unavailable(_request: Request, exc: ModelUnavailableError) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": str(exc)})

    @app.exception_handler(ExperimentConflictError)
    async def conflict(_request: Request, exc: ExperimentConflictError) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": str(exc)})

    @app.exception_handler(ReelRankError)
    async def bad_request(_request: Request, exc: ReelRankError) -> JSONResponse:
        return JSONResponse(status_code=400, content={"detail": str(exc)})

    for module in (health, videos, search, recommendations, experiments):
        app.include_router(module.router)
    return app
