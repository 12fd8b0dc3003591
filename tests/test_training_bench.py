"""``bench_recs`` on a tiny MovieLens-format folder: the table and the JSON shape."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from training.bench import COLD_START, COLUMNS, PIPELINE, bench_recs

N_USERS, N_MOVIES = 60, 30


def _movielens_folder(root: Path, with_movies: bool) -> Path:
    """ratings.csv where users of each third of the catalogue rate mostly that third."""
    rng = np.random.default_rng(0)
    rows = []
    for user in range(1, N_USERS + 1):
        third = user % 3
        for movie in rng.choice(10, size=7, replace=False):
            stamp = 1_000_000_000 + int(rng.integers(0, 10_000_000))
            rows.append((user, third * 10 + int(movie) + 1, 4.0, stamp))
    for user in range(N_USERS + 1, N_USERS + 7):  # new users, only in the temporal test part
        for movie in rng.choice(10, size=3, replace=False):
            stamp = 1_009_000_000 + int(rng.integers(0, 1_000_000))
            rows.append((user, int(movie) + 1, 4.0, stamp))
    folder = root / "ml-tiny"
    folder.mkdir()
    pd.DataFrame(rows, columns=["userId", "movieId", "rating", "timestamp"]).to_csv(
        folder / "ratings.csv", index=False
    )
    if with_movies:
        genres = ["Comedy", "Drama", "Horror"]
        pd.DataFrame(
            {
                "movieId": range(1, N_MOVIES + 1),
                "title": [f"Movie {i} (2001)" for i in range(1, N_MOVIES + 1)],
                "genres": [genres[(i - 1) // 10] for i in range(1, N_MOVIES + 1)],
            }
        ).to_csv(folder / "movies.csv", index=False)
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("with_movies", [True, False])
def test_bench_writes_the_documented_json(
    tmp_path: Path, with_movies: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _movielens_folder(tmp_path, with_movies)
    out = tmp_path / "out" / "bench.json"
    result = bench_recs(folder, out, models=("popularity", "als"), progress=False)
    written = json.loads(out.read_text())
    assert written == json.loads(json.dumps(result))
    assert written["dataset"] == str(folder)
    protocols = written["protocols"]
    assert set(protocols) == {"stratified_75_25", "temporal", "temporal_warm", "temporal_cold"}
    for rows in protocols.values():
        assert set(rows) == {"popularity", "als", PIPELINE, COLD_START}
        for row in rows.values():
            assert set(row) == {*COLUMNS, "users"}
            assert all(isinstance(v, float) and v >= 0 for v in row.values())
            assert row["ndcg@10"] <= 1 and row["coverage"] <= 1
    # the temporal test users split into those with and without training history
    for name in ("popularity", PIPELINE):
        warm, cold = protocols["temporal_warm"][name], protocols["temporal_cold"][name]
        assert warm["users"] + cold["users"] == protocols["temporal"][name]["users"]
        assert cold["users"] >= 6
    # users without history get exactly the cold-start source that validation configured
    cold = protocols["temporal_cold"]
    assert cold[PIPELINE] == {
        **cold[COLD_START],
        "train_s": cold[PIPELINE]["train_s"],
        "recommend_ms_per_user": cold[PIPELINE]["recommend_ms_per_user"],
    }
    stratified = written["protocols"]["stratified_75_25"]
    assert stratified[PIPELINE]["ndcg@10"] > stratified["popularity"]["ndcg@10"]
    printed = capsys.readouterr().out
    assert "protocol: stratified_75_25" in printed and "ensemble_ranker" in printed


def test_bench_refuses_unknown_models_and_folders(tmp_path: Path) -> None:
    from core.errors import DatasetError

    with pytest.raises(ValueError, match="unknown models \\['wals'\\]"):
        bench_recs(tmp_path, models=("wals",))
    with pytest.raises(DatasetError, match="holds no MovieLens ratings file"):
        bench_recs(tmp_path, models=("popularity",))
