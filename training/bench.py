"""``reelrank bench recs``: every model and the full pipeline on a MovieLens folder, two protocols.

Run as ``python -m training.bench PATH [JSON]``. The dataset is imported into a temporary SQLite
catalogue (the same importer as ``reelrank data import movielens``), then its event log and
catalogue metadata are read back; every rating counts as an implicit positive.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.eventlog import read_events
from models.families import FAMILIES, fit_source, make_source
from models.interactions import Interactions
from models.side_info import ItemFeatures
from training.evaluate import build_holdout
from training.item_metadata import load_item_metadata
from training.metrics import catalogue_coverage, evaluate_ranking
from training.splits import split
from training.tuning import default_grids, fit_tuned_pipeline

#: Models benchmarked by default (those whose module exists), and the pipeline's sources.
DEFAULT_MODELS: tuple[str, ...] = (
    "popularity",
    "trending",
    "als",
    "bpr",
    "itemknn",
    "ease",
    "rp3beta",
    "lightfm",
    "content",
)
PIPELINE_SOURCES: tuple[str, ...] = ("ease", "itemknn", "lightfm", "content", "trending")
PIPELINE = "ensemble_ranker"
#: Row of the pipeline's cold-start source, configured as validation chose (the row that
#: ``ensemble_ranker`` must match on ``temporal_cold``).
COLD_START = "chosen_cold_start"
COLUMNS: tuple[str, ...] = (
    "ndcg@10",
    "recall@10",
    "precision@10",
    "map@10",
    "coverage",
    "train_s",
    "recommend_ms_per_user",
)
K = 10


def load_dataset(dataset: Path, workdir: Path) -> tuple[Any, Any, Any]:
    """Import ``dataset`` into a SQLite catalogue under ``workdir``; return its events, item
    metadata and the catalogue columns of the feature tables."""
    from core.db.migrate import upgrade
    from features.videos import load_videos
    from training.datasets.movielens import import_movielens

    url = f"sqlite:///{workdir / 'bench.db'}"
    events_path = workdir / "events.parquet"
    upgrade(url)
    import_movielens(dataset, url, events_path)
    return read_events(events_path), load_item_metadata(url), load_videos(url)


def _row(ids: np.ndarray, relevant: list[set[int]], n_items: int) -> dict[str, float]:
    metrics = evaluate_ranking(ids, relevant, K)
    return {
        "ndcg@10": metrics["ndcg_at_10"],
        "recall@10": metrics["recall_at_10"],
        "precision@10": metrics["precision_at_10"],
        "map@10": metrics["map_at_10"],
        "coverage": catalogue_coverage(ids, n_items, K),
    }


def bench_protocol(
    events: Any,
    features: ItemFeatures | None,
    protocol: str,
    models: Sequence[str],
    seed: int = 42,
    progress: bool = True,
    videos: Any = None,
    workdir: Path | None = None,
) -> dict[str, dict[str, dict[str, float]]]:
    """Fit and score every model and the tuned pipeline under one split protocol.

    With ``videos`` and ``workdir`` the pipeline's rankers train on Feast point-in-time
    features of the inner training part and the test users are ranked with online features
    of the training split (as serving does). Returns ``{protocol: rows}``; the temporal
    protocol adds ``temporal_warm`` (test users with training history) and ``temporal_cold``
    (without), scored from the same lists.
    """
    from tqdm import tqdm

    from training.feature_sets import feature_factory, online_features

    train, test = split(events, protocol, seed)
    train_i = Interactions.from_events(train, "binary")
    holdout = build_holdout(train_i, test)
    users = holdout.user_ids
    groups = {protocol: np.ones(users.size, dtype=bool)}
    if protocol == "temporal":
        groups["temporal_warm"] = ~holdout.cold_start
        groups["temporal_cold"] = holdout.cold_start.copy()
    out: dict[str, dict[str, dict[str, float]]] = {
        name: {} for name, mask in groups.items() if mask.any()
    }
    repo = workdir / protocol if videos is not None and workdir is not None else None
    for name in tqdm([*models, PIPELINE], desc=protocol, disable=not progress, leave=False):
        start = time.perf_counter()
        scored: dict[str, np.ndarray] = {}
        if name == PIPELINE:
            sources = list(PIPELINE_SOURCES)
            if features is None:
                sources = [s for s in sources if s != "content"]
            pipeline, tuning = fit_tuned_pipeline(
                train,
                protocol,
                sources,
                item_features=features,
                weight="binary",
                seed=seed,
                features_for=feature_factory(videos, repo / "tuning") if repo else None,
                grids=default_grids(),
            )
            if progress:
                tqdm.write(f"{protocol} tuning: {tuning}")
            if repo is not None and pipeline.ranker is not None:
                pipeline.attach_features(online_features(train, videos, repo / "test"))
            fitted = time.perf_counter()
            ids, _ = pipeline.recommend(users, K)
            cold_sources = tuning.cold_start.get("sources", [])
            if len(cold_sources) == 1:
                # the cold-start source as validation configured it, inside the pipeline
                scored[COLD_START] = pipeline.sources[cold_sources[0]].recommend(users, K)[0]
        else:
            model = fit_source(make_source(name), train_i, features)
            fitted = time.perf_counter()
            ids, _ = model.recommend(users, K)
        done = time.perf_counter()
        scored[name] = ids
        for group, mask in groups.items():
            if not mask.any():
                continue  # e.g. no cold-start test user: the group has no row
            relevant = [r for r, keep in zip(holdout.relevant, mask, strict=True) if keep]
            for row_name, row_ids in scored.items():
                row = _row(row_ids[mask], relevant, train_i.n_items)
                timed = row_name == name
                row["train_s"] = fitted - start if timed else 0.0
                row["recommend_ms_per_user"] = (
                    1000 * (done - fitted) / max(users.size, 1) if timed else 0.0
                )
                row["users"] = float(mask.sum())
                out[group][row_name] = row
        if progress:
            row = out[protocol][name]
            tqdm.write(f"{protocol} {name}: " + ", ".join(f"{k}={v:.4f}" for k, v in row.items()))
    return out


def format_table(protocol: str, rows: dict[str, dict[str, float]]) -> str:
    """A fixed-width text table of one protocol's results."""
    header = f"{'model':<16}" + "".join(f"{col:>22}" for col in COLUMNS)
    lines = [f"protocol: {protocol}", header, "-" * len(header)]
    for name, row in rows.items():
        lines.append(f"{name:<16}" + "".join(f"{row[col]:>22.4f}" for col in COLUMNS))
    return "\n".join(lines)


def bench_recs(
    dataset: Path,
    json_path: Path | None = None,
    protocols: Sequence[str] = ("stratified_75_25", "temporal"),
    models: Sequence[str] | None = None,
    seed: int = 42,
    progress: bool = True,
    ranker_features: bool = True,
) -> dict[str, Any]:
    """Benchmark ``models`` (default: every available family) and the ensemble + ranker.

    Prints one table per protocol; returns (and, with ``json_path``, writes)
    ``{"dataset": ..., "protocols": {protocol: {model: {"ndcg@10": ..., ...}}}}`` (the
    temporal protocol also gives ``temporal_warm`` and ``temporal_cold``). With
    ``ranker_features`` the pipeline's rankers learn from and are served Feast features.
    """
    chosen = list(models) if models is not None else list(DEFAULT_MODELS)
    unknown = [m for m in chosen if m not in FAMILIES]
    if unknown:
        raise ValueError(f"unknown models {unknown}; known: {', '.join(FAMILIES)}")
    with tempfile.TemporaryDirectory(prefix="reelrank-bench-") as tmp:
        events, metadata, catalogue = load_dataset(Path(dataset), Path(tmp))
    videos = catalogue if ranker_features else None
    features = None
    if not metadata.empty:
        candidate = ItemFeatures.from_metadata(metadata)
        if candidate.n_features and candidate.matrix.nnz:
            features = candidate
    if features is None:
        chosen = [m for m in chosen if m != "content"]
    result: dict[str, Any] = {"dataset": str(dataset), "protocols": {}}
    with tempfile.TemporaryDirectory(prefix="reelrank-bench-features-") as work:
        for protocol in protocols:
            groups = bench_protocol(
                events, features, protocol, chosen, seed, progress, videos, Path(work)
            )
            for group, rows in groups.items():
                result["protocols"][group] = rows
                print(format_table(group, rows), flush=True)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    bench_recs(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else None)
