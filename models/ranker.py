"""A PyTorch ranker that re-scores blended candidates from features, and those features.

Features of a (user, candidate) pair: per source its normalised score, ``1 / log2(1 + rank)``
and whether it proposed the item; the blended score; the item's popularity (log count and
percentile), recent popularity, age and completion rate; the user's activity; and the cosine of
the user's genre profile with the item's genres. A small MLP scores each pair; it is trained
with a listwise (softmax) or pairwise (BPR over candidates that are not relevant) loss.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Self

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from models.base import PAD_ID
from models.config import ModelConfig
from models.ensemble import Blend
from models.errors import ModelFormatError, NotFittedError
from models.interactions import Interactions, lookup
from models.side_info import ItemFeatures, UserFeatures

if TYPE_CHECKING:
    import torch
from models.manifest import read_manifest, write_manifest

KIND = "neural_ranker"
_WEIGHTS = "ranker.pt"
_CONTEXT = "context.npz"
_SECONDS_PER_DAY = 86_400.0
#: Feature names that do not depend on the sources, in column order.
ITEM_USER_FEATURES: tuple[str, ...] = (
    "blend_score",
    "item_log_popularity",
    "item_popularity_percentile",
    "item_log_recent_popularity",
    "item_log_age_days",
    "item_completion_rate",
    "user_log_activity",
    "user_genre_affinity",
)


class RankerConfig(ModelConfig):
    """Shape and training of the MLP ranker."""

    hidden: int = Field(32, gt=0, description="Units of the hidden layer.")
    epochs: int = Field(30, gt=0, description="Passes over the training users.")
    learning_rate: float = Field(0.003, gt=0, description="Adam step size.")
    weight_decay: float = Field(1e-4, ge=0, description="L2 penalty (Adam weight decay).")
    batch_users: int = Field(64, gt=0, description="Users (candidate lists) per step.")
    loss: Literal["listwise", "pairwise"] = Field(
        "listwise", description="Softmax over each user's candidates, or BPR against negatives."
    )
    negatives: int = Field(
        10, gt=0, description="Pairwise only: non-relevant candidates sampled per positive."
    )
    recent_days: float = Field(
        30.0, gt=0, description="Window of the item's recent-popularity feature."
    )
    seed: int = Field(0, description="Seed of initialisation and batching.")
    num_threads: int = Field(
        1,
        gt=0,
        description="torch CPU threads (at most 2 on the reference machine). The MLP is tiny: "
        "one thread is fastest on a loaded host.",
    )


def feature_names(sources: tuple[str, ...]) -> tuple[str, ...]:
    """Column names of the feature tensor for these sources."""
    per_source = [f"{s}_{what}" for s in sources for what in ("score", "rank_gain", "proposed")]
    return (*per_source, *ITEM_USER_FEATURES)


def _check_finite(features: np.ndarray) -> None:
    if not np.isfinite(features).all():
        bad = int((~np.isfinite(features)).sum())
        raise ValueError(f"ranker features contain {bad} NaN or infinite values: fix the inputs")


@dataclass(frozen=True, eq=False)
class FeatureContext:
    """Per-item and per-user statistics of the training data, to compute ranker features."""

    item_ids: np.ndarray
    item_stats: np.ndarray
    user_ids: np.ndarray
    user_activity: np.ndarray
    genre_item_ids: np.ndarray
    item_genres: sp.csr_matrix
    user_genres: sp.csr_matrix

    @classmethod
    def build(
        cls,
        interactions: Interactions,
        features: ItemFeatures | None = None,
        completion: dict[int, float] | None = None,
        recent_days: float = 30.0,
    ) -> FeatureContext:
        """Statistics of ``interactions``; genres from ``features``; ``completion`` maps a
        video id to its completion rate (share of plays watched to the end), when known."""
        matrix = interactions.matrix
        counts = np.bincount(matrix.indices, minlength=interactions.n_items).astype(np.float64)
        ranked = np.sort(counts)
        percentile = np.searchsorted(ranked, counts, side="left") / max(counts.size - 1, 1)
        newest = float(interactions.last_seen.max()) if interactions.nnz else 0.0
        recent = interactions.last_seen >= newest - recent_days * _SECONDS_PER_DAY
        recent_counts = np.bincount(matrix.indices[recent], minlength=interactions.n_items).astype(
            np.float64
        )
        first = np.full(interactions.n_items, newest)
        np.minimum.at(first, matrix.indices, interactions.last_seen)
        age_days = np.maximum(newest - first, 0.0) / _SECONDS_PER_DAY
        rate = np.zeros(interactions.n_items)
        if completion:
            for j, item in enumerate(interactions.item_ids.tolist()):
                rate[j] = float(completion.get(item, 0.0))
        stats = np.column_stack(
            [np.log1p(counts), percentile, np.log1p(recent_counts), np.log1p(age_days), rate]
        )
        _check_finite(stats)
        activity = np.log1p(np.diff(matrix.indptr)).astype(np.float64)
        genre_ids = np.empty(0, np.int64)
        item_genres = sp.csr_matrix((0, 0), dtype=np.float32)
        user_genres = sp.csr_matrix((interactions.n_users, 0), dtype=np.float32)
        if features is not None and features.columns("genre").size:
            cols = features.columns("genre")
            item_genres = sp.csr_matrix(features.matrix[:, cols])
            item_genres.data[:] = 1.0
            norms = np.sqrt(np.asarray(item_genres.sum(axis=1)).ravel())
            item_genres = sp.csr_matrix(
                sp.diags(1.0 / np.maximum(norms, 1e-12)) @ item_genres, dtype=np.float32
            )
            genre_ids = features.item_ids
            user_genres = UserFeatures.from_interactions(interactions, features).matrix
        return cls(
            interactions.item_ids,
            stats.astype(np.float32),
            interactions.user_ids,
            activity.astype(np.float32),
            genre_ids,
            item_genres,
            sp.csr_matrix(user_genres, dtype=np.float32),
        )

    def features(self, user_ids: np.ndarray, candidates: Blend) -> np.ndarray:
        """float32 ``(n, width, n_features)`` for each user's candidates (zeros for padding)."""
        n, width, s = candidates.source_scores.shape
        valid = candidates.item_ids != PAD_ID
        ranks = candidates.source_ranks.astype(np.float32)
        gain = np.where(ranks > 0, 1.0 / np.log2(1.0 + np.maximum(ranks, 1)), 0.0)
        parts = [
            np.stack(
                [candidates.source_scores[:, :, j], gain[:, :, j], (ranks[:, :, j] > 0)], axis=2
            )
            for j in range(s)
        ]
        blended = np.where(valid, candidates.scores, 0.0)[:, :, None]
        flat = candidates.item_ids.reshape(-1)
        rows = lookup(self.item_ids, flat)
        item = np.where(rows[:, None] >= 0, self.item_stats[np.maximum(rows, 0)], 0.0)
        item = item.reshape(n, width, self.item_stats.shape[1])
        users = lookup(self.user_ids, np.asarray(user_ids, dtype=np.int64))
        activity = np.where(users >= 0, self.user_activity[np.maximum(users, 0)], 0.0)
        activity = np.broadcast_to(activity[:, None, None], (n, width, 1))
        affinity = np.zeros((n, width, 1), dtype=np.float32)
        if self.item_genres.shape[1] and n and width:
            genre_rows = lookup(self.genre_item_ids, flat)
            items = self.item_genres[np.maximum(genre_rows, 0)]
            items = sp.diags((genre_rows >= 0).astype(np.float32)) @ items
            profile = sp.csr_matrix((n, self.item_genres.shape[1]), dtype=np.float32)
            if (users >= 0).any():
                profile = (
                    sp.diags((users >= 0).astype(np.float32))
                    @ self.user_genres[np.maximum(users, 0)]
                )
            per_pair = np.repeat(np.arange(n), width)
            dots = np.asarray(items.multiply(profile[per_pair]).sum(axis=1)).ravel()
            affinity = dots.reshape(n, width, 1).astype(np.float32)
        out = np.concatenate([*parts, blended, item, activity, affinity], axis=2)
        out = np.where(valid[:, :, None], out, 0.0).astype(np.float32)
        _check_finite(out)
        return out

    def save(self, path: Path) -> Path:
        """Write the statistics into ``path/context.npz``."""
        path.mkdir(parents=True, exist_ok=True)
        ig, ug = self.item_genres, self.user_genres
        np.savez(
            path / _CONTEXT,
            item_ids=self.item_ids,
            item_stats=self.item_stats,
            user_ids=self.user_ids,
            user_activity=self.user_activity,
            genre_item_ids=self.genre_item_ids,
            ig_data=ig.data,
            ig_indices=ig.indices,
            ig_indptr=ig.indptr,
            ig_shape=np.asarray(ig.shape),
            ug_data=ug.data,
            ug_indices=ug.indices,
            ug_indptr=ug.indptr,
            ug_shape=np.asarray(ug.shape),
        )
        return path

    @classmethod
    def load(cls, path: Path) -> FeatureContext:
        """Read what ``save`` wrote."""
        if not (path / _CONTEXT).is_file():
            raise ModelFormatError(f"no {_CONTEXT} in {path}: not a saved ranker context")
        with np.load(path / _CONTEXT) as z:
            ig = sp.csr_matrix(
                (z["ig_data"], z["ig_indices"], z["ig_indptr"]), shape=tuple(z["ig_shape"])
            )
            ug = sp.csr_matrix(
                (z["ug_data"], z["ug_indices"], z["ug_indptr"]), shape=tuple(z["ug_shape"])
            )
            return cls(
                z["item_ids"],
                z["item_stats"],
                z["user_ids"],
                z["user_activity"],
                z["genre_item_ids"],
                ig,
                ug,
            )


class NeuralRanker:
    """An MLP over standardised pair features, trained to put relevant candidates first."""

    def __init__(self, config: RankerConfig = RankerConfig()) -> None:  # noqa: B008 - frozen
        self.config = config
        self._net: torch.nn.Module | None = None
        self._mean: np.ndarray | None = None
        self._std: np.ndarray | None = None
        self.feature_names: tuple[str, ...] = ()

    @property
    def n_features(self) -> int:
        """Width of the feature vectors the ranker was trained on."""
        if self._net is None:
            raise NotFittedError("the ranker is not fitted: call fit() first")
        return len(self.feature_names)

    def _build(self, n_features: int) -> torch.nn.Module:
        import torch

        torch.manual_seed(self.config.seed)
        return torch.nn.Sequential(
            torch.nn.Linear(n_features, self.config.hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(self.config.hidden, 1),
        )

    def fit(
        self,
        features: np.ndarray,
        labels: np.ndarray,
        valid: np.ndarray,
        names: tuple[str, ...] | None = None,
    ) -> Self:
        """Train on ``(n, width, F)`` features, bool ``labels`` (relevant) and ``valid`` masks.

        Lists without a relevant (or without a non-relevant) valid candidate teach nothing and
        are skipped; ``ValueError`` if none is left.
        """
        import torch

        features = np.asarray(features, dtype=np.float32)
        if features.ndim != 3 or not labels.shape == valid.shape == features.shape[:2]:
            raise ValueError(
                f"features must be (users, candidates, features) with matching labels and "
                f"mask; got {features.shape}, {labels.shape}, {valid.shape}"
            )
        _check_finite(features)
        pos = (labels & valid).sum(axis=1)
        neg = (~labels & valid).sum(axis=1)
        useful = np.flatnonzero((pos > 0) & (neg > 0))
        if useful.size == 0:
            raise ValueError(
                "no candidate list has both a relevant and a non-relevant item: nothing to learn"
            )
        torch.set_num_threads(self.config.num_threads)
        flat = features[valid]
        self._mean = flat.mean(axis=0)
        self._std = np.where(flat.std(axis=0) > 1e-6, flat.std(axis=0), 1.0)
        x_all = torch.from_numpy((features[useful] - self._mean) / self._std)
        y_all = torch.from_numpy(labels[useful] & valid[useful])
        m_all = torch.from_numpy(valid[useful])
        net = self._build(features.shape[2])
        opt = torch.optim.Adam(
            net.parameters(),
            lr=self.config.learning_rate,
            weight_decay=self.config.weight_decay,
        )
        gen = torch.Generator().manual_seed(self.config.seed)
        for _ in range(self.config.epochs):
            perm = torch.randperm(useful.size, generator=gen)
            for start in range(0, useful.size, self.config.batch_users):
                batch = perm[start : start + self.config.batch_users]
                scores = net(x_all[batch]).squeeze(-1)
                loss = self._loss(scores, y_all[batch], m_all[batch], gen)
                opt.zero_grad()
                loss.backward()
                opt.step()
        self._net = net
        self.feature_names = names or tuple(f"f{j}" for j in range(features.shape[2]))
        return self

    def _loss(
        self,
        scores: torch.Tensor,
        labels: torch.Tensor,
        mask: torch.Tensor,
        gen: torch.Generator,
    ) -> torch.Tensor:
        import torch

        s, y, m = scores, labels, mask
        if self.config.loss == "listwise":
            logp = torch.log_softmax(s.masked_fill(~m, -1e9), dim=1)
            target = y.float() / y.float().sum(dim=1, keepdim=True)
            return -(target * logp.masked_fill(~m, 0.0)).sum(dim=1).mean()
        # pairwise BPR: each positive against sampled non-relevant candidates of its list
        neg_pool = (~y & m).float()
        picks = torch.multinomial(neg_pool, self.config.negatives, True, generator=gen)
        neg_scores = torch.gather(s, 1, picks)
        diff = s.unsqueeze(2) - neg_scores.unsqueeze(1)
        weight = y.float().unsqueeze(2)
        return (
            -(torch.nn.functional.logsigmoid(diff) * weight).sum()
            / weight.sum().clamp(min=1)
            / self.config.negatives
        )

    def score(self, features: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """float32 ``(n, width)`` scores, ``-inf`` where ``valid`` is False."""
        import torch

        if features.ndim != 3 or features.shape[2] != self.n_features:
            raise ValueError(
                f"the ranker was trained on {self.n_features} features, got shape "
                f"{features.shape}: the sources differ from the ones it was trained with"
            )
        _check_finite(features)
        torch.set_num_threads(self.config.num_threads)
        x = torch.from_numpy(((features - self._mean) / self._std).astype(np.float32))
        net = self._net
        assert net is not None  # n_features above raised when not fitted
        with torch.no_grad():
            out = net(x).squeeze(-1).numpy()
        return np.where(valid, out, -np.inf).astype(np.float32)

    def save(self, path: Path) -> Path:
        """Write config, feature names, standardisation and weights into directory ``path``."""
        import torch

        if self._net is None:
            raise NotFittedError("the ranker is not fitted: call fit() first")
        write_manifest(path, KIND, self.config)
        torch.save(
            {
                "state": self._net.state_dict(),
                "mean": torch.from_numpy(self._mean),
                "std": torch.from_numpy(self._std),
            },
            path / _WEIGHTS,
        )
        (path / "features.json").write_text(json.dumps(list(self.feature_names)))
        return path

    @classmethod
    def load(cls, path: Path) -> Self:
        """Read a directory written by ``save``."""
        import torch

        ranker = cls(read_manifest(path, KIND, RankerConfig))
        if not (path / _WEIGHTS).is_file() or not (path / "features.json").is_file():
            raise ModelFormatError(f"no {_WEIGHTS} or features.json in {path}: incomplete ranker")
        names = tuple(json.loads((path / "features.json").read_text()))
        saved = torch.load(path / _WEIGHTS, weights_only=True)
        net = ranker._build(len(names))
        net.load_state_dict(saved["state"])
        ranker._net, ranker.feature_names = net, names
        ranker._mean, ranker._std = saved["mean"].numpy(), saved["std"].numpy()
        return ranker
