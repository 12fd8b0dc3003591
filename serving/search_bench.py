"""``reelrank bench search``: recall@10, MRR and latency of lexical-only and hybrid search
over a catalogue's judged query set."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from serving.search_judgements import JudgedQuery, QueryKind, judged_queries
from serving.search_service import Mode, SearchFilters, SearchService

K = 10
#: Depth searched for the reciprocal rank (a first relevant result deeper counts as 0).
DEPTH = 100


@dataclass(frozen=True)
class KindFigures:
    """The figures of one query kind in one mode."""

    mode: Mode
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
    database_url: str, packages: Path, per_kind: int = 100, seed: int = 0
) -> list[KindFigures]:
    """Index the catalogue (text and vectors), then run every judged query in both modes."""
    service = SearchService(database_url, packages, semantic=True)
    service.refresh()
    queries = judged_queries(database_url, per_kind, seed)
    figures: list[KindFigures] = []
    for mode in ("lexical", "hybrid"):
        for kind in ("exact", "misspelled", "descriptive"):
            chosen = [q for q in queries if q.kind == kind]
            if chosen:
                figures.append(_measure(service, mode, kind, chosen))
    return figures


def _measure(
    service: SearchService, mode: Mode, kind: QueryKind, queries: list[JudgedQuery]
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
        kind=kind,
        queries=len(queries),
        recall_at_10=float(np.mean(recalls)),
        mrr=float(np.mean(ranks)),
        p50_ms=float(np.percentile(latency, 50)),
        p95_ms=float(np.percentile(latency, 95)),
    )


def format_figures(figures: list[KindFigures]) -> str:
    """A Markdown table of the figures."""
    lines = [
        "| mode | queries | n | recall@10 | MRR | p50 ms | p95 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {f.mode} | {f.kind} | {f.queries} | {f.recall_at_10:.3f} | {f.mrr:.3f} | "
        f"{f.p50_ms:.1f} | {f.p95_ms:.1f} |"
        for f in figures
    ]
    return "\n".join(lines)
