"""Packaging as a Ray task on a real local Ray (one module-scoped Ray, shut down afterwards)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray

from media.errors import MediaError
from media.rung import LADDER
from media.tasks import (
    Target,
    UnitResult,
    UnitSpec,
    init_ray,
    package_hls_on_ray,
    ray_temp_dir,
    run_units_on_ray,
)
from media.testpattern import make_test_clip
from tests.test_media_hls import check_package


@pytest.fixture(scope="module")
def ray_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if ray.is_initialized():
        pytest.fail("Ray is already running in this process; these tests start their own")
    temp_dir = tmp_path_factory.mktemp("ray")
    init_ray(None, temp_dir, num_cpus=1)
    try:
        yield temp_dir
    finally:
        ray.shutdown()


def test_short_temp_dir_is_kept_and_long_one_falls_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert ray_temp_dir(Path("/tmp/rr")) == Path("/tmp/rr")
    long_dir = tmp_path / ("deep" * 12) / "ray"
    with caplog.at_level(logging.WARNING, logger="media.tasks"):
        chosen = ray_temp_dir(long_dir)
    assert chosen == Path("/tmp") / f"reelrank-ray-{os.getuid()}"
    assert "too long for Unix socket paths" in caplog.text


def test_package_hls_on_ray(ray_dir: Path, tmp_path: Path) -> None:
    init_ray(None, tmp_path / "elsewhere", num_cpus=1)  # idempotent: keeps the running Ray
    assert not (tmp_path / "elsewhere").exists()
    assert any(ray_dir.glob("session_*")), "local Ray uses the given temp dir"
    source = make_test_clip(tmp_path / "clip.mp4", seconds=2.2)
    package = package_hls_on_ray(source, tmp_path / "pkg")
    assert package.master == tmp_path / "pkg" / "master.m3u8"
    check_package(package, source)
    # a user-facing error inside the task comes back as itself
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    with pytest.raises(MediaError, match="not a readable media file"):
        package_hls_on_ray(text, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_units_run_as_ray_tasks_and_errors_come_back(ray_dir: Path, tmp_path: Path) -> None:
    source = make_test_clip(tmp_path / "clip.mp4", seconds=2.2, width=320, height=180)
    rung = LADDER[0]
    good = UnitSpec(
        key="240p/0",
        kind="video",
        source=source,
        targets=[Target(key="240p/0", out=tmp_path / "240p.mp4", rung=rung)],
    )
    audio = UnitSpec(key="audio", kind="audio", source=source, out=tmp_path / "audio.mp4")
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    bad = good.model_copy(update={"key": "bad", "source": text})
    outcomes = {spec.key: result for spec, result in run_units_on_ray([good, audio, bad])}
    assert set(outcomes) == {"240p/0", "audio", "bad"}
    result = outcomes["240p/0"]
    assert isinstance(result, UnitResult)
    assert result.node_id == ray.get_runtime_context().get_node_id()
    assert result.pid != os.getpid() and result.peak_rss_mb > 0
    assert result.videos["240p/0"].frames == 55
    assert outcomes["audio"].audio.duration_s == pytest.approx(2.2, abs=0.05)
    assert isinstance(outcomes["bad"], MediaError)
    assert "not a readable media file" in str(outcomes["bad"])
