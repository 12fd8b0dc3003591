"""The data scientists' `dvc repro` pipeline runs end to end on a small synthetic world, and
`dvc exp run -S` plus `dvc metrics diff` compare two parameter sets."""

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
STAGES = ("prepare", "features", "train", "evaluate", "index")
#: params.yaml lines replaced so the pipeline runs on a small world.
SHRINK = {"users: 2000": "users: 200", "videos: 500": "videos: 60"}
MODELS = ("popularity", "als", "ensemble_ranker")


def shrunk_params(text: str) -> str:
    """``text`` with each ``SHRINK`` line replaced; fails unless each is found exactly once."""
    for old, new in SHRINK.items():
        assert text.count(old) == 1, f"params.yaml has {text.count(old)} '{old}', expected one"
        text = text.replace(old, new)
    return text


def test_params_shrink_exactly_once() -> None:
    assert "users: 200\n" in shrunk_params((ROOT / "params.yaml").read_text())


def dvc(work: Path, env: dict[str, str], *args: str) -> str:
    """Run ``dvc ARGS`` in ``work``; its stdout, after asserting it succeeded."""
    result = subprocess.run(
        [str(BIN / "dvc"), *args], cwd=work, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A git + DVC repository holding the pipeline, its code and a shrunk params.yaml, and
    the environment to run it in (data root inside it)."""
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
        **{
            f"GIT_{who}_{what}": value
            for who in ("AUTHOR", "COMMITTER")
            for what, value in (("NAME", "test"), ("EMAIL", "test@example.org"))
        },
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    subprocess.run(["git", "init", "-q"], cwd=work, env=env, check=True)
    dvc(work, env, "init", "-q")
    return work, env


def check_metrics(metrics: dict[str, dict[str, float]]) -> None:
    """Real figures: every model scored at every k, inside what a working pipeline gets."""
    assert set(metrics) == set(MODELS)
    for name in MODELS:
        values = metrics[name]
        for k in (1, 5, 10, 20):
            for metric in ("ndcg", "recall", "coverage", "popularity_bias"):
                assert f"{metric}_at_{k}" in values, f"{name} lacks {metric}_at_{k}"
        assert 0 < values["ndcg_at_10"] < 1, name
        assert 0 < values["coverage_at_10"] <= 1, name
        assert values["recall_at_20"] >= values["recall_at_10"] > 0, name
    pipeline, popularity = metrics["ensemble_ranker"], metrics["popularity"]
    assert pipeline["ndcg_at_10"] > popularity["ndcg_at_10"]
    assert pipeline["coverage_at_10"] > popularity["coverage_at_10"]


@pytest.mark.slow
def test_dvc_repro_then_exp_run_and_metrics_diff(project: tuple[Path, dict[str, str]]) -> None:
    from models.base import EmbeddingModel
    from models.faiss_index import ItemIndex
    from models.pipeline import RecommendationPipeline

    work, env = project
    out = dvc(work, env, "repro")
    for stage in STAGES:
        assert f"Running stage '{stage}'" in out
    assert "synthesised 200 users" in out
    assert "registered reelrank-recommender v1 as @champion" in out
    metrics = json.loads((work / "metrics.json").read_text())
    check_metrics(metrics)
    # the published item index is the saved pipeline's, searched exactly on a small catalogue
    pipeline = RecommendationPipeline.load(work / "var" / "pipeline")
    als = pipeline.sources["als"]
    assert isinstance(als, EmbeddingModel)
    published = ItemIndex.load(work / "var" / "indexes" / "items", als)
    assert pipeline.index is not None and published.digest == pipeline.index.digest
    index_metrics = json.loads((work / "index_metrics.json").read_text())
    assert index_metrics == {"items_recall_at_10": 1.0, "items_size": published.item_ids.size}
    assert (work / "dvc.lock").is_file()

    subprocess.run(["git", "add", "-A"], cwd=work, env=env, check=True)
    subprocess.run(["git", "commit", "-qm", "baseline"], cwd=work, env=env, check=True)
    out = dvc(work, env, "exp", "run", "-S", "train.als.factors=8", "-S", "train.ranker=no-ranker")
    for stage in ("train", "evaluate", "index"):
        assert f"Running stage '{stage}'" in out
    assert "Running stage 'prepare'" not in out  # its params and deps did not change
    changed = json.loads((work / "metrics.json").read_text())
    check_metrics(changed)
    diff = json.loads(dvc(work, env, "metrics", "diff", "--json"))["metrics.json"]
    row = diff["ensemble_ranker.ndcg_at_10"]
    assert row["old"] == pytest.approx(metrics["ensemble_ranker"]["ndcg_at_10"])
    assert row["new"] == pytest.approx(changed["ensemble_ranker"]["ndcg_at_10"])
    assert row["diff"] == pytest.approx(row["new"] - row["old"]) and row["diff"] != 0
    params = json.loads(dvc(work, env, "params", "diff", "--json"))["params.yaml"]
    changes = {name: (row["old"], row["new"]) for name, row in params.items()}
    assert changes == {"train.als.factors": (256, 8), "train.ranker": ("ranker", "no-ranker")}
