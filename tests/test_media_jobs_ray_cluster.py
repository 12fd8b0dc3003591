"""The pipeline on a real two-node Ray cluster on loopback (``ray start``), through RAY_ADDRESS.

The cluster's processes are found by their temp dir and GCS port and stopped by pid afterwards
(never ``ray stop``, which would also stop other Ray instances on this machine).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from core.types import JobState
from media.encode.testpattern import make_test_clip
from media.hls.validate import validate_package
from media.jobs.records import job_status

RAY = Path(sys.executable).with_name("ray")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cluster_processes(temp_dir: str, port: int) -> list[psutil.Process]:
    """Every process of the cluster: those naming its temp dir or GCS port, and their children."""
    found: dict[int, psutil.Process] = {}
    for process in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if temp_dir in cmdline or f"127.0.0.1:{port}" in cmdline:
            found[process.pid] = process
    for process in list(found.values()):
        with contextlib.suppress(psutil.NoSuchProcess):
            found.update({child.pid: child for child in process.children(recursive=True)})
    found.pop(os.getpid(), None)
    return list(found.values())


def _stop(processes: list[psutil.Process]) -> None:
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.terminate()
    _, alive = psutil.wait_procs(processes, timeout=5)
    for process in alive:
        process.kill()


#: The driver runs in its own process, as ``reelrank media ingest`` would: Ray reads its auth
#: settings once per process, so this test process never connects to the cluster itself.
DRIVER = """
import json, sys
from pathlib import Path
import ray
from media.jobs.options import TranscodeOptions
from media.jobs.runner import ingest_and_process
package = ingest_and_process(
    Path(sys.argv[1]), database_url=sys.argv[2], options=TranscodeOptions(chunk_seconds=2)
)
nodes = sorted(node["NodeID"] for node in ray.nodes() if node["Alive"])
print(json.dumps({"package": package.model_dump(mode="json"), "nodes": nodes}))
"""


@pytest.fixture
def two_node_cluster() -> Iterator[dict[str, str]]:
    """A head and a second node on loopback; the environment a driver needs to join them."""
    port = _free_port()
    temp_dir = tempfile.mkdtemp(prefix="rrc-", dir="/tmp")
    token = secrets.token_hex(32)  # this cluster's own auth token, not the shared ~/.ray one
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token)
    env["PYTHONPATH"] = os.pathsep.join([str(Path.cwd()), env.get("PYTHONPATH", "")])
    common = ["--node-ip-address=127.0.0.1", "--num-cpus=1", "--disable-usage-stats"]
    head = [str(RAY), "start", "--head", f"--port={port}", f"--temp-dir={temp_dir}"]
    head += ["--include-dashboard=false", f"--ray-client-server-port={_free_port()}"]
    head += [f"--dashboard-port={_free_port()}", *common]
    worker = [str(RAY), "start", f"--address=127.0.0.1:{port}", *common]
    try:
        for command in (head, worker):
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stdout + done.stderr
        yield {**env, "RAY_ADDRESS": f"127.0.0.1:{port}"}
    finally:
        _stop(_cluster_processes(temp_dir, port))
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.mark.slow
def test_one_video_is_encoded_on_both_nodes(
    two_node_cluster: dict[str, str], sqlite_url: str, data_root: Path, tmp_path: Path
) -> None:
    source = make_test_clip(tmp_path / "clip.mp4", seconds=12, width=640, height=360)
    env = {**two_node_cluster, "REELRANK_DATA_ROOT": str(data_root)}
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, str(source), sqlite_url],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    package, nodes = result["package"], set(result["nodes"])
    assert len(nodes) == 2
    assert set(package["units_run"].values()) == nodes, "units ran on both nodes"
    assert {f"360p/{i}" for i in range(6)} <= set(package["units_run"])
    chunks = {node for key, node in package["units_run"].items() if key != "audio"}
    assert chunks == nodes, "chunks of one video were spread over both nodes"
    assert job_status(sqlite_url, package["video_id"]).state is JobState.SUCCEEDED
    report = validate_package(Path(package["master"]).parent)
    assert report.ok, str(report)
