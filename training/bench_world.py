"""The world ``reelrank bench serve`` measures: a synthetic catalogue, its Feast features and a
champion pipeline, all under one data root, each step timed and recorded so a rerun reuses it.

The steps are those of the demo (``flows.demo``) at benchmark size: synthesise the world into
the catalogue and the parquet event log, build/apply/materialize the feature store, train the
pipeline of ``BENCH_MODELS`` (blend only, no ranker, so it trains in minutes on two cores at
100,000 users) and register it as champion in the data root's MLflow. ``bench-world.json`` in
the data root records the world's size and each finished step's seconds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import ReelRankError
from core.settings import Settings

#: Sources of the benchmark's pipeline: cheap to fit at 100,000 users x 10,000 videos.
BENCH_MODELS: tuple[str, ...] = ("popularity", "trending", "itemknn")
#: The record of a prepared world, in its data root.
RECORD_FILE = "bench-world.json"
STEPS: tuple[str, ...] = ("synthesise", "features", "train")


@dataclass(frozen=True)
class BenchWorld:
    """A prepared world: its data root, settings, and the seconds each step took when it ran."""

    root: Path
    users: int
    videos: int
    seed: int
    models: tuple[str, ...]
    step_seconds: dict[str, float]
    reused: bool

    @property
    def settings(self) -> Settings:
        """Settings whose every location lies under this world's data root."""
        return world_settings(self.root)

    def service_env(self) -> dict[str, str]:
        """``REELRANK_*`` variables that point a ``reelrank serve`` process at this world."""
        settings = self.settings
        return {
            "REELRANK_DATA_ROOT": str(self.root),
            "REELRANK_DATABASE_URL": settings.resolved_database_url,
            "REELRANK_MLFLOW_TRACKING_URI": settings.resolved_mlflow_uri,
            "REELRANK_ONLINE_STORE": "sqlite",
            "REELRANK_RATE_LIMIT_PER_MINUTE": "0",
            "REELRANK_LOG_LEVEL": "WARNING",
        }


def world_settings(root: Path) -> Settings:
    """Settings for a world under ``root``: SQLite catalogue, MLflow and online store there."""
    root = root.resolve()
    return Settings(
        data_root=root,
        database_url=f"sqlite:///{root / 'reelrank.db'}",
        mlflow_tracking_uri=f"sqlite:///{root / 'mlflow' / 'mlflow.db'}",
        online_store="sqlite",
    )


def _read_record(root: Path) -> dict[str, Any]:
    path = root / RECORD_FILE
    return dict(json.loads(path.read_text())) if path.exists() else {}


def _write_record(root: Path, record: dict[str, Any]) -> None:
    (root / RECORD_FILE).write_text(json.dumps(record, indent=2) + "\n")


def prepare_world(
    root: Path,
    users: int = 100_000,
    videos: int = 10_000,
    seed: int = 7,
    reuse: bool = False,
    say: Callable[[str], None] = print,
) -> BenchWorld:
    """Prepare (or, with ``reuse``, finish or reuse) the world under ``root``; each step timed.

    Refuses a root that holds another world (other size or seed), or any world without
    ``reuse``.
    """
    root = root.resolve()
    root.mkdir(parents=True, exist_ok=True)
    record = _read_record(root)
    size = {"users": users, "videos": videos, "seed": seed, "models": list(BENCH_MODELS)}
    if record:
        if not reuse:
            raise ReelRankError(f"{root} already holds a benchmark world; pass --reuse")
        if {key: record.get(key) for key in size} != size:
            held = {key: record.get(key) for key in size}
            raise ReelRankError(f"{root} holds another world ({held}); asked for {size}")
    record = {**size, "steps": dict(record.get("steps", {}))}
    steps: dict[str, Callable[[Settings], str]] = {
        "synthesise": lambda s: _synthesise(s, users, videos, seed),
        "features": _features,
        "train": _train,
    }
    settings = world_settings(root)
    settings.paths.ensure()
    ran = False
    for number, name in enumerate(STEPS, start=1):
        if name in record["steps"]:
            say(f"[{number}/{len(STEPS)}] {name}: reused ({record['steps'][name]:.1f} s when run)")
            continue
        say(f"[{number}/{len(STEPS)}] {name} ...")
        started = time.perf_counter()
        summary = steps[name](settings)
        seconds = time.perf_counter() - started
        say(f"      {summary}  ({seconds:.1f} s)")
        record["steps"][name] = round(seconds, 1)
        _write_record(root, record)
        ran = True
    return BenchWorld(
        root=root,
        users=users,
        videos=videos,
        seed=seed,
        models=BENCH_MODELS,
        step_seconds=dict(record["steps"]),
        reused=not ran,
    )


def _synthesise(settings: Settings, users: int, videos: int, seed: int) -> str:
    from core.db.migrate import upgrade
    from training.datasets.synth import SynthConfig
    from training.datasets.synth_writer import synthesize

    url = settings.resolved_database_url
    upgrade(url)
    config = SynthConfig(users=users, videos=videos, seed=seed)
    return synthesize(config, url, settings.paths.events_file).summary()


def _features(settings: Settings) -> str:
    from features.store import sync_features

    return sync_features(
        settings.paths.events_file,
        settings.paths,
        settings.online_store,
        settings.redis_url,
        database_url=settings.resolved_database_url,
    ).summary()


def _train(settings: Settings) -> str:
    from training.train import RunConfig, TrackingSettings, run_training

    paths = settings.paths
    config = RunConfig(
        events_path=paths.events_file,
        models=BENCH_MODELS,
        rankers=(),
        ranker_features=False,
        database_url=settings.resolved_database_url,
        embeddings_path=paths.embeddings_file,
        tracking=TrackingSettings(
            uri=settings.resolved_mlflow_uri, artifacts_dir=paths.mlflow_artifacts
        ),
    )
    report = run_training(config)
    if report.alias != "champion":
        raise ReelRankError(f"the trained pipeline was registered as @{report.alias}, not champion")
    return report.summary()
