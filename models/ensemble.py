"""Blend the candidate lists of several sources into one list per user, remembering provenance.

Each source's scores are normalised per user (min-max, rank or reciprocal rank), weighted and
summed over the union of the sources' candidates. The blend keeps, per candidate, every
source's normalised score and rank, which the ranker uses as features and explanations use to
name the source.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field

from models.base import PAD_ID, PAD_SCORE, SourceRole
from models.config import ModelConfig

#: The seed design's default weight of each source role.
ROLE_WEIGHTS: dict[SourceRole, float] = {
    SourceRole.COLLABORATIVE: 0.5,
    SourceRole.CONTENT: 0.3,
    SourceRole.TRENDING: 0.2,
}
Normalisation = Literal["minmax", "zscore", "rank", "rrf"]
NORMALISATIONS: tuple[str, ...] = ("minmax", "zscore", "rank", "rrf")
#: The constant of reciprocal-rank fusion, ``1 / (RRF_K + rank)``.
RRF_K = 60


class EnsembleConfig(ModelConfig):
    """How candidate sources are blended."""

    weights: dict[str, float] = Field(
        default_factory=dict,
        description="Weight per source name; empty: the role defaults split among sources.",
    )
    normalisation: Normalisation = Field(
        "minmax", description="Per-user score normalisation of each source before weighting."
    )
    depth: int = Field(100, gt=0, description="Candidates taken from each source per user.")


def default_weights(roles: Mapping[str, SourceRole]) -> dict[str, float]:
    """Role weights (collaborative 0.5, content 0.3, trending 0.2) split evenly among the
    sources of each role, then rescaled to sum to 1 over the roles present."""
    unknown = {str(role) for role in roles.values() if role not in ROLE_WEIGHTS}
    if unknown:
        known = sorted(str(role) for role in ROLE_WEIGHTS)
        raise ValueError(f"unknown source roles {sorted(unknown)}; known: {known}")
    per_role = {role: sum(1 for r in roles.values() if r == role) for role in ROLE_WEIGHTS}
    raw = {name: ROLE_WEIGHTS[role] / per_role[role] for name, role in roles.items()}
    total = sum(raw.values())
    return {name: value / total for name, value in raw.items()}


def normalise(ids: np.ndarray, scores: np.ndarray, method: str, depth: int) -> np.ndarray:
    """float32 ``(n, d)`` in [0, 1] per row, best first lists; 0 where ids are padding.

    ``minmax``: ``(s - min) / (max - min)`` over the row (1 if all equal); ``zscore``:
    ``(s - min) / std`` (z-scores shifted so the row's last item is 0); ``rank``:
    ``1 - (rank - 1) / depth``; ``rrf``: ``(RRF_K + 1) / (RRF_K + rank)``.
    """
    valid = ids != PAD_ID
    if method in ("minmax", "zscore"):
        finite = np.where(valid, scores, np.nan).astype(np.float64)
        if not np.isfinite(finite[valid]).all():
            raise ValueError("source scores contain NaN or infinite values for real items")
    if method == "zscore":
        with np.errstate(all="ignore"):
            low = np.nanmin(np.where(valid, finite, np.inf), axis=1, keepdims=True)
            count = np.maximum(valid.sum(axis=1, keepdims=True), 1)
            centred = np.where(
                valid, finite - np.where(valid, finite, 0).sum(1, keepdims=True) / count, 0
            )
            spread = np.sqrt((centred**2).sum(axis=1, keepdims=True) / count)
            out = np.where(spread > 0, (finite - low) / np.where(spread > 0, spread, 1), 1.0)
    elif method == "minmax":
        with np.errstate(all="ignore"):
            low = np.nanmin(np.where(valid, finite, np.inf), axis=1, keepdims=True)
            high = np.nanmax(np.where(valid, finite, -np.inf), axis=1, keepdims=True)
            span = high - low
            out = np.where(span > 0, (finite - low) / np.where(span > 0, span, 1), 1.0)
    elif method in ("rank", "rrf"):
        rank = np.cumsum(valid, axis=1).astype(np.float64)
        linear = 1.0 - (rank - 1) / max(depth, 1)
        out = linear if method == "rank" else (RRF_K + 1) / (RRF_K + rank)
    else:
        raise ValueError(f"unknown normalisation {method!r}; known: {', '.join(NORMALISATIONS)}")
    return np.where(valid, out, 0.0).astype(np.float32)


@dataclass(frozen=True)
class Blend:
    """The union of the sources' candidates per user, sorted by blended score.

    ``item_ids`` / ``scores``: ``(n, width)`` padded with -1 / -inf. ``source_scores``:
    ``(n, width, n_sources)`` normalised score of each source (0 where it did not propose the
    item); ``source_ranks``: the same shape, 1-based rank in that source's list (0 if absent);
    ``raw_scores``: the source's own score (0 if absent). Sources in ``names`` order.
    """

    names: tuple[str, ...]
    item_ids: np.ndarray
    scores: np.ndarray
    source_scores: np.ndarray
    source_ranks: np.ndarray
    raw_scores: np.ndarray

    @property
    def proposed(self) -> np.ndarray:
        """bool ``(n, width, n_sources)``: which source proposed each candidate."""
        return self.source_ranks > 0

    def rows(self, index: np.ndarray) -> Blend:
        """The candidates of the users at ``index`` (positions or a bool mask), same order."""
        return Blend(
            self.names,
            self.item_ids[index],
            self.scores[index],
            self.source_scores[index],
            self.source_ranks[index],
            self.raw_scores[index],
        )

    def reweighted(self, weights: Mapping[str, float]) -> Blend:
        """The same candidates re-scored and re-sorted with other weights."""
        w = weight_vector(self.names, weights)
        valid = self.item_ids != PAD_ID
        blended = np.where(valid, self.source_scores @ w, PAD_SCORE).astype(np.float32)
        return self.reordered(blended)

    def reordered(self, scores: np.ndarray) -> Blend:
        """The candidates with new scores, sorted best first (padding last)."""
        scores = np.where(self.item_ids != PAD_ID, scores, PAD_SCORE).astype(np.float32)
        order = np.argsort(-scores, axis=1, kind="stable")

        def take(a: np.ndarray) -> np.ndarray:
            index = order if a.ndim == 2 else order[:, :, None]
            return np.take_along_axis(a, index, axis=1)

        return Blend(
            self.names,
            take(self.item_ids),
            take(scores),
            take(self.source_scores),
            take(self.source_ranks),
            take(self.raw_scores),
        )


def weight_vector(names: tuple[str, ...], weights: Mapping[str, float]) -> np.ndarray:
    """float32 weights in ``names`` order; ``ValueError`` for unknown, negative or non-finite."""
    unknown = set(weights) - set(names)
    if unknown:
        raise ValueError(f"weights for unknown sources {sorted(unknown)}; sources: {list(names)}")
    w = np.array([float(weights.get(name, 0.0)) for name in names], dtype=np.float32)
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError(f"source weights must be finite and >= 0, not {dict(weights)}")
    return w


def blend(
    sources: Mapping[str, tuple[np.ndarray, np.ndarray]],
    weights: Mapping[str, float],
    normalisation: str = "minmax",
    depth: int | None = None,
) -> Blend:
    """Blend ``{name: (ids (n, d), scores (n, d))}`` lists (best first, padded) for n users."""
    if not sources:
        raise ValueError("blend needs at least one candidate source")
    names = tuple(sources)
    shapes = {name: np.asarray(ids).shape for name, (ids, _) in sources.items()}
    n_rows = {shape[0] for shape in shapes.values()}
    if len(n_rows) != 1 or any(len(shape) != 2 for shape in shapes.values()):
        raise ValueError(f"every source needs a 2-d list per user; got shapes {shapes}")
    n = n_rows.pop()
    norm, ranks, raw, ids_all = [], [], [], []
    for ids, scores in sources.values():
        ids = np.asarray(ids, dtype=np.int64)
        scores = np.asarray(scores, dtype=np.float32)
        d = depth or ids.shape[1]
        norm.append(normalise(ids, scores, normalisation, d))
        valid = ids != PAD_ID
        ranks.append(np.where(valid, np.cumsum(valid, axis=1), 0).astype(np.int32))
        raw.append(np.where(valid, scores, 0.0).astype(np.float32))
        ids_all.append(ids)
    w = weight_vector(names, weights)
    flat_ids = np.concatenate(ids_all, axis=1)
    src_of = np.concatenate([np.full(a.shape[1], s) for s, a in enumerate(ids_all)])
    flat_norm = np.concatenate(norm, axis=1)
    flat_rank = np.concatenate(ranks, axis=1)
    flat_raw = np.concatenate(raw, axis=1)
    # Union of every row's candidates, vectorised: sort each row's ids, mark the first of each
    # run of equal ids, number the runs (ascending ids, as np.unique would), scatter.
    order = np.argsort(flat_ids, axis=1, kind="stable")
    ordered = np.take_along_axis(flat_ids, order, axis=1)
    first = ordered != PAD_ID
    first[:, 1:] &= ordered[:, 1:] != ordered[:, :-1]
    slot = np.cumsum(first, axis=1) - 1
    width = int(first.sum(axis=1).max()) if n and flat_ids.shape[1] else 0
    s = len(names)
    item_ids = np.full((n, width), PAD_ID, dtype=np.int64)
    rows = np.broadcast_to(np.arange(n)[:, None], ordered.shape)
    item_ids[rows[first], slot[first]] = ordered[first]
    position = np.empty_like(slot)
    np.put_along_axis(position, order, slot, axis=1)
    r, col = np.nonzero(flat_ids != PAD_ID)
    where = (r, position[r, col], src_of[col])
    source_scores = np.zeros((n, width, s), dtype=np.float32)
    source_ranks = np.zeros((n, width, s), dtype=np.int32)
    raw_scores = np.zeros((n, width, s), dtype=np.float32)
    source_scores[where] = flat_norm[r, col]
    source_ranks[where] = flat_rank[r, col]
    raw_scores[where] = flat_raw[r, col]
    empty = np.zeros((n, width), dtype=np.float32)
    base = Blend(names, item_ids, empty, source_scores, source_ranks, raw_scores)
    valid = item_ids != PAD_ID
    blended = np.where(valid, source_scores @ w, PAD_SCORE) if width else empty
    return base.reordered(blended)
