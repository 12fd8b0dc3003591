"""The data scientists' `dvc repro` pipeline runs end to end on a small synthetic world."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
#: params.yaml lines replaced so the pipeline runs on a small world.
SHRINK = {"users: 2000": "users: 200", "videos: 500": "videos: 60"}


def shrunk_params(text: str) -> str:
    """``text`` with each ``SHRINK`` line replaced; fails unless each is found exactly once."""
    for old, new in SHRINK.items():
        assert text.count(old) == 1, f"params.yaml has {text.count(old)} '{old}', expected one"
        text = text.replace(old, new)
    return text


def test_params_shrink_exactly_once() -> None:
    assert "users: 200\n" in shrunk_params((ROOT / "params.yaml").read_text())


@pytest.mark.slow
def test_dvc_repro_runs_every_stage(tmp_path: Path) -> None:
    work = tmp_path / "project"
    work.mkdir()
    shutil.copy(ROOT / "dvc.yaml", work)
    for code in ("features", "models", "training"):  # stage dependencies (hashed by DVC)
        shutil.copytree(ROOT / code, work / code, ignore=shutil.ignore_patterns("__pycache__"))
    (work / "params.yaml").write_text(shrunk_params((ROOT / "params.yaml").read_text()))
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "REELRANK_DATA_ROOT": str(work / "var"),
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }
    for command in (["git", "init", "-q"], [str(BIN / "dvc"), "init", "-q"]):
        subprocess.run(command, cwd=work, env=env, check=True)
    result = subprocess.run(
        [str(BIN / "dvc"), "repro"], cwd=work, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for stage in ("synth", "featurize", "train"):
        assert f"Running stage '{stage}'" in result.stdout
    assert "synthesised 200 users" in result.stdout
    metrics = json.loads((work / "var" / "metrics" / "train.json").read_text())
    assert metrics["ensemble_ranker"]["ndcg_at_10"] > 0
    assert (work / "dvc.lock").is_file()
