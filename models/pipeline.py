"""Retrieve -> rank -> filter: the one path from user ids to top-k items, offline and online."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Self

import numpy as np

from models.als import ALSConfig, ALSRecommender
from models.base import PAD_ID, EmbeddingModel, as_ids, check_k, empty_result
from models.errors import ModelFormatError
from models.faiss_index import ItemIndex
from models.interactions import Interactions
from models.popularity import PopularityConfig, PopularityRecommender

_MANIFEST = "pipeline.json"
_FORMAT = 1
_PARTS = ("popularity", "als", "index")


@dataclass(frozen=True)
class Candidates:
    """Per-user candidate items: int64 ids and float32 scores of shape ``(n_users, width)``.

    Rows are padded with -1 / -inf; ``personalized`` says which rows came from a user model.
    """

    item_ids: np.ndarray
    scores: np.ndarray
    personalized: np.ndarray


class Retriever(Protocol):
    """Proposes up to ``n`` candidate items per user, best first."""

    def __call__(self, user_ids: np.ndarray, n: int) -> Candidates: ...


class Ranker(Protocol):
    """Re-scores and re-orders candidates, best first (a learned ranker plugs in here)."""

    def __call__(self, user_ids: np.ndarray, candidates: Candidates) -> Candidates: ...


@dataclass(frozen=True)
class EmbeddingRetriever:
    """Nearest items by inner product with the user's vector; unknown users get padding."""

    model: EmbeddingModel
    index: ItemIndex

    def __call__(self, user_ids: np.ndarray, n: int) -> Candidates:
        vectors, known = self.model.user_vectors(user_ids)
        ids, scores = empty_result(known.size, n)
        if known.any():
            ids[known], scores[known] = self.index.search(vectors[known], n)
        return Candidates(ids, scores, known)


@dataclass(frozen=True)
class PopularityRetriever:
    """The globally most popular items, the same list for every user."""

    model: PopularityRecommender

    def __call__(self, user_ids: np.ndarray, n: int) -> Candidates:
        ids, scores = empty_result(user_ids.size, n)
        top_ids, top_scores = self.model.top_items(n)
        ids[:, : top_ids.size], scores[:, : top_ids.size] = top_ids, top_scores
        return Candidates(ids, scores, np.zeros(user_ids.size, dtype=bool))


@dataclass(frozen=True)
class ColdStartRetriever:
    """``personal`` for users it knows, ``fallback`` (popularity) for everyone else."""

    personal: EmbeddingRetriever
    fallback: PopularityRetriever

    def __call__(self, user_ids: np.ndarray, n: int) -> Candidates:
        found = self.personal(user_ids, n)
        cold = ~found.personalized
        if not cold.any():
            return found
        backup = self.fallback(user_ids[cold], n)
        ids, scores = found.item_ids.copy(), found.scores.copy()
        ids[cold], scores[cold] = backup.item_ids, backup.scores
        return Candidates(ids, scores, found.personalized)


class ScoreRanker:
    """Orders candidates by their retrieval score (the thin ranker)."""

    def __call__(self, user_ids: np.ndarray, candidates: Candidates) -> Candidates:
        order = np.argsort(-candidates.scores, axis=1, kind="stable")
        return Candidates(
            np.take_along_axis(candidates.item_ids, order, axis=1),
            np.take_along_axis(candidates.scores, order, axis=1),
            candidates.personalized,
        )


class ExclusionFilter:
    """Drops padding and each user's excluded items, then keeps the first k."""

    def __call__(
        self, candidates: Candidates, exclude: Sequence[set[int]], k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        n = candidates.item_ids.shape[0]
        ids, scores = empty_result(n, k)
        for i in range(n):
            row = candidates.item_ids[i]
            keep = row != PAD_ID
            if exclude[i]:
                keep &= ~np.isin(row, np.fromiter(exclude[i], dtype=np.int64))
            kept_ids, kept_scores = row[keep][:k], candidates.scores[i][keep][:k]
            ids[i, : kept_ids.size], scores[i, : kept_ids.size] = kept_ids, kept_scores
        return ids, scores


class RecommendationPipeline:
    """ALS retrieval through a FAISS index, popularity for cold users, score ranking, filtering."""

    def __init__(
        self,
        popularity: PopularityRecommender,
        als: ALSRecommender,
        index: ItemIndex,
        ranker: Ranker | None = None,
    ) -> None:
        index.check_matches(als)
        self.popularity = popularity
        self.als = als
        self.index = index
        self.retrieve: Retriever = ColdStartRetriever(
            EmbeddingRetriever(als, index), PopularityRetriever(popularity)
        )
        self.rank: Ranker = ranker or ScoreRanker()
        self.filter = ExclusionFilter()

    @classmethod
    def fit(
        cls,
        interactions: Interactions,
        popularity: PopularityConfig = PopularityConfig(),  # noqa: B008 - frozen
        als: ALSConfig = ALSConfig(),  # noqa: B008 - frozen
    ) -> Self:
        """Fit both models on ``interactions`` and index the ALS item vectors."""
        pop_model = PopularityRecommender(popularity).fit(interactions)
        als_model = ALSRecommender(als).fit(interactions)
        return cls(pop_model, als_model, ItemIndex.from_model(als_model))

    def personalized(self, user_ids: np.ndarray) -> np.ndarray:
        """Which users get ALS recommendations (the rest are cold-start, served popularity)."""
        return self.als.interactions.user_index(as_ids(user_ids)) >= 0

    def seen_items(self, user_ids: np.ndarray) -> list[set[int]]:
        """Item ids each user interacted with in the data the pipeline was fitted on."""
        return self.als.interactions.seen_items(as_ids(user_ids))

    def recommend(
        self,
        user_ids: np.ndarray,
        k: int,
        seen: Sequence[set[int]] | None = None,
        unavailable: set[int] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k item ids and scores per user, padded with -1 / -inf.

        ``seen``: items to exclude per user (default: what each user interacted with in the
        training data); ``unavailable``: item ids nobody may get (private, not ready).
        """
        k = check_k(k)
        users = as_ids(user_ids)
        if seen is None:
            seen = self.seen_items(users)
        elif len(seen) != users.size:
            raise ValueError(f"seen has {len(seen)} sets for {users.size} users")
        blocked = unavailable or set()
        exclude = [set(s) | blocked for s in seen]
        widest = max((len(s) for s in exclude), default=0)
        candidates = self.retrieve(users, k + widest)
        return self.filter(self.rank(users, candidates), exclude, k)

    def save(self, path: Path) -> Path:
        """Write every part into directory ``path`` (one sub-directory each)."""
        path.mkdir(parents=True, exist_ok=True)
        self.popularity.save(path / "popularity")
        self.als.save(path / "als")
        self.index.save(path / "index")
        body = {"format": _FORMAT, "parts": list(_PARTS), "index_digest": self.index.digest}
        (path / _MANIFEST).write_text(json.dumps(body, indent=2))
        return path

    @classmethod
    def load(cls, path: Path) -> Self:
        """Read a directory written by ``save``; the index must match the ALS vocabulary."""
        manifest = path / _MANIFEST
        if not manifest.is_file():
            raise ModelFormatError(f"no {_MANIFEST} in {path}: not a saved pipeline")
        body = json.loads(manifest.read_text())
        if body.get("format") != _FORMAT:
            raise ModelFormatError(f"{path} has pipeline format {body.get('format')!r}")
        als = ALSRecommender.load(path / "als")
        return cls(
            PopularityRecommender.load(path / "popularity"),
            als,
            ItemIndex.load(path / "index", model=als),
        )
