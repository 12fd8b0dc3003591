"""The real ``materialize-features`` flow: incremental loads, and a task that fails while the
online store is down is retried by Prefect and the flow completes once the store is back."""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.db.migrate import upgrade
from core.settings import Settings, get_settings
from features.stamp import read_stamp
from flows.cli import prefect_environment
from flows.materialize import materialize_features
from training.datasets.synth import SynthConfig
from training.datasets.synth_writer import synthesize

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """A small synthetic world whose online store is a Redis that is not running yet."""
    port = _free_port()
    monkeypatch.setenv("REELRANK_DATA_ROOT", str(tmp_path / "var"))
    monkeypatch.setenv("REELRANK_ONLINE_STORE", "redis")
    monkeypatch.setenv("REELRANK_REDIS_URL", f"127.0.0.1:{port}")
    monkeypatch.delenv("PREFECT_HOME", raising=False)
    get_settings.cache_clear()
    settings = get_settings()
    prefect_environment(settings)
    upgrade(settings.resolved_database_url)
    synthesize(
        SynthConfig(users=150, videos=40, seed=2),
        settings.resolved_database_url,
        settings.paths.ensure().events_file,
    )
    yield settings
    get_settings.cache_clear()


def _redis(port: int, folder: Path) -> subprocess.Popen[bytes]:
    """A real, empty Redis on ``port`` (not waited for: the flow's retries cover its start)."""
    command = [str(shutil.which("redis-server")), "--port", str(port), "--bind", "127.0.0.1"]
    command += ["--save", "", "--appendonly", "no", "--dir", str(folder)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL)


def _redis(port: int, folder: Path) -> subprocess.Popen[bytes]:
    """A real, empty Redis on ``port`` (not waited for: the flow's retries cover its start)."""
    command = [str(shutil.which("redis-server")), "--port", str(port), "--bind", "127.0.0.1"]
    command += ["--save", "", "--appendonly", "no", "--dir", str(folder)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL)


class RedisWhenRetried(logging.Handler):
    """Starts a real Redis on ``port`` when Prefect logs that a task will be retried."""

    def __init__(self, port: int, folder: Path) -> None:
        super().__init__(logging.INFO)
        self.port, self.folder = port, folder
        self.retries: list[str] = []
        self.server: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "Retry 1/" not in message:
            return
        with self._lock:
            self.retries.append(message)
            if self.server is None:
                self.server = _redis(self.port, self.folder)


def test_a_task_that_fails_while_redis_is_down_is_retried_and_the_flow_completes(
    world: Settings, tmp_path: Path
) -> None:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is needed (it runs on every machine of this project)")
    port = int(world.redis_url.rsplit(":", 1)[1])
    handler = RedisWhenRetried(port, tmp_path)
    task_logs = logging.getLogger("prefect.task_runs")
    level = task_logs.level
    task_logs.setLevel(logging.INFO)
    task_logs.addHandler(handler)
    try:
        summary = materialize_features(incremental=True)
    finally:
        task_logs.removeHandler(handler)
        task_logs.setLevel(level)
        if handler.server is not None:
            handler.server.terminate()
            handler.server.wait(10)
    assert handler.retries, "no task failed while Redis was down"
    assert any("Connection" in m or "connect" in m for m in handler.retries), handler.retries
    assert "materialized" in summary
    stamp = read_stamp(world.paths.features)
    assert stamp is not None and stamp.materialized_end is not None


def test_a_second_run_loads_only_what_is_new(world: Settings, tmp_path: Path) -> None:
    port = int(world.redis_url.rsplit(":", 1)[1])
    server = _redis(port, tmp_path)
    try:
        first = materialize_features(incremental=True)
        stamp = read_stamp(world.paths.features)
        assert stamp is not None and first.endswith(
            f"materialized {stamp.materialized_start} .. {stamp.materialized_end}"
        )
        again = materialize_features(incremental=True)
        assert "already up to date" in again
        whole = materialize_features(incremental=False)
        assert "materialized" in whole
    finally:
        server.terminate()
        server.wait(10)
