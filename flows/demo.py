"""The walking skeleton: every part of the platform once, on the embedded defaults."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import TypeVar

import typer
from pydantic import BaseModel, Field

from core.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")


class DemoConfig(BaseModel):
    """Size of the synthetic world and whether to keep serving at the end."""

    users: int = Field(2_000, ge=10)
    videos: int = Field(500, ge=10)
    seed: int = 7
    serve: bool = True


def _step(number: int, total: int, title: str, action: Callable[[], T]) -> T:
    typer.secho(f"[{number}/{total}] {title} ...", bold=True)
    started = time.perf_counter()
    result = action()
    typer.echo(f"      {result}  ({time.perf_counter() - started:.1f} s)")
    return result


def run_demo(settings: Settings, config: DemoConfig) -> None:
    """Synthesise, package, train, materialize, then serve the API (unless told not to)."""
    from sqlalchemy import func, select

    from core.db.migrate import upgrade
    from core.db.models import Video
    from core.db.session import session_scope

    paths = settings.paths.ensure()
    os.environ.setdefault("PREFECT_HOME", str(paths.prefect_home))
    url = settings.resolved_database_url
    upgrade(url)
    total = 5

    def synthesise() -> object:
        from training.datasets.synth import SynthConfig, synthesize

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
    _step(3, total, "Training popularity + ALS, tracked in MLflow", lambda: _train(settings))
    _step(4, total, "Applying Feast and materializing features", lambda: _features(settings))
    base = f"http://{settings.api_host}:{settings.api_port}"
    _step(5, total, "Checking the API", lambda: _check_api(settings, video_id))
    typer.secho("\nReelRank is ready. Open:", bold=True)
    for path in (
        "/docs",
        "/health",
        "/videos",
        f"/videos/{video_id}",
        f"/videos/{video_id}/manifest.m3u8",
        "/users/1/recommendations?k=10",
        "/search?q=the",
    ):
        typer.echo(f"  {base}{path}")
    typer.echo(
        f"  MLflow UI: .venv/bin/mlflow ui --backend-store-uri {settings.resolved_mlflow_uri}"
    )
    if config.serve:
        import uvicorn

        from serving.app import create_app

        uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port)


def _package(settings: Settings) -> int:
    raise NotImplementedError


def _train(settings: Settings) -> object:
    raise NotImplementedError


def _features(settings: Settings) -> object:
    raise NotImplementedError


def _check_api(settings: Settings, video_id: int) -> object:
    raise NotImplementedError
