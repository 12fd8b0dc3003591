"""``reelrank bench serve``: the API under load on a full-size synthetic world.

The world (``training.bench_world``) is prepared or reused, ``reelrank serve`` is started as a
subprocess on loopback with the world's settings in its environment, and once it is ready
``training.load_generator`` drives it from another process: a closed-loop and a fixed-rate
phase per endpoint. Then the event ids it sent are counted in the catalogue, the freshness
probes (``training.freshness``) run, and the figures are printed and written as JSON.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from core.db.models import InteractionEvent, User, Video
from core.db.session import session_scope
from core.errors import ReelRankError
from core.types import Role, VideoStatus, Visibility
from training.bench_world import BenchWorld, prepare_world
from training.load_generator import DEFAULT_ENDPOINTS, EVENT_BATCH, Endpoint, LoadSpec

#: How ``reelrank serve`` is started (the console script's entry point, without importing it).
SERVE_COMMAND: tuple[str, ...] = (sys.executable, "-c", "from flows.cli import run; run()", "serve")
#: The endpoint whose batches are counted as events.
EVENTS_ENDPOINT = "events"
READY_TIMEOUT_S = 900.0


@dataclass(frozen=True)
class ServeBenchConfig:
    """What ``bench_serve`` measures and how hard."""

    users: int = 100_000
    videos: int = 10_000
    seed: int = 7
    workers: int = 1
    concurrency: int = 32
    seconds: float = 20.0
    rate: float = 500.0
    endpoints: tuple[Endpoint, ...] = DEFAULT_ENDPOINTS
    freshness: bool = True


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def service_environment(world: BenchWorld) -> dict[str, str]:
    """This process's environment with every ReelRank and MLflow location set to the world's."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("REELRANK_") and key != "MLFLOW_TRACKING_URI"
    }
    return env | world.service_env() | {"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}


@contextmanager
def running_service(
    world: BenchWorld, port: int, workers: int, say: Callable[[str], None] = print
) -> Iterator[tuple[str, int]]:
    """``reelrank serve`` on ``127.0.0.1:port`` for the world, once ready; its base URL and
    process id.

    Its output goes to ``serve.log`` in the world's root; it is stopped on the way out.
    """
    command = [*SERVE_COMMAND, "--host", "127.0.0.1", "--port", str(port)]
    if workers > 1:
        command += ["--workers", str(workers)]
    log_path = world.root / "serve.log"
    base_url = f"http://127.0.0.1:{port}"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, env=service_environment(world), stdout=log, stderr=subprocess.STDOUT
        )
        try:
            started = time.perf_counter()
            wait_ready(base_url, process, log_path, say)
            say(f"service ready on {base_url} after {time.perf_counter() - started:.1f} s")
            yield base_url, process.pid
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_ready(
    base_url: str,
    process: subprocess.Popen[bytes],
    log_path: Path,
    say: Callable[[str], None] = print,
    timeout_s: float = READY_TIMEOUT_S,
) -> None:
    """Until ``/ready`` answers 200, or ``/health`` names a loaded model; raise if the process
    dies or ``timeout_s`` passes."""
    deadline = time.perf_counter() + timeout_s
    last = ""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        while time.perf_counter() < deadline:
            if process.poll() is not None:
                tail = log_path.read_text()[-2000:]
                raise ReelRankError(f"the service exited with {process.returncode}:\n{tail}")
            try:
                ready = client.get("/ready")
                if ready.status_code == 200:
                    return
                health = client.get("/health")
                if health.status_code == 200 and health.json().get("model"):
                    say(
                        f"/ready answers {ready.status_code} ({ready.text[:300]}); "
                        "the model is loaded"
                    )
                    return
                last = f"/ready {ready.status_code}: {ready.text[:300]}"
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            time.sleep(0.5)
    raise ReelRankError(f"the service was not ready after {timeout_s:.0f} s ({last})")


def world_ids(database_url: str) -> tuple[list[int], list[int]]:
    """Viewer ids and public, ready video ids of the catalogue."""
    with session_scope(database_url) as session:
        users = session.scalars(select(User.id).where(User.role == Role.VIEWER)).all()
        videos = session.scalars(
            select(Video.id).where(
                Video.visibility == Visibility.PUBLIC, Video.status == VideoStatus.READY
            )
        ).all()
    return list(users), list(videos)


def stored_events(database_url: str, event_ids: Sequence[str], chunk: int = 500) -> int:
    """How many of ``event_ids`` are rows of ``interaction_events``."""
    stored = 0
    with session_scope(database_url) as session:
        for start in range(0, len(event_ids), chunk):
            part = event_ids[start : start + chunk]
            stored += (
                session.scalar(
                    select(func.count())
                    .select_from(InteractionEvent)
                    .where(InteractionEvent.event_id.in_(part))
                )
                or 0
            )
    return stored


def run_load_process(spec: LoadSpec, workdir: Path) -> dict[str, Any]:
    """Run ``python -m training.load_generator`` on ``spec``; its result."""
    spec_path = workdir / "load-spec.json"
    out_path = workdir / "load-result.json"
    spec_path.write_text(spec.to_json())
    phases = len(spec.phases) * len(spec.endpoints)
    timeout = phases * (spec.seconds + spec.warmup_s + spec.timeout_s + 30) + 60
    subprocess.run(
        [sys.executable, "-m", "training.load_generator", str(spec_path), str(out_path)],
        check=True,
        timeout=timeout,
    )
    return dict(json.loads(out_path.read_text()))


def _endpoint_figures(summary: dict[str, Any]) -> dict[str, Any]:
    return {key: summary[key] for key in ("rps", "p50_ms", "p99_ms", "errors")}


def assemble(
    load: dict[str, Any],
    endpoints: Sequence[Endpoint],
    stored: int,
    freshness: dict[str, Any],
    config: dict[str, Any],
    rate: float,
) -> dict[str, Any]:
    """The benchmark's JSON from the load generator's result and the counts and probes."""
    closed = load.get("closed_loop", {})
    fixed = load.get("fixed_rate", {})
    sent = sum(len(ids) for ids in load.get("sent_event_ids", {}).values())
    by_name = {e.name: e for e in endpoints}
    events_closed = closed.get(EVENTS_ENDPOINT)
    return {
        "endpoints": {
            name: _endpoint_figures(summary)
            for name, summary in closed.items()
            if name != EVENTS_ENDPOINT
        },
        "events": {
            "sent": sent,
            "stored": stored,
            "events_per_s": (
                round(events_closed["rps"] * EVENT_BATCH, 1) if events_closed else None
            ),
        },
        "freshness": freshness,
        "fixed_rate": {
            name: {"rate": by_name[name].rate or rate} | _endpoint_figures(summary)
            for name, summary in fixed.items()
        },
        "requests": {"closed_loop": closed, "fixed_rate": fixed},
        "config": config,
    }


def probe_freshness(
    base_url: str,
    world: BenchWorld,
    endpoints: Sequence[Endpoint],
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """``event_to_effect_s`` and ``upload_to_recommendable_s`` (None, with a note, when the
    effect was never seen), on the paths of the ``home_recs`` and ``watch_next`` endpoints
    (the defaults' when absent)."""
    from training.freshness import (
        HOME_PATH,
        WATCH_NEXT_PATH,
        event_to_effect,
        upload_to_recommendable,
        warm_user,
    )

    paths = {e.name: e.path for e in endpoints}
    home = paths.get("home_recs", HOME_PATH)
    watch_next = paths.get("watch_next", WATCH_NEXT_PATH)
    url = world.settings.resolved_database_url
    user = warm_user(url)
    with httpx.Client(base_url=base_url, timeout=30) as client:
        effect = event_to_effect(client, user, home)
        say(f"freshness: event to effect {effect.seconds} s ({effect.note})")
        upload = upload_to_recommendable(client, url, world.root, user, home, watch_next)
        say(f"freshness: upload to recommendable {upload.seconds} s ({upload.note})")
    result: dict[str, Any] = {
        "event_to_effect_s": effect.seconds,
        "upload_to_recommendable_s": upload.seconds,
    }
    for key, probe in (("event_to_effect", effect), ("upload_to_recommendable", upload)):
        result[f"{key}_note"] = probe.note
    return result


def describe(result: dict[str, Any]) -> str:
    """The figures as a few human-readable lines (``cpu ms``: the server's CPU per request in
    the closed loop)."""
    config = result["config"]
    lines = [
        f"serve benchmark: {config['users']} users x {config['videos']} videos, "
        f"{config['workers']} worker(s), {config['concurrency']} connections, "
        f"{config['seconds']} s per phase, {config['cores']} cores",
        f"{'endpoint':<12} {'rps':>8} {'p50 ms':>9} {'p99 ms':>9} {'errors':>7} {'cpu ms':>7}"
        f"   fixed: {'rate':>6} {'p50 ms':>9} {'p99 ms':>9} {'errors':>7}",
    ]
    names = list(result["endpoints"]) + [
        name for name in result["fixed_rate"] if name not in result["endpoints"]
    ]
    for name in names:
        closed = result["requests"]["closed_loop"].get(name)
        fixed = result["fixed_rate"].get(name)
        left = (
            f"{closed['rps']:>8} {closed['p50_ms']!s:>9} {closed['p99_ms']!s:>9} "
            f"{closed['errors']:>7} {closed.get('server_cpu_ms_per_request')!s:>7}"
            if closed
            else " " * 44
        )
        right = (
            f"   fixed: {fixed['rate']:>6} {fixed['p50_ms']!s:>9} {fixed['p99_ms']!s:>9} "
            f"{fixed['errors']:>7}"
            if fixed
            else ""
        )
        lines.append(f"{name:<12} {left}{right}")
    events = result["events"]
    lines.append(
        f"events: sent {events['sent']}, stored {events['stored']}, "
        f"{events['events_per_s']} events/s (closed loop)"
    )
    fresh = result["freshness"]
    if fresh:
        lines.append(
            f"freshness: event to effect {fresh.get('event_to_effect_s')} s, "
            f"upload to recommendable {fresh.get('upload_to_recommendable_s')} s"
        )
    return "\n".join(lines)


def bench_serve(
    data_root: Path,
    config: ServeBenchConfig,
    json_path: Path | None = None,
    reuse: bool = False,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Prepare the world under ``data_root``, serve it, load it, probe freshness; print and
    return the figures (written to ``json_path`` when given)."""
    started = time.perf_counter()
    world = prepare_world(data_root, config.users, config.videos, config.seed, reuse=reuse, say=say)
    prepared_s = time.perf_counter() - started
    workers = config.workers
    url = world.settings.resolved_database_url
    user_ids, video_ids = world_ids(url)
    spec_config = {
        "users": config.users,
        "videos": config.videos,
        "seed": config.seed,
        "workers": workers,
        "concurrency": config.concurrency,
        "seconds": config.seconds,
        "rate": config.rate,
        "cores": os.cpu_count(),
        "models": list(world.models),
        "data_root": str(world.root),
        "world_steps_s": world.step_seconds,
        "world_reused": world.reused,
        "prepare_s": round(prepared_s, 1),
        "endpoints": {e.name: f"{e.method} {e.path}" for e in config.endpoints},
    }
    with (
        running_service(world, free_port(), workers, say) as (base_url, server_pid),
        tempfile.TemporaryDirectory(prefix="reelrank-load-") as tmp,
    ):
        spec = LoadSpec(
            base_url=base_url,
            endpoints=config.endpoints,
            user_ids=tuple(user_ids),
            video_ids=tuple(video_ids),
            seconds=config.seconds,
            concurrency=config.concurrency,
            rate=config.rate,
            seed=config.seed,
            server_pid=server_pid,
        )
        say(
            f"load: {len(config.endpoints)} endpoint(s), closed loop then {config.rate:g} rps, "
            f"{config.seconds:g} s each"
        )
        load = run_load_process(spec, Path(tmp))
        sent_ids = [i for ids in load.get("sent_event_ids", {}).values() for i in ids]
        stored = stored_events(url, sent_ids)
        freshness = (
            probe_freshness(base_url, world, config.endpoints, say) if config.freshness else {}
        )
    result = assemble(load, config.endpoints, stored, freshness, spec_config, config.rate)
    say(describe(result))
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(result, indent=2) + "\n")
    return result
