"""What a ranker reads about each (user, candidate) pair: the blend's features and a provider's.

The blend gives, per source, its normalised score, ``1 / log2(1 + rank)`` and whether it
proposed the item, and then the blended score. Everything else a ranker knows about a user or
an item (popularity, completion rate, genre affinity...) comes from a ``PairFeatures``
provider: the feature store owns those statistics, the models only read them.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from models.base import PAD_ID
from models.ensemble import Blend

#: The one blend feature that does not depend on the sources (last of the blend columns).
BLEND_SCORE = "blend_score"
#: What each source contributes, in column order.
SOURCE_FEATURES: tuple[str, ...] = ("score", "rank_gain", "proposed")


class PairFeatures(Protocol):
    """Per-pair features of users' candidates, from outside the models (the feature store)."""

    @property
    def names(self) -> tuple[str, ...]:
        """Column names, in column order."""
        ...

    def pair_features(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        """float32 ``(n, width, len(names))`` features of each user's candidates; ``item_ids``
        is ``(n, width)`` padded with ``PAD_ID``; finite."""
        ...


class NoPairFeatures:
    """A provider with no columns: the ranker learns from the blend's features alone."""

    @property
    def names(self) -> tuple[str, ...]:
        """No column."""
        return ()

    def pair_features(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        """float32 ``(n, width, 0)``."""
        return np.zeros((*np.shape(item_ids), 0), dtype=np.float32)


def blend_feature_names(sources: tuple[str, ...]) -> tuple[str, ...]:
    """Names of the blend's columns: per source ``<source>_<feature>``, then the blend score."""
    return (*(f"{s}_{what}" for s in sources for what in SOURCE_FEATURES), BLEND_SCORE)


def ranker_feature_names(
    sources: tuple[str, ...], provider_names: tuple[str, ...] = ()
) -> tuple[str, ...]:
    """Every column of a ranker's input: the blend's, then the provider's."""
    names = (*blend_feature_names(sources), *provider_names)
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"feature names {repeated} appear twice: rename the provider's columns")
    return names


def check_finite(features: np.ndarray) -> None:
    """``ValueError`` naming how many values are NaN or infinite."""
    if not np.isfinite(features).all():
        bad = int((~np.isfinite(features)).sum())
        raise ValueError(f"ranker features contain {bad} NaN or infinite values: fix the inputs")


def blend_features(candidates: Blend) -> np.ndarray:
    """float32 ``(n, width, 3 * n_sources + 1)`` blend features (zeros for padding)."""
    valid = candidates.item_ids != PAD_ID
    ranks = candidates.source_ranks.astype(np.float32)
    gain = np.where(ranks > 0, 1.0 / np.log2(1.0 + np.maximum(ranks, 1)), 0.0)
    parts = [
        np.stack([candidates.source_scores[:, :, j], gain[:, :, j], ranks[:, :, j] > 0], axis=2)
        for j in range(len(candidates.names))
    ]
    blended = np.where(valid, candidates.scores, 0.0)[:, :, None]
    out = np.concatenate([*parts, blended], axis=2)
    return np.where(valid[:, :, None], out, 0.0).astype(np.float32)


def ranker_inputs(user_ids: np.ndarray, candidates: Blend, provider: PairFeatures) -> np.ndarray:
    """float32 ``(n, width, F)``: the blend's features, then the provider's (zeros for padding);
    ``ValueError`` if the provider's array has the wrong shape or is not finite."""
    own = blend_features(candidates)
    n, width = candidates.item_ids.shape
    extra = np.asarray(provider.pair_features(np.asarray(user_ids), candidates.item_ids))
    expected = (n, width, len(provider.names))
    if extra.shape != expected:
        raise ValueError(
            f"the pair-feature provider returned shape {extra.shape}, expected {expected} "
            f"(users, candidates, one column per name in {list(provider.names)})"
        )
    valid = candidates.item_ids != PAD_ID
    extra = np.where(valid[:, :, None], extra, 0.0).astype(np.float32)
    check_finite(extra)
    return np.concatenate([own, extra], axis=2)
