"""``reelrank bench search``: recall@10, MRR and latency of lexical-only and hybrid search
over a catalogue's judged query set."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from serving.search_judgements import JudgedQuery, QueryKind, judged_queries
from serving.search_service import SEMANTIC_WEIGHT, Mode, SearchFilters, SearchService

K = 10
#: Depth searched for the reciprocal rank (a first relevant result deeper counts as 0).
DEPTH = 100


@dataclass(frozen=True)
class KindFigures:
    """The figures of one query kind in one mode."""

    mode: Mode
    #: The semantic list's weight in the fusion (``None`` for lexical-only).
    semantic_weight: float | None
    kind: QueryKind
    queries: int
    recall_at_10: float
    mrr: float
    p50_ms: float
    p95_ms: float


def recall_at_k(ranked: list[int], relevant: frozenset[int], k: int = K) -> float:
    """Relevant videos in the top ``k`` over how many could fit there."""
    if not relevant:
        return 0.0
    return len(set(ranked[:k]) & relevant) / min(k, len(relevant))


def reciprocal_rank(ranked: list[int], relevant: frozenset[int]) -> float:
    """1 / the rank of the first relevant video, 0 without one."""
    for rank, video_id in enumerate(ranked, 1):
        if video_id in relevant:
            return 1.0 / rank
    return 0.0


def run_search_bench(
    database_url: str,
    packages: Path,
    per_kind: int = 100,
    seed: int = 0,
    semantic_weights: Sequence[float] = (SEMANTIC_WEIGHT,),
) -> list[KindFigures]:
    """Index the catalogue (text and vectors), then run every judged query lexical-only and
    hybrid with each of ``semantic_weights``."""
    service = SearchService(database_url, packages, semantic=True)
    service.refresh()
    queries = judged_queries(database_url, per_kind, seed)
    runs: list[tuple[Mode, float | None]] = [("lexical", None)]
    runs += [("hybrid", weight) for weight in semantic_weights]
    figures: list[KindFigures] = []
    for mode, weight in runs:
        if weight is not None:
            service.semantic_weight = weight
        for kind in ("exact", "misspelled", "descriptive"):
            chosen = [q for q in queries if q.kind == kind]
            if chosen:
                figures.append(_measure(service, mode, weight, kind, chosen))
    return figures


def macro_mrr(figures: Sequence[KindFigures]) -> dict[tuple[Mode, float | None], float]:
    """The mean over query kinds of each run's MRR (every kind counts the same)."""
    runs: dict[tuple[Mode, float | None], list[float]] = {}
    for figure in figures:
        runs.setdefault((figure.mode, figure.semantic_weight), []).append(figure.mrr)
    return {run: float(np.mean(mrrs)) for run, mrrs in runs.items()}


def _measure(
    service: SearchService,
    mode: Mode,
    weight: float | None,
    kind: QueryKind,
    queries: list[JudgedQuery],
) -> KindFigures:
    recalls, ranks, seconds = [], [], []
    for query in queries:
        started = time.perf_counter()
        result = service.search(query.text, SearchFilters(), DEPTH, 0, mode)
        seconds.append(time.perf_counter() - started)
        ranked = [hit.meta.video_id for hit in result.hits]
        recalls.append(recall_at_k(ranked, query.relevant))
        ranks.append(reciprocal_rank(ranked, query.relevant))
    latency = np.array(seconds) * 1000
    return KindFigures(
        mode=mode,
        semantic_weight=weight,
        kind=kind,
        queries=len(queries),
        recall_at_10=float(np.mean(recalls)),
        mrr=float(np.mean(ranks)),
        p50_ms=float(np.percentile(latency, 50)),
        p95_ms=float(np.percentile(latency, 95)),
    )


def format_figures(figures: list[KindFigures]) -> str:
    """A Markdown table of the figures, then each run's MRR averaged over the query kinds."""
    lines = [
        "| mode | semantic weight | queries | n | recall@10 | MRR | p50 ms | p95 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {f.mode} | {_weight(f.semantic_weight)} | {f.kind} | {f.queries} | "
        f"{f.recall_at_10:.3f} | {f.mrr:.3f} | {f.p50_ms:.1f} | {f.p95_ms:.1f} |"
        for f in figures
    ]
    lines += ["", "| mode | semantic weight | MRR over kinds |", "|---|---|---|"]
    lines += [
        f"| {mode} | {_weight(weight)} | {mrr:.3f} |"
        for (mode, weight), mrr in macro_mrr(figures).items()
    ]
    return "\n".join(lines)


def _weight(weight: float | None) -> str:
    return "-" if weight is None else f"{weight:g}"
