"""Every notebook is committed without outputs and runs top to bottom on a small world against
the current packages (no Jupyter needed), computing what its text says it computes."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from core import columns as c
from core.settings import get_settings

#: The line of a notebook that sizes its demo world, and the small world the test runs instead.
SIZES = re.compile(r"^USERS, VIDEOS, SEED = .*$", re.MULTILINE)
SMALL_SIZES = "USERS, VIDEOS, SEED = 200, 60, 3"
NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
#: The notebooks the tests below check, by file name.
CHECKED = ("01_explore_interactions", "02_train_and_compare", "03_experiment_analysis")


def shrunk_cells(notebook: Path) -> list[tuple[int, str]]:
    """``(cell number, source)`` of the code cells, with the sizing line made small.

    Fails unless exactly one line of the notebook matches ``SIZES``: a notebook whose sizing
    line was renamed or duplicated would otherwise run at full size, or half shrunk, unnoticed.
    """
    cells = json.loads(notebook.read_text())["cells"]
    shrunk: list[tuple[int, str]] = []
    found = 0
    for number, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        source, count = SIZES.subn(SMALL_SIZES, "".join(cell["source"]))
        found += count
        shrunk.append((number, source))
    assert found == 1, f"{notebook.name}: {found} lines match {SIZES.pattern!r}, expected one"
    return shrunk


def run_notebook(name: str) -> tuple[dict[str, Any], int]:
    """Execute the code cells of ``notebooks/<name>.ipynb`` on the small world in one
    namespace; that namespace and the number of matplotlib figures the notebook drew."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.close("all")
    notebook = NOTEBOOK_DIR / f"{name}.ipynb"
    namespace: dict[str, Any] = {"__name__": "__main__"}
    try:
        for number, source in shrunk_cells(notebook):
            exec(compile(source, f"{notebook.name}[{number}]", "exec"), namespace)
        return namespace, len(plt.get_fignums())
    finally:
        plt.close("all")


def test_the_checked_notebooks_are_the_committed_ones() -> None:
    assert [n.stem for n in NOTEBOOKS] == list(CHECKED)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.name for n in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(notebook: Path) -> None:
    content = json.loads(notebook.read_text())
    assert content["nbformat"] == 4
    for number, cell in enumerate(content["cells"]):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"{notebook.name} cell {number} has outputs"
            assert cell["execution_count"] is None, f"{notebook.name} cell {number} was run"
        assert "attachments" not in cell, f"{notebook.name} cell {number} has attachments"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.name for n in NOTEBOOKS])
def test_notebook_sizing_line_is_shrunk_exactly_once(notebook: Path) -> None:
    sources = "\n".join(source for _, source in shrunk_cells(notebook))
    assert SMALL_SIZES in sources


def test_shrinking_fails_when_the_sizing_line_is_missing_or_repeated(tmp_path: Path) -> None:
    for lines in ([], ["USERS, VIDEOS, SEED = 1, 2, 3", "USERS, VIDEOS, SEED = 4, 5, 6"]):
        notebook = tmp_path / "n.ipynb"
        cells = [{"cell_type": "code", "source": [line]} for line in ["x = 1", *lines]]
        notebook.write_text(json.dumps({"cells": cells}))
        with pytest.raises(AssertionError, match="expected one"):
            shrunk_cells(notebook)


@pytest.mark.slow
def test_explore_interactions_measures_activity_long_tail_and_genres(data_root: Path) -> None:
    ns, figures = run_notebook("01_explore_interactions")
    from core.eventlog import read_events

    events = read_events(data_root / "events" / "events.parquet")
    assert figures >= 4
    assert ns["daily"]["events"].sum() == len(events)
    assert (ns["daily"]["active_users"] > 0).all()
    assert ns["funnel"].loc["impression", "per_impression"] == 1.0
    assert ns["funnel"].loc["play", "events"] == (events[c.EVENT_TYPE] == "play").sum()
    # a Zipf catalogue: the top fifth of the videos holds more than a fifth of the plays
    assert 0 < ns["long_tail_share"] < 0.8
    mix = ns["genre_mix"]
    assert mix["play_share"].sum() == pytest.approx(1.0)
    assert mix["catalogue_share"].sum() == pytest.approx(1.0)
    assert mix["plays"].sum() >= (events[c.EVENT_TYPE] == "play").sum()  # one per genre
    assert ns["top_genre_share"].between(0, 1).all()


@pytest.mark.slow
def test_train_and_compare_scores_the_models_and_logs_them_to_mlflow(data_root: Path) -> None:
    import mlflow

    ns, figures = run_notebook("02_train_and_compare")
    results: pd.DataFrame = ns["results"]
    models = {"popularity", "itemknn", "ease", "ensemble_ranker"}
    assert set(results.index) == models
    assert results["ndcg_at_10"].between(0, 1, inclusive="neither").all()
    assert results.loc["ease", "ndcg_at_10"] > results.loc["popularity", "ndcg_at_10"]
    assert figures >= 3
    client = mlflow.MlflowClient(tracking_uri=get_settings().resolved_mlflow_uri)
    parent = client.get_run(ns["logged"].run_id)
    assert parent.info.status == "FINISHED"
    children = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
    )
    logged = {run.info.run_name: run.data.metrics for run in children}
    assert set(logged) == models
    for model in models:
        for metric in ("ndcg_at_10", "recall_at_10", "coverage_at_10"):
            assert logged[model][metric] == pytest.approx(results.loc[model, metric])
    plots = {Path(a.path).name for a in client.list_artifacts(parent.info.run_id, "plots")}
    assert "ndcg_vs_k.png" in plots


#: Fields of the results endpoint's metrics that the notebook recomputes.
METRIC_FIELDS = (
    "value",
    "ci_low",
    "ci_high",
    "diff",
    "diff_ci_low",
    "diff_ci_high",
    "p_value",
    "lift",
    "lift_ci_low",
    "lift_ci_high",
)


@pytest.mark.slow
def test_experiment_analysis_by_hand_equals_the_results_endpoint(data_root: Path) -> None:
    from serving.experiment_results import experiment_results

    ns, figures = run_notebook("03_experiment_analysis")
    assert figures >= 1
    results: pd.DataFrame = ns["results"]
    expected = experiment_results(get_settings().resolved_database_url, ns["EXPERIMENT"])
    assert ns["EXPERIMENT"] == "personal-vs-popular"
    assert [v.name for v in expected.variants] == ["personal", "popular"]
    assert sum(v.users for v in expected.variants) == len(ns["viewers"])
    for variant in expected.variants:
        assert variant.users > 0 and variant.clicks > 0
        assert set(variant.metrics) == set(results.loc[variant.name].index)
        for metric, out in variant.metrics.items():
            row = results.loc[(variant.name, metric)]
            assert row["users"] == variant.users
            for field in METRIC_FIELDS:
                want = getattr(out, field)
                got = row.get(field, math.nan)
                if want is None:
                    assert np.isnan(got), f"{variant.name} {metric} {field}: {got} for None"
                else:
                    assert got == pytest.approx(want, rel=1e-9, abs=1e-12), (
                        f"{variant.name} {metric} {field}"
                    )
    ctr = results.loc[("popular", "ctr")]
    assert ctr["ci_low"] < ctr["value"] < ctr["ci_high"]
    assert ctr["diff_ci_low"] < ctr["diff"] < ctr["diff_ci_high"]
    watch = ns["watch_definitions"]
    # reports are cumulative, so their sum is at least each session's largest
    assert (watch.iloc[:, 0] >= watch.iloc[:, 1]).all()
    assert (watch.iloc[:, 1] > 0).all()
