"""A server killed with SIGKILL in the middle of a stream of event batches loses and doubles
nothing: the client retries every batch that got no answer, on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.test_serving_events import event, seed_catalogue, stored_count

BATCHES = 60
BATCH_SIZE = 50


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(data_root: Path, database_url: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "REELRANK_DATA_ROOT": str(data_root),
        "REELRANK_DATABASE_URL": database_url,
        "PYTHONPATH": str(ROOT),
    }
    command = [sys.executable, "-m", "uvicorn", "serving.app:create_app", "--factory"]
    server = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1.0)
            return server
        except httpx.TransportError:
            assert server.poll() is None, "the server exited at start-up"
            time.sleep(0.1)
    server.kill()
    raise AssertionError("the server did not answer within 60 s")


class RetryingClient(threading.Thread):
    """Sends batches of distinct events in order; retries each until it gets an answer."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.url = f"http://127.0.0.1:{port}/events"
        self.sent_ids: set[str] = set()
        self.answered = 0
        self.unanswered = 0  # attempts that got no answer (connection refused, reset, timeout)

    def run(self) -> None:
        with httpx.Client(timeout=5.0) as http:
            for n in range(BATCHES):
                batch = [
                    event(1 + i % 3, 10 + n % 3, event_id=uuid.uuid4().hex)
                    for i in range(BATCH_SIZE)
                ]
                self.sent_ids.update(e["event_id"] for e in batch)
                while True:
                    try:
                        response = http.post(self.url, json={"events": batch})
                    except httpx.TransportError:
                        self.unanswered += 1
                        time.sleep(0.05)
                        continue
                    assert response.status_code == 200, response.text
                    self.answered += 1
                    break


@pytest.mark.slow
def test_a_killed_server_loses_and_doubles_no_event(data_root: Path, database_url: str) -> None:
    seed_catalogue(database_url)
    port = _free_port()
    server = _start_server(data_root, database_url, port)
    client = RetryingClient(port)
    try:
        client.start()
        while client.answered < BATCHES // 3 and client.is_alive():
            time.sleep(0.01)
        server.kill()  # SIGKILL, mid-stream: the client is sending
        server.wait()
        server = _start_server(data_root, database_url, port)
        client.join(timeout=120)
        assert not client.is_alive(), "the client did not finish"
    finally:
        server.kill()
        server.wait()
    assert client.answered == BATCHES
    assert client.unanswered > 0, "the kill did not interrupt the stream"
    assert len(client.sent_ids) == BATCHES * BATCH_SIZE
    assert stored_count(database_url) == len(client.sent_ids)
