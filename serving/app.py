"""The FastAPI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, OperationalError

from core.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ReelRankError,
    TooManyRequestsError,
)
from core.logging import setup_logging
from core.settings import Settings, get_settings
from serving.body_limit import BodySizeLimitMiddleware
from serving.catalogue_snapshot import CatalogueSnapshot
from serving.error_responses import COMMON_ERRORS
from serving.event_ingest import EventIngest
from serving.experiments import ExperimentConflictError, ExperimentRegistry
from serving.exposure_log import ExposureLog
from serving.filter_expr import FilterError
from serving.media_queue import MediaQueue
from serving.metrics import multiprocess_dir, prepare_multiprocess_dir
from serving.middleware import RequestContextMiddleware
from serving.model_watcher import ModelWatcher
from serving.rate_limit import RateLimitMiddleware
from serving.recommendation_service import BadRequestError, RecommendationService
from serving.recommender import ModelUnavailableError, RecommenderService
from serving.request_options import BadOptionError
from serving.routes import (
    account,
    analytics,
    auth,
    channels,
    comments,
    events,
    experiments,
    health,
    metrics,
    playback,
    playlists,
    ratings,
    recommendations,
    search,
    streaming,
    studio,
    uploads,
    users_admin,
    videos,
    web,
)
from serving.search_service import SearchService

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """A ReelRank API bound to ``settings`` (the process settings by default)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        to_thread.current_default_thread_limiter().total_tokens = settings.request_threads
        app.state.recommender.try_load()
        ingest = EventIngest.start(settings)
        app.state.event_sink, app.state.feature_pusher = ingest.sink, ingest.pusher
        watcher = ModelWatcher(app.state.recommender, settings.model_check_interval_s)
        watcher.start()
        app.state.search.start()
        app.state.media_queue.start()
        try:
            yield
        finally:
            app.state.media_queue.stop()
            app.state.search.stop()
            watcher.stop()
            ingest.close()
            app.state.exposures.close()

    app = FastAPI(
        title="ReelRank",
        description="Catalogue, HLS streaming and personalized recommendations.",
        version="0.1.0",
        lifespan=lifespan,
        responses=COMMON_ERRORS,
    )
    app.state.settings = settings
    app.state.web_dir = web.default_web_dir()
    app.state.recommender = RecommenderService(settings)
    app.state.catalogue = CatalogueSnapshot(settings.resolved_database_url)
    app.state.experiments = ExperimentRegistry(settings.resolved_database_url)
    app.state.exposures = ExposureLog(settings.resolved_database_url)
    app.state.search = SearchService(
        settings.resolved_database_url, settings.paths.packages, semantic=settings.search_semantic
    )
    app.state.media_queue = MediaQueue(settings)
    app.state.recommendations = RecommendationService(
        app.state.recommender, app.state.catalogue, app.state.experiments, app.state.exposures
    )

    @app.exception_handler(NotFoundError)
    async def not_found(_request: Request, exc: NotFoundError) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    @app.exception_handler(ModelUnavailableError)
    async def unavailable(_request: Request, exc: ModelUnavailableError) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": str(exc)})

    @app.exception_handler(FilterError)
    @app.exception_handler(BadOptionError)
    @app.exception_handler(BadRequestError)
    async def bad_option(_request: Request, exc: ReelRankError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    @app.exception_handler(ExperimentConflictError)
    @app.exception_handler(ConflictError)
    async def conflict(_request: Request, exc: ReelRankError) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": str(exc)})

    @app.exception_handler(AuthenticationError)
    async def unauthenticated(_request: Request, exc: AuthenticationError) -> JSONResponse:
        return JSONResponse(
            status_code=401, content={"detail": str(exc)}, headers={"WWW-Authenticate": "Bearer"}
        )

    @app.exception_handler(PermissionDeniedError)
    async def forbidden(_request: Request, exc: PermissionDeniedError) -> JSONResponse:
        return JSONResponse(status_code=403, content={"detail": str(exc)})

    @app.exception_handler(TooManyRequestsError)
    async def throttled(_request: Request, exc: TooManyRequestsError) -> JSONResponse:
        return JSONResponse(
            status_code=429,
            content={"detail": str(exc)},
            headers={"Retry-After": str(exc.retry_after_s)},
        )

    @app.exception_handler(OperationalError)
    async def database_busy(_request: Request, exc: OperationalError) -> JSONResponse:
        log.warning("database unavailable: %s", str(exc.orig).splitlines()[0])
        return JSONResponse(
            status_code=503,
            content={"detail": "the database is busy or unreachable; retry shortly"},
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(DataError)
    async def unstorable(_request: Request, exc: DataError) -> JSONResponse:
        # the database refused a value the validators let through (PostgreSQL: a NUL
        # character in text, a number out of a column's range): the caller's input
        reason = str(exc.orig).splitlines()[0] if exc.orig is not None else "invalid value"
        log.info("refused a value the database cannot store: %s", reason)
        return JSONResponse(
            status_code=422, content={"detail": f"a value cannot be stored: {reason}"}
        )

    @app.exception_handler(ReelRankError)
    async def bad_request(_request: Request, exc: ReelRankError) -> JSONResponse:
        return JSONResponse(status_code=400, content={"detail": str(exc)})

    for module in (
        health,
        auth,
        account,
        users_admin,
        videos,
        channels,
        comments,
        ratings,
        playlists,
        streaming,
        uploads,
        studio,
        playback,
        search,
        recommendations,
        events,
        experiments,
        analytics,
        metrics,
        web,
    ):
        app.include_router(module.router)
    add_middleware(app, settings)
    return app


def add_middleware(app: FastAPI, settings: Settings) -> None:
    """The body size limit (innermost), rate limiting, CORS when origins are configured, and
    the request context (request id, access log, latency) outermost, so that it sees every
    answer."""
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    if settings.rate_limit_per_minute > 0:
        app.add_middleware(RateLimitMiddleware, per_minute=settings.rate_limit_per_minute)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
            allow_headers=["*"],
            expose_headers=[
                "X-Request-ID",
                "Retry-After",
                "Location",
                "Upload-Offset",
                "Upload-Length",
                "Upload-Expires",
                "Tus-Resumable",
                "Tus-Version",
                "Tus-Extension",
                "Tus-Max-Size",
            ],
        )
    app.add_middleware(RequestContextMiddleware)


def prepare_workers(settings: Settings) -> None:
    """Ready the ground for several worker processes, before they start: an empty shared
    folder for their metrics, and the MLflow store created (workers creating a new SQLite
    store at once race on its schema)."""
    import mlflow

    prepare_multiprocess_dir(multiprocess_dir(settings.data_root))
    settings.paths.ensure()
    uri = settings.resolved_mlflow_uri
    try:
        mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri).search_registered_models()
    except Exception as exc:  # the workers will report it too; serving starts regardless
        log.warning("the MLflow registry at %s cannot be read: %s", uri, exc)


def app_from_environment() -> FastAPI:
    """The app of one server worker (uvicorn's ``factory=True``): settings from the
    ``REELRANK_*`` environment, logging set up as they say."""
    settings = get_settings()
    setup_logging(settings.log_level, json_lines=settings.log_json)
    return create_app(settings)
