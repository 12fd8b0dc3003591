"""``reelrank bench features``: online feature latency for 1 user x N candidates, per store.

A synthetic world (``training.datasets.synth``) is built into a scratch folder, its feature
tables are built, applied and materialized into the SQLite online store and, when a Redis
server answers, into Redis; then random (user, N random videos) requests are timed through
``features.online.OnlineFeatures.vectors`` (the serving path: video snapshot in process, the
user's row from the store). For comparison it also times Feast's SDK asked for the whole
feature service for the same pairs.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from core import columns as c
from core.eventlog import read_events
from features import schema as s
from features.build import build_tables
from features.online import OnlineFeatures
from features.store import apply, materialize, redis_connection_string, write_store_config
from features.videos import load_videos

#: Default Redis for the benchmark (database 14, apart from the tests' 15).
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"


def redis_reachable(url: str) -> bool:
    """Whether a Redis server answers PING at ``url``."""
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except (redis.RedisError, OSError, ValueError):
        return False


def _percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "mean_ms": round(float(ms.mean()), 3),
    }


def time_store(
    repo_dir: Path,
    user_ids: np.ndarray,
    video_ids: np.ndarray,
    candidates: int,
    requests: int,
    seed: int = 0,
) -> dict[str, Any]:
    """Latency of ``requests`` random lookups of 1 user x ``candidates`` videos."""
    client = OnlineFeatures(repo_dir)
    started = time.perf_counter()
    client.refresh()
    snapshot_s = time.perf_counter() - started
    rng = np.random.default_rng(seed)
    asks = [
        (int(rng.choice(user_ids)), rng.choice(video_ids, size=candidates, replace=False))
        for _ in range(requests)
    ]
    for user, videos in asks[:20]:  # warm-up
        client.vectors(user, videos)
    served: list[float] = []
    for user, videos in asks:
        t0 = time.perf_counter()
        client.vectors(user, videos)
        served.append(time.perf_counter() - t0)
    store = client.store
    service = store.get_feature_service(s.RANKER_SERVICE)
    sdk: list[float] = []
    for user, videos in asks[: max(requests // 10, 20)]:
        rows = [{c.USER_ID: user, c.VIDEO_ID: int(v)} for v in videos]
        t0 = time.perf_counter()
        store.get_online_features(features=service, entity_rows=rows).to_dict()
        sdk.append(time.perf_counter() - t0)
    return {
        **_percentiles(served),
        "requests": requests,
        "candidates": candidates,
        "snapshot_load_s": round(snapshot_s, 3),
        "snapshot_videos": int(client.snapshot.video_ids.size),
        "feast_sdk_service": _percentiles(sdk),
    }


def bench_features(
    json_path: Path | None = None,
    users: int = 2000,
    videos: int = 1000,
    candidates: int = 200,
    requests: int = 2000,
    redis_url: str = DEFAULT_REDIS,
    seed: int = 0,
) -> dict[str, Any]:
    """Time the online feature path on SQLite and (when reachable) Redis; print and return
    ``{"sqlite": {...}, "redis": {...}}`` (written to ``json_path`` when given)."""
    from core.db.migrate import upgrade
    from training.datasets.synth import SynthConfig
    from training.datasets.synth_writer import synthesize

    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="reelrank-bench-features-") as tmp:
        root = Path(tmp)
        url = f"sqlite:///{root / 'catalogue.db'}"
        upgrade(url)
        events_path = root / "events.parquet"
        synthesize(SynthConfig(users=users, videos=videos, seed=seed), url, events_path)
        events = read_events(events_path)
        catalogue = load_videos(url)
        user_ids = np.unique(events[c.USER_ID].to_numpy())
        video_ids = catalogue[c.VIDEO_ID].to_numpy()
        stores: dict[str, str | None] = {"sqlite": None}
        if redis_reachable(redis_url):
            stores["redis"] = redis_connection_string(redis_url)
        else:
            print(f"redis: no server answers at {redis_url}; skipped", flush=True)
        for name, connection in stores.items():
            repo = root / f"repo-{name}"
            tables = build_tables(events, catalogue, repo / s.TABLES_DIR)
            write_store_config(repo, name, connection, project=f"reelrank_bench_{seed}")  # type: ignore[arg-type]
            apply(repo)
            materialize(repo, end=tables.as_of)
            result[name] = time_store(repo, user_ids, video_ids, candidates, requests, seed)
            print(f"{name}: {json.dumps(result[name])}", flush=True)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(result, indent=2) + "\n")
    return result
