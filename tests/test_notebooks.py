"""Every notebook runs top to bottom against the current packages (no Jupyter needed)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

SIZES = re.compile(r"^USERS, VIDEOS, SEED = .*$", re.MULTILINE)
NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.name for n in NOTEBOOKS])
def test_notebook_runs(notebook: Path, data_root: Path) -> None:
    cells = json.loads(notebook.read_text())["cells"]
    namespace: dict[str, object] = {"__name__": "__main__"}
    for number, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        if number == 1:
            source = source.replace(
                "USERS, VIDEOS, SEED = 1_000, 300, 7", "USERS, VIDEOS, SEED = 200, 60, 3"
            )
        exec(compile(source, f"{notebook.name}[{number}]", "exec"), namespace)
    assert (data_root / "events" / "events.parquet").is_file()
    results = namespace["results"]
    assert results.loc["ease", "ndcg_at_10"] > 0  # type: ignore[index]


def test_there_is_a_notebook() -> None:
    assert NOTEBOOKS
