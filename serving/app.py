"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from core.errors import NotFoundError, ReelRankError
from core.settings import Settings, get_settings
from serving.catalogue_snapshot import CatalogueSnapshot
from serving.filter_expr import FilterError
from serving.recommendation_service import RecommendationService
from serving.recommender import ModelUnavailableError, RecommenderService
from serving.request_options import BadOptionError
from serving.routes import health, recommendations, search, videos


def create_app(settings: Settings | None = None) -> FastAPI:
    """A ReelRank API bound to ``settings`` (the process settings by default)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.recommender.try_load()
        yield

    app = FastAPI(
        title="ReelRank",
        description="Catalogue, HLS streaming and personalized recommendations.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.recommender = RecommenderService(settings)
    app.state.catalogue = CatalogueSnapshot(settings.resolved_database_url)
    app.state.recommendations = RecommendationService(app.state.recommender, app.state.catalogue)

    @app.exception_handler(NotFoundError)
    async def not_found(_request: Request, exc: NotFoundError) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    @app.exception_handler(ModelUnavailableError)
    async def unavailable(_request: Request, exc: ModelUnavailableError) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": str(exc)})

    @app.exception_handler(FilterError)
    @app.exception_handler(BadOptionError)
    async def bad_option(_request: Request, exc: ReelRankError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    @app.exception_handler(ReelRankError)
    async def bad_request(_request: Request, exc: ReelRankError) -> JSONResponse:
        return JSONResponse(status_code=400, content={"detail": str(exc)})

    for module in (health, videos, search, recommendations):
        app.include_router(module.router)
    return app
