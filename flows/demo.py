"""The walking skeleton: every part of the platform once, on the embedded defaults."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import typer
from pydantic import BaseModel, Field

from core.settings import Settings
from flows.demo_accounts import ACCOUNTS_FILE, demo_accounts
from flows.demo_upload import upload_and_stream

T = TypeVar("T")


class DemoConfig(BaseModel):
    """Size of the synthetic world and whether to keep serving at the end."""

    users: int = Field(2_000, ge=10)
    videos: int = Field(500, ge=10)
    seed: int = 7
    serve: bool = True


#: Loggers of the in-process requests the demo's steps make (one line per request).
_REQUEST_LOGGERS = ("httpx", "httpx2", "reelrank.access")


@contextmanager
def _quiet_requests() -> Iterator[None]:
    """Keep the steps' own requests out of the output (their summaries say what happened);
    warnings and errors still show."""
    loggers = [logging.getLogger(name) for name in _REQUEST_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _step(number: int, total: int, title: str, action: Callable[[], T]) -> T:
    typer.secho(f"[{number}/{total}] {title} ...", bold=True)
    started = time.perf_counter()
    with _quiet_requests():
        result = action()
    text = result.summary() if hasattr(result, "summary") else str(result)
    typer.echo(f"      {text}  ({time.perf_counter() - started:.1f} s)")
    return result


def run_demo(settings: Settings, config: DemoConfig) -> None:
    """Synthesise, package, train, materialize, then serve the API (unless told not to)."""
    from sqlalchemy import func, select

    from core.db.migrate import upgrade
    from core.db.models import Video
    from core.db.session import session_scope

    paths = settings.paths.ensure()
    url = settings.resolved_database_url
    upgrade(url)
    total = 7

    def synthesise() -> object:
        from training.datasets.synth import SynthConfig
        from training.datasets.synth_writer import synthesize

        with session_scope(url) as session:
            existing = session.scalar(select(func.count()).select_from(Video)) or 0
        if existing and paths.events_file.exists():
            return f"reusing the existing world ({existing} videos) under {paths.root}"
        return synthesize(
            SynthConfig(users=config.users, videos=config.videos, seed=config.seed),
            url,
            paths.events_file,
        )

    _step(1, total, "Synthesising the demo world", synthesise)
    video_id = _step(2, total, "Packaging a test clip as HLS on Ray", lambda: _package(settings))
    _step(
        3, total, "Building, applying and materializing Feast features", lambda: _features(settings)
    )
    _step(
        4,
        total,
        "Training models, ensemble and ranker, tracked in MLflow",
        lambda: _train(settings),
    )
    _step(
        5,
        total,
        "Training a challenger and starting an A/B experiment against the champion",
        lambda: _experiment(settings),
    )
    accounts = demo_accounts(settings)
    _step(
        6,
        total,
        "Uploading a clip as the demo creator through tus; streaming it, signed, to the viewer",
        lambda: upload_and_stream(settings, accounts["creator"], accounts["viewer"]),
    )
    base = f"http://{settings.api_host}:{settings.api_port}"
    _step(7, total, "Checking the API", lambda: _check_api(settings, video_id))
    typer.secho("\nReelRank is ready. Open:", bold=True)
    for path in (
        "/",
        "/docs",
        "/health",
        "/ready",
        "/videos",
        f"/videos/{video_id}",
        f"/videos/{video_id}/manifest.m3u8",
        f"/users/{_most_active_user(settings)}/recommendations?k=10",
        f"/users/{_most_active_user(settings)}/home?k=10",
        f"/videos/{video_id}/watch-next?k=10",
        f"/experiments/{DEMO_EXPERIMENT}/results",
        "/metrics",
        "/search?q=the",
        "/search/suggest?q=the",
    ):
        typer.echo(f"  {base}{path}")
    typer.echo(
        f"  Accounts ({', '.join(a.username for a in accounts.values())}): passwords in "
        f"{settings.paths.root / ACCOUNTS_FILE}; sign in with POST {base}/auth/token"
    )
    typer.echo("  MLflow UI (runs, champion and challenger with reasons): reelrank mlflow ui")
    if not settings.admin_token:
        typer.echo("  Admin routes: sign in as demo-admin (or set REELRANK_ADMIN_TOKEN).")
    typer.echo(
        "  Retrain now (promoted only if it beats the champion): reelrank flows run retrain; "
        "the nightly and hourly schedules: reelrank flows serve"
    )
    if config.serve:
        import uvicorn

        from core.logging import setup_logging
        from serving.app import create_app

        setup_logging(settings.log_level, json_lines=settings.log_json)
        uvicorn.run(
            create_app(settings), host=settings.api_host, port=settings.api_port, log_config=None
        )


def _package(settings: Settings) -> int:
    """Upload a generated test-pattern clip as a new video and package it on Ray; its id."""
    from sqlalchemy import select

    from core.db.models import Channel, Video
    from core.db.session import session_scope
    from core.types import VideoStatus
    from media.encode.testpattern import make_test_clip
    from media.jobs.runner import process_video
    from media.ray_runtime import init_ray
    from serving.package_extras import make_extras

    url = settings.resolved_database_url
    paths = settings.paths
    with session_scope(url) as session:
        video = session.scalars(
            select(Video).where(Video.source == "demo", Video.external_id == "testpattern")
        ).one_or_none()
        if video is not None and video.status is VideoStatus.READY and video.renditions:
            typer.echo(f"      reusing packaged video {video.id}")
            return video.id
        if video is None:
            channel = session.scalars(select(Channel).order_by(Channel.id).limit(1)).first()
            video = Video(
                title="ReelRank test pattern",
                description="Colour bars, a moving box and a 440 Hz tone, made with PyAV.",
                tags=["test", "pattern"],
                genres=["Documentary"],
                language="en",
                duration_s=6.0,
                channel_id=channel.id if channel else None,
                source="demo",
                external_id="testpattern",
            )
            session.add(video)
            session.flush()
        video_id = video.id
    clip = make_test_clip(paths.originals / f"{video_id}.mp4", seconds=6, width=1280, height=720)
    init_ray(settings.resolved_ray_address, paths.ray_tmp)
    package = process_video(url, video_id, clip, paths.root)
    make_extras(url, package, paths.embeddings_file, on_ray=True)
    typer.echo(f"      video {video_id}: {package.master} (with poster, storyboard and MP4)")
    return video_id


#: Sources the demo's pipeline blends: cheap to fit, and each adds something on the synthetic world.
DEMO_MODELS = ("popularity", "trending", "als", "itemknn", "content")


def _train(settings: Settings) -> object:
    from training.train import RunConfig, TrackingSettings, run_training

    paths = settings.paths
    config = RunConfig(
        events_path=paths.events_file,
        models=DEMO_MODELS,
        database_url=settings.resolved_database_url,
        embeddings_path=paths.embeddings_file,
        tracking=TrackingSettings(
            uri=settings.resolved_mlflow_uri, artifacts_dir=paths.mlflow_artifacts
        ),
    )
    return run_training(config)


#: Sources of the demo's challenger: the champion's without ALS, and no learned ranker.
CHALLENGER_MODELS = ("popularity", "trending", "itemknn", "content")
DEMO_EXPERIMENT = "champion-vs-challenger"


def _experiment(settings: Settings) -> str:
    """Train and register a second version, then run an experiment between the champion and
    the other version (50/50); reuses both when they exist."""
    from flows.experiment_start import start_champion_experiment
    from models.mlflow_registry import registered_versions, resolve_version
    from serving.experiments import ExperimentNotFoundError, ExperimentRegistry
    from serving.recommender import MODEL_NAME
    from training.train import RunConfig, TrackingSettings, run_training

    registry = ExperimentRegistry(settings.resolved_database_url)
    try:
        existing = registry.get(DEMO_EXPERIMENT)
    except ExperimentNotFoundError:
        existing = None
    if existing is not None:
        if existing.status != "running":
            registry.start(DEMO_EXPERIMENT)
        models = ", ".join(f"{v.name}: {v.model}" for v in existing.variants)
        return f"reusing experiment {DEMO_EXPERIMENT} ({models})"
    paths = settings.paths
    uri = settings.resolved_mlflow_uri
    report = run_training(
        RunConfig(
            events_path=paths.events_file,
            models=CHALLENGER_MODELS,
            rankers=(),
            database_url=settings.resolved_database_url,
            embeddings_path=paths.embeddings_file,
            tracking=TrackingSettings(uri=uri, artifacts_dir=paths.mlflow_artifacts),
        )
    )
    champion = int(resolve_version(MODEL_NAME, "champion", tracking_uri=uri))
    other = max(v for v in registered_versions(MODEL_NAME, tracking_uri=uri) if v != champion)
    start_champion_experiment(settings, other, DEMO_EXPERIMENT)
    reason = report.promotion.reason if report.promotion else "not registered"
    return (
        f"experiment {DEMO_EXPERIMENT}: champion v{champion} vs v{other}, 50/50, running "
        f"(v{report.model_version} @{report.alias}: {reason})"
    )


def _features(settings: Settings) -> object:
    from features.store import sync_features

    paths = settings.paths
    return sync_features(
        paths.events_file,
        paths,
        settings.online_store,
        settings.redis_url,
        database_url=settings.resolved_database_url,
    )


def _most_active_user(settings: Settings) -> int:
    from core import columns as c
    from core.eventlog import read_events

    events = read_events(settings.paths.events_file)
    return int(events[c.USER_ID].value_counts().index[0])


def _check_api(settings: Settings, video_id: int) -> str:
    """Call each endpoint in-process once; raise if any answers with an error."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette's note about httpx in TestClient
        from fastapi.testclient import TestClient

    from datetime import UTC, datetime

    from serving.app import create_app

    user_id = _most_active_user(settings)
    with TestClient(create_app(settings)) as client:
        checks = [
            "/health",
            "/videos?limit=5",
            f"/videos/{video_id}",
            f"/videos/{video_id}/manifest.m3u8",
            f"/users/{user_id}/recommendations?k=10",
            f"/users/{user_id}/home?k=10",
            f"/videos/{video_id}/watch-next?k=10&user_id={user_id}",
            f"/videos/{video_id}/similar?k=10",
            f"/videos/{video_id}/more-from-creator?k=10",
            f"/experiments/{DEMO_EXPERIMENT}/results",
            "/metrics",
            "/search?q=the",
            "/search/suggest?q=test",
            f"/videos/{video_id}/comments",
        ]
        for path in checks:
            response = client.get(path)
            if response.status_code != 200:
                raise RuntimeError(f"GET {path} answered {response.status_code}: {response.text}")
        home = client.get(f"/users/{user_id}/home?k=10").json()
        if home["fallback"] or home["experiment"] != DEMO_EXPERIMENT:
            raise RuntimeError(f"the home feed is not served by the experiment: {home}")
        first = home["rows"][0]["items"][0]["video_id"]
        event = {
            "event_id": f"demo-check-{home['recommendation_id']}",
            "type": "impression",
            "user_id": user_id,
            "video_id": first,
            "timestamp": datetime.now(UTC).isoformat(),
            "recommendation_id": home["recommendation_id"],
        }
        posted = client.post("/events", json={"events": [event]})
        if posted.status_code != 200:
            raise RuntimeError(f"POST /events answered {posted.status_code}: {posted.text}")
        ready = client.get("/ready").json()
    if not ready["ready"]:
        raise RuntimeError(f"the API is not ready: {'; '.join(ready['problems'])}")
    return (
        f"{len(checks) + 1} endpoints answered 200; user {user_id} is in variant "
        f"{home['variant']} of {DEMO_EXPERIMENT}; ready, ranking by {ready['ranking']} with "
        f"{ready['features']} online features"
    )
