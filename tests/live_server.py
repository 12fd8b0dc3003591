"""A real ``reelrank serve`` process on a free loopback port, for tests that need a server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx

REELRANK = Path(sys.executable).parent / "reelrank"


def free_port() -> int:
    """A loopback port nobody listens on (now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def live_server(
    data_root: Path,
    *options: str,
    env: dict[str, str] | None = None,
    start_s: float = 120.0,
    command: tuple[str, ...] = ("serve",),
) -> Iterator[str]:
    """Run ``reelrank <command> --port P *options`` on ``data_root`` (plus the ``REELRANK_*``
    overrides in ``env``) until /health answers; yield its base URL; stop it (SIGTERM, then
    SIGKILL of its process group, and SIGTERM to whatever of the group outlives it)
    afterwards. Its output goes to ``data_root/server.log``."""
    port = free_port()
    environment = os.environ | {"REELRANK_DATA_ROOT": str(data_root)} | (env or {})
    data_root.mkdir(parents=True, exist_ok=True)
    log = (data_root / "server.log").open("wb")
    process = subprocess.Popen(
        [str(REELRANK), *command, "--port", str(port), *options],
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with {process.returncode}; see {log.name}")
            try:
                if httpx.get(f"{url}/health", timeout=2.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"the server did not answer within {start_s} s; see {log.name}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        with suppress(ProcessLookupError):  # children the server started (MLflow's uvicorn)
            os.killpg(process.pid, signal.SIGTERM)
        log.close()
