"""The serve benchmark's load generator against a real tiny app in a uvicorn subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from training.freshness import (
    event_to_effect,
    listed_video_ids,
    upload_to_recommendable,
    warm_user,
)
from training.load_generator import Endpoint, LoadSpec, parse_endpoint
from training.serve_bench import assemble, free_port, run_load_process, stored_events

ENDPOINTS = (
    Endpoint("home_recs", "GET", "/users/{user_id}/home"),
    Endpoint("watch_next", "GET", "/videos/{video_id}/watch-next?user_id={user_id}"),
    Endpoint("rerank", "POST", "/rerank", body="rerank"),
    Endpoint("events", "POST", "/events", body="events", rate=10.0),
)


@pytest.fixture
def tiny_app(sqlite_url: str) -> Iterator[tuple[str, int]]:
    """``tests.serve_bench_app`` served by uvicorn on a free loopback port; its base URL and
    process id."""
    port = free_port()
    env = os.environ | {"SERVE_BENCH_TEST_DB": sqlite_url, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "tests.serve_bench_app:app", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{base_url}/users/1/home", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield base_url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_load_counts_answers_errors_and_stored_events(
    tiny_app: tuple[str, int], sqlite_url: str, tmp_path: Path
) -> None:
    base_url, pid = tiny_app
    spec = LoadSpec(
        base_url=base_url,
        endpoints=ENDPOINTS,
        user_ids=tuple(range(1, 51)),
        video_ids=tuple(range(1, 201)),
        seconds=1.0,
        concurrency=4,
        rate=20.0,
        warmup_s=0.2,
        server_pid=pid,
    )
    load = run_load_process(spec, tmp_path)

    for phase in ("closed_loop", "fixed_rate"):
        home = load[phase]["home_recs"]
        assert home["requests"] > 0 and home["errors"] == 0 and home["p99_ms"] is not None
        missing = load[phase]["watch_next"]
        assert missing["requests"] > 0
        assert missing["errors"] == missing["requests"]
        assert missing["error_kinds"] == {"http_404": missing["requests"]}
        assert missing["p50_ms"] is None
        assert load[phase]["rerank"]["errors"] == 0
    assert load["fixed_rate"]["home_recs"]["requests"] == 20
    assert load["closed_loop"]["rerank"]["server_cpu_ms_per_request"] > 0

    sent = [i for ids in load["sent_event_ids"].values() for i in ids]
    assert len(sent) == len(set(sent)) > 0
    assert len(sent) % 100 == 0
    stored = stored_events(sqlite_url, sent)
    assert stored == len(sent)

    result = assemble(load, ENDPOINTS, stored, {"event_to_effect_s": None}, {"users": 50}, 20.0)
    assert set(result) >= {"endpoints", "events", "freshness", "fixed_rate", "config"}
    assert set(result["endpoints"]) == {"home_recs", "watch_next", "rerank"}
    for figures in result["endpoints"].values():
        assert set(figures) == {"rps", "p50_ms", "p99_ms", "errors"}
    assert result["events"]["sent"] == result["events"]["stored"] == len(sent)
    assert result["events"]["events_per_s"] > 0
    assert result["fixed_rate"]["events"]["rate"] == 10.0
    assert result["fixed_rate"]["home_recs"]["rate"] == 20.0


def test_event_to_effect_sees_the_completed_item_leave_the_feed(
    tiny_app: tuple[str, int],
) -> None:
    with httpx.Client(base_url=tiny_app[0], timeout=10) as client:
        probe = event_to_effect(client, user_id=7, timeout_s=10)
    assert probe.seconds is not None, probe.note
    assert "video 1" in probe.note


def test_event_to_effect_reports_a_missing_route(tiny_app: tuple[str, int]) -> None:
    with httpx.Client(base_url=tiny_app[0], timeout=10) as client:
        probe = event_to_effect(client, user_id=7, home_path="/nowhere/{user_id}", timeout_s=1)
    assert probe.seconds is None
    assert probe.note == "GET /nowhere/7 answered 404"


def test_upload_to_recommendable_sees_the_new_video_and_cleans_up(
    tiny_app: tuple[str, int], sqlite_url: str, tmp_path: Path
) -> None:
    from sqlalchemy import func, select

    from core.db.models import Follow, Video
    from core.db.session import session_scope
    from training.datasets.synth import SynthConfig
    from training.datasets.synth_writer import synthesize

    synthesize(SynthConfig(users=40, videos=30, seed=3), sqlite_url, tmp_path / "events.parquet")
    user = warm_user(sqlite_url)
    with session_scope(sqlite_url) as session:
        videos_before = session.scalar(select(func.count()).select_from(Video))
    with httpx.Client(base_url=tiny_app[0], timeout=10) as client:
        probe = upload_to_recommendable(client, sqlite_url, tmp_path, user, timeout_s=10)
    assert probe.seconds is not None, probe.note
    assert probe.note.endswith("listed in home")
    with session_scope(sqlite_url) as session:
        assert session.scalar(select(func.count()).select_from(Video)) == videos_before
        assert session.scalar(select(func.count()).select_from(Follow)) == 0
    assert not list((tmp_path / "media" / "hls").iterdir())


def test_listed_video_ids_reads_items_and_rows() -> None:
    body = {"items": [{"video_id": 3}], "rows": [{"items": [{"video_id": 1}, {"video_id": 2}]}]}
    assert listed_video_ids(body) == [3, 1, 2]
    assert listed_video_ids({"detail": "Not Found"}) == []


def test_parse_endpoint() -> None:
    assert parse_endpoint("events=POST /events events rate=50") == Endpoint(
        "events", "POST", "/events", "events", 50.0
    )
    assert parse_endpoint("home_recs=get /users/{user_id}/recommendations") == Endpoint(
        "home_recs", "GET", "/users/{user_id}/recommendations"
    )
    for bad in ("home=GET", "=GET /x", "x=PUT /x", "x=POST /x unknown", "x=GET /x rate=fast"):
        with pytest.raises(ValueError):
            parse_endpoint(bad)


def test_prepare_world_refuses_a_held_world_without_reuse_or_of_another_size(
    tmp_path: Path,
) -> None:
    from core.errors import ReelRankError
    from training.bench_world import BENCH_MODELS, RECORD_FILE, prepare_world

    record = {"users": 50, "videos": 20, "seed": 7, "models": list(BENCH_MODELS), "steps": {}}
    (tmp_path / RECORD_FILE).write_text(json.dumps(record))
    with pytest.raises(ReelRankError, match="--reuse"):
        prepare_world(tmp_path, users=50, videos=20)
    with pytest.raises(ReelRankError, match="another world"):
        prepare_world(tmp_path, users=60, videos=20, reuse=True)
