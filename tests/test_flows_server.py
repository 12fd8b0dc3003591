"""Against a real Prefect server: ``reelrank flows serve`` registers the deployments with their
schedules, and an upload to a live API with ``media_dispatch = prefect`` is processed by a run
of the ``ingest-video`` deployment, stage by stage as Prefect tasks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from tusclient.client import TusClient

from tests.live_server import free_port, live_server
from tests.test_serving_uploads_live import creator_headers, settle
from tests.upload_helpers import small_clip, wait_for

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent


@contextmanager
def _process(
    command: list[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` (output to ``log``) for the block; stop its process group afterwards."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(10)


def _wait(
    check: Any, what: str, timeout_s: float, process: subprocess.Popen[bytes], log: Path
) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{what}: the process exited; log:\n{log.read_text()[-3000:]}")
        try:
            found = check()
        except httpx.TransportError:
            found = None
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"{what} within {timeout_s} s; log:\n{log.read_text()[-3000:]}")


def test_served_deployments_and_an_upload_processed_by_the_ingest_flow(
    tmp_path: Path, sqlite_url: str, data_root: Path
) -> None:
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    prefect_env = os.environ | {
        "PREFECT_HOME": str(tmp_path / "prefect-server"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "INFO",
    }
    server_log = tmp_path / "prefect-server.log"
    with _process(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        prefect_env,
        server_log,
    ) as server:
        _wait(
            lambda: httpx.get(f"{api}/health").status_code == 200,
            "Prefect server up",
            120,
            server,
            server_log,
        )
        shared = {
            "PREFECT_API_URL": api,
            "REELRANK_DATA_ROOT": str(data_root),
            "REELRANK_DATABASE_URL": sqlite_url,
            "REELRANK_MEDIA_PROCESSING": "local",
        }
        serve_log = tmp_path / "flows-serve.log"
        with _process(
            [str(BIN / "reelrank"), "flows", "serve"], prefect_env | shared, serve_log
        ) as serving:

            def deployments() -> dict[str, Any] | None:
                found = httpx.post(f"{api}/deployments/filter", json={}).json()
                return {d["name"]: d for d in found} if len(found) == 3 else None

            deployed = _wait(deployments, "three deployments", 120, serving, serve_log)
            crons = {
                name: [s["schedule"].get("cron") for s in d["schedules"]]
                for name, d in deployed.items()
            }
            assert crons == {
                "retrain": ["0 3 * * *"],
                "materialize-features": ["0 * * * *"],
                "ingest-video": [],
            }
            out = serve_log.read_text()
            assert "serving 3 deployments against http://127.0.0.1" in out
            assert "retrain/retrain: cron 0 3 * * * UTC" in out

            env = shared | {"REELRANK_MEDIA_DISPATCH": "prefect", "REELRANK_LOG_LEVEL": "INFO"}
            with live_server(data_root, env=env) as base:
                headers = creator_headers(base)
                uploader = TusClient(f"{base}/uploads", headers=headers).uploader(
                    str(small_clip(tmp_path)), chunk_size=64 * 1024, metadata={"filename": "f.mp4"}
                )
                uploader.upload()
                assert uploader.url is not None
                upload_id = uploader.url.rsplit("/", 1)[1]
                status = settle(base, headers, upload_id, 240)
                assert status["state"] == "ready", status
            server_log_text = (data_root / "server.log").read_text()
            assert "ingest-video/ingest-video" in server_log_text
            assert "the API processes it" not in server_log_text

            runs = wait_for(
                lambda: httpx.post(f"{api}/flow_runs/filter", json={}).json(),
                lambda found: any(r["state_type"] == "COMPLETED" for r in found),
                60,
            )
            ingest = [r for r in runs if r["parameters"].get("upload_id") == upload_id]
            assert len(ingest) == 1 and ingest[0]["state_type"] == "COMPLETED", runs
            tasks = httpx.post(
                f"{api}/task_runs/filter",
                json={"flow_runs": {"id": {"any_": [ingest[0]["id"]]}}},
            ).json()
            names = sorted(t["name"].rsplit("-", 1)[0] for t in tasks)
            assert names == ["extras", "ingest", "ladder"], names
            assert all(t["state_type"] == "COMPLETED" for t in tasks)
