"""After ranking: filters, diversity, explanations and cold start (offline and in serving).

Every function takes and returns padded ``(ids, scores)`` rows (ids -1 / scores -inf where
empty), so the pipeline can chain them for a whole batch of users.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from models.base import PAD_ID, check_k, empty_result
from models.config import ModelConfig
from models.side_info import ItemFeatures


class PostProcessConfig(ModelConfig):
    """Business filters and diversity re-ranking applied to every recommendation list."""

    diversity: Literal["none", "mmr", "genre_cap"] = Field(
        "none", description="Re-ranking for variety: none, MMR over genres, or a per-genre cap."
    )
    mmr_lambda: float = Field(
        0.8, ge=0, le=1, description="MMR trade-off: 1 keeps the ranker's order, 0 only variety."
    )
    genre_cap: int = Field(3, gt=0, description="At most this many items per (first) genre.")
    languages: tuple[str, ...] | None = Field(
        None, description="Only items in these languages (items of unknown language pass)."
    )
    max_maturity: int | None = Field(
        None, ge=0, description="Only items rated at most this (items without a rating pass)."
    )


@dataclass(frozen=True)
class Explanation:
    """Why one item was recommended: the source that proposed it and, if any, the anchor item.

    ``reason`` reads e.g. ``"because you watched 42"`` or ``"trending now"``.
    """

    video_id: int
    score: float
    source: str
    sources: tuple[str, ...]
    anchor_id: int | None
    reason: str


def genre_vectors(features: ItemFeatures | None, item_ids: np.ndarray) -> sp.csr_matrix | None:
    """Binary genre rows for ``item_ids`` (zero rows for unknown items); None without genres."""
    if features is None:
        return None
    cols = features.columns("genre")
    if cols.size == 0:
        return None
    out = sp.csr_matrix(features.align(np.asarray(item_ids, dtype=np.int64))[:, cols])
    out.data[:] = 1.0
    return out


def item_languages(features: ItemFeatures | None, item_ids: np.ndarray) -> list[str | None]:
    """The language of each item from the features' ``language:`` block (None if unknown)."""
    if features is None:
        return [None] * len(item_ids)
    cols = features.columns("language")
    if cols.size == 0:
        return [None] * len(item_ids)
    names = [features.names[j].split(":", 1)[1] for j in cols]
    part = features.align(np.asarray(item_ids, dtype=np.int64))[:, cols].tocsr()
    out: list[str | None] = []
    for i in range(part.shape[0]):
        row = part.indices[part.indptr[i] : part.indptr[i + 1]]
        out.append(names[row[0]] if row.size else None)
    return out


def compact(
    ids: np.ndarray, scores: np.ndarray, keep: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the kept entries, in order, cut or padded to k columns."""
    n = ids.shape[0]
    out_ids, out_scores = empty_result(n, k)
    for i in range(n):
        row_keep = keep[i] & (ids[i] != PAD_ID)
        kept_ids, kept_scores = ids[i][row_keep][:k], scores[i][row_keep][:k]
        out_ids[i, : kept_ids.size], out_scores[i, : kept_ids.size] = kept_ids, kept_scores
    return out_ids, out_scores


def exclusion_mask(ids: np.ndarray, exclude: Sequence[Collection[int]]) -> np.ndarray:
    """bool mask, False where an item is in its row's ``exclude`` set (watched, unavailable)."""
    if len(exclude) != ids.shape[0]:
        raise ValueError(f"exclude has {len(exclude)} sets for {ids.shape[0]} users")
    keep = np.ones(ids.shape, dtype=bool)
    for i, items in enumerate(exclude):
        if items:
            keep[i] = ~np.isin(ids[i], np.fromiter(items, dtype=np.int64, count=len(items)))
    return keep


def business_mask(
    ids: np.ndarray,
    config: PostProcessConfig,
    features: ItemFeatures | None = None,
    maturity: dict[int, int] | None = None,
) -> np.ndarray:
    """bool mask, False where an item breaks the language or maturity rule of ``config``."""
    keep = np.ones(ids.shape, dtype=bool)
    flat = ids.reshape(-1)
    if config.languages is not None:
        allowed = {lang.lower() for lang in config.languages}
        langs = item_languages(features, flat)
        ok = np.fromiter((lang is None or lang in allowed for lang in langs), bool, flat.size)
        keep &= ok.reshape(ids.shape)
    if config.max_maturity is not None and maturity:
        limit = config.max_maturity
        ok = np.fromiter((maturity.get(int(i), 0) <= limit for i in flat), bool, flat.size)
        keep &= ok.reshape(ids.shape)
    return keep


def mmr_rerank(
    ids: np.ndarray,
    scores: np.ndarray,
    features: ItemFeatures | None,
    k: int,
    trade_off: float = 0.8,
) -> tuple[np.ndarray, np.ndarray]:
    """Maximal marginal relevance: greedily pick ``lam * rel - (1 - lam) * max genre cosine``.

    ``rel`` is the score min-max scaled per row; scores stay the ranker's. Without genre
    features the order is unchanged.
    """
    k = check_k(k)
    if not 0 <= trade_off <= 1:
        raise ValueError(f"the MMR trade-off must be between 0 and 1, not {trade_off}")
    n = ids.shape[0]
    out_ids, out_scores = empty_result(n, k)
    for i in range(n):
        valid = np.flatnonzero(ids[i] != PAD_ID)
        row_ids, row_scores = ids[i][valid], scores[i][valid]
        vectors = genre_vectors(features, row_ids)
        if vectors is None or row_ids.size <= 1:
            take = min(k, row_ids.size)
            out_ids[i, :take], out_scores[i, :take] = row_ids[:take], row_scores[:take]
            continue
        dense = vectors.toarray()
        norms = np.linalg.norm(dense, axis=1)
        unit = dense / np.maximum(norms, 1e-12)[:, None]
        sims = unit @ unit.T
        low, high = float(row_scores.min()), float(row_scores.max())
        rel = (row_scores - low) / (high - low) if high > low else np.ones(row_scores.size)
        chosen: list[int] = []
        best_sim = np.zeros(row_ids.size)
        free = np.ones(row_ids.size, dtype=bool)
        for _ in range(min(k, row_ids.size)):
            value = np.where(free, trade_off * rel - (1 - trade_off) * best_sim, -np.inf)
            pick = int(np.argmax(value))
            chosen.append(pick)
            free[pick] = False
            best_sim = np.maximum(best_sim, sims[pick])
        out_ids[i, : len(chosen)] = row_ids[chosen]
        out_scores[i, : len(chosen)] = row_scores[chosen]
    return out_ids, out_scores


def genre_cap(
    ids: np.ndarray, scores: np.ndarray, features: ItemFeatures | None, k: int, cap: int
) -> tuple[np.ndarray, np.ndarray]:
    """Keep at most ``cap`` items per primary (first-listed) genre, in order; cut to k."""
    k = check_k(k)
    if cap <= 0:
        raise ValueError(f"the per-genre cap must be a positive number of items, not {cap}")
    keep = np.ones(ids.shape, dtype=bool)
    for i in range(ids.shape[0]):
        vectors = genre_vectors(features, ids[i])
        if vectors is None:
            break
        counts: dict[int, int] = {}
        for j in range(ids.shape[1]):
            if ids[i, j] == PAD_ID:
                continue
            row = vectors.indices[vectors.indptr[j] : vectors.indptr[j + 1]]
            if row.size == 0:
                continue
            genre = int(row.min())
            counts[genre] = counts.get(genre, 0) + 1
            keep[i, j] = counts[genre] <= cap
    return compact(ids, scores, keep, k)


def diversify(
    ids: np.ndarray,
    scores: np.ndarray,
    config: PostProcessConfig,
    features: ItemFeatures | None,
    k: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Apply ``config.diversity`` and cut each row to k."""
    if config.diversity == "mmr":
        return mmr_rerank(ids, scores, features, k, config.mmr_lambda)
    if config.diversity == "genre_cap":
        return genre_cap(ids, scores, features, k, config.genre_cap)
    return compact(ids, scores, np.ones(ids.shape, dtype=bool), k)


def genre_cold_start(
    trending_ids: np.ndarray,
    trending_scores: np.ndarray,
    features: ItemFeatures | None,
    genres: Collection[str],
) -> tuple[np.ndarray, np.ndarray]:
    """A new user's list: trending items of the chosen ``genres`` first, then other trending.

    Genre names match the ``genre:`` features case-insensitively; unknown genres are ignored.
    """
    ids = np.asarray(trending_ids, dtype=np.int64).reshape(-1)
    scores = np.asarray(trending_scores, dtype=np.float32).reshape(-1)
    wanted = {g.lower() for g in genres}
    if not wanted or features is None:
        return ids, scores
    cols = features.columns("genre")
    picked = [j for j, col in enumerate(cols) if features.names[col][6:].lower() in wanted]
    vectors = genre_vectors(features, ids)
    if not picked or vectors is None:
        return ids, scores
    match = np.asarray(vectors[:, picked].sum(axis=1)).ravel() > 0
    order = np.concatenate([np.flatnonzero(match & (ids >= 0)), np.flatnonzero(~match)])
    return ids[order], scores[order]


def anchor_items(
    similar: np.ndarray, history: Sequence[Collection[int]], rec_ids: np.ndarray
) -> np.ndarray:
    """Per recommended item, the first of its ``similar`` items that its user watched; -1 if none.

    ``similar`` is ``(n, m, s)``: for each of the n users' m recommended items, s similar ids
    best first (from a source model's ``similar_items``).
    """
    anchors = np.full(rec_ids.shape, PAD_ID, dtype=np.int64)
    for i, seen in enumerate(history):
        if not seen:
            continue
        watched = np.fromiter(seen, dtype=np.int64, count=len(seen))
        for j in range(rec_ids.shape[1]):
            if rec_ids[i, j] == PAD_ID:
                continue
            hit = np.flatnonzero(np.isin(similar[i, j], watched))
            if hit.size:
                anchors[i, j] = similar[i, j, hit[0]]
    return anchors


def reason(source: str, role: str, anchor: int | None) -> str:
    """Human-readable reason for a recommendation."""
    if anchor is not None:
        return f"because you watched {anchor}"
    if role == "trending":
        return "trending now"
    if role == "content":
        return "matches what you like"
    return f"recommended for you ({source})"
