"""Encoding units as Ray tasks on the session's local Ray; where a local Ray keeps its files."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
import ray

from media.encode.ladder import LADDER
from media.encode.testpattern import make_test_clip
from media.errors import MediaError
from media.jobs.tasks import Target, UnitResult, UnitSpec, run_units_on_ray
from media.ray_runtime import init_ray, ray_temp_dir


def test_short_temp_dir_is_kept_and_long_one_falls_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert ray_temp_dir(Path("/tmp/rr")) == Path("/tmp/rr")
    long_dir = tmp_path / ("deep" * 12) / "ray"
    with caplog.at_level(logging.WARNING, logger="media.ray_runtime"):
        chosen = ray_temp_dir(long_dir)
    assert chosen == Path("/tmp") / f"reelrank-ray-{os.getuid()}"
    assert "too long for Unix socket paths" in caplog.text


@pytest.mark.slow  # needs the session's Ray, which takes seconds to start
def test_init_ray_keeps_the_running_ray(local_ray: Path, tmp_path: Path) -> None:
    init_ray(None, tmp_path / "elsewhere", num_cpus=1)  # idempotent: keeps the running Ray
    assert not (tmp_path / "elsewhere").exists()
    assert any(local_ray.glob("session_*")), "local Ray uses the given temp dir"


@pytest.mark.slow  # needs the session's Ray, which takes seconds to start
def test_units_run_as_ray_tasks_and_errors_come_back(local_ray: Path, tmp_path: Path) -> None:
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
