"""``reelrank bench transcode`` runs end to end on a short clip and reports every figure."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import ray

from media.bench import bench_transcode, describe
from media.errors import MediaError


def test_the_transcode_benchmark_reports_every_figure(tmp_path: Path) -> None:
    if ray.is_initialized():
        pytest.fail("Ray is already running in this process; the benchmark starts its own")
    out = tmp_path / "bench.json"
    result = bench_transcode(out, seconds=3, workers=(1,), work_dir=tmp_path / "work")
    assert json.loads(out.read_text()) == result
    assert result["clip_s"] == 3 and set(result["workers"]) == {"1"}
    assert 0 < result["first_rung_s"] <= result["first_complete_rung_s"] <= result["full_ladder_s"]
    assert result["full_ladder_s"] == result["workers"]["1"]
    assert result["single_pass_first_rung_s"] <= result["single_pass_full_ladder_s"]
    assert result["peak_rss_mb"] > 0
    if shutil.which("ffmpeg"):
        assert result["ffmpeg_ladder_s"] > 0
        assert result["ratio_vs_ffmpeg"] == round(
            result["full_ladder_s"] / result["ffmpeg_ladder_s"], 3
        )
        assert "ratio ours/ffmpeg" in describe(result)
    else:
        assert result["ffmpeg_ladder_s"] is None and "ffmpeg not installed" in describe(result)
    assert not ray.is_initialized(), "the benchmark shuts its Ray down"


def test_the_benchmark_refuses_nonsense() -> None:
    with pytest.raises(MediaError, match="seconds > 0"):
        bench_transcode(seconds=0)
    with pytest.raises(MediaError, match="at least one worker"):
        bench_transcode(workers=())
