"""``reelrank bench transcode`` runs end to end on a short clip and reports every figure."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from media.bench import bench_transcode, describe
from media.errors import MediaError

ROOT = Path(__file__).resolve().parent.parent

#: The benchmark starts and stops its own Ray, so it runs in its own process: this one may hold
#: the session's Ray (tests/conftest.py).
BENCH = """
import json, sys
from pathlib import Path
import ray
from media.bench import bench_transcode
result = bench_transcode(Path(sys.argv[1]), seconds=3, workers=(1,), work_dir=Path(sys.argv[2]))
assert not ray.is_initialized(), "the benchmark shuts its Ray down"
print(json.dumps(result))
"""


@pytest.mark.slow
def test_the_transcode_benchmark_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-c", BENCH, str(out), str(tmp_path / "work")],
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        },
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
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


def test_the_benchmark_refuses_nonsense() -> None:
    with pytest.raises(MediaError, match="seconds > 0"):
        bench_transcode(seconds=0)
    with pytest.raises(MediaError, match="at least one worker"):
        bench_transcode(workers=())
