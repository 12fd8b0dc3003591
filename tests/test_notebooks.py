"""Every notebook runs top to bottom against the current packages (no Jupyter needed)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

#: The line of a notebook that sizes its demo world, and the small world the test runs instead.
SIZES = re.compile(r"^USERS, VIDEOS, SEED = .*$", re.MULTILINE)
SMALL_SIZES = "USERS, VIDEOS, SEED = 200, 60, 3"
NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


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


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.name for n in NOTEBOOKS])
def test_notebook_runs(notebook: Path, data_root: Path) -> None:
    namespace: dict[str, object] = {"__name__": "__main__"}
    for number, source in shrunk_cells(notebook):
        exec(compile(source, f"{notebook.name}[{number}]", "exec"), namespace)
    assert (data_root / "events" / "events.parquet").is_file()
    results = namespace["results"]
    assert isinstance(results, pd.DataFrame)
    assert results.loc["ease", "ndcg_at_10"] > 0


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


def test_there_is_a_notebook() -> None:
    assert NOTEBOOKS
