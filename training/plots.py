"""PNG plots of a training run: metric vs k per model, and popularity bias of recommendations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType

import numpy as np


def _pyplot() -> ModuleType:
    """``matplotlib.pyplot`` on the non-interactive Agg backend (imported on first use)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_metric_vs_k(
    metrics: Mapping[str, Mapping[str, float]],
    path: Path,
    metric: str = "ndcg",
    ks: Sequence[int] = (1, 5, 10, 20),
) -> Path:
    """One line per model of ``<metric>_at_<k>`` against k; write a PNG to ``path``."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for name, values in metrics.items():
        points = [(k, values[f"{metric}_at_{k}"]) for k in ks if f"{metric}_at_{k}" in values]
        if points:
            ax.plot(*zip(*points, strict=True), marker="o", label=name)
    ax.set_xlabel("k")
    ax.set_ylabel(f"{metric}@k")
    ax.set_title(f"{metric}@k per model")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_popularity_bias(
    recommended: Mapping[str, np.ndarray],
    item_ids: np.ndarray,
    counts: np.ndarray,
    path: Path,
) -> Path:
    """Histogram of the popularity percentile of recommended items, per model; write a PNG."""
    plt = _pyplot()
    order = np.argsort(item_ids)
    ids_sorted, counts_sorted = np.asarray(item_ids)[order], np.asarray(counts)[order]
    ranked = np.sort(counts_sorted)
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    bins = np.linspace(0, 1, 21)
    for name, ids in recommended.items():
        flat = np.asarray(ids).reshape(-1)
        flat = flat[flat >= 0]
        pos = np.minimum(np.searchsorted(ids_sorted, flat), max(ids_sorted.size - 1, 0))
        found = np.where(ids_sorted[pos] == flat, counts_sorted[pos], 0.0)
        pct = np.searchsorted(ranked, found, side="left") / max(ranked.size - 1, 1)
        ax.hist(pct, bins=bins, histtype="step", density=True, label=name)
    ax.set_xlabel("popularity percentile of recommended items (1 = most popular)")
    ax.set_ylabel("density")
    ax.set_title("popularity bias")
    ax.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
