"""The ranker's feature vector of (user, video) rows: view columns, on-demand ones, defaults.

Both the training set (point-in-time rows) and serving (online rows) are assembled from the
functions here, so a feature vector is built in exactly one way:
``[user columns | video columns | on-demand columns]`` (``schema.RANKER_FEATURES``), each
missing value replaced by its ``schema.RANKER_DEFAULTS`` entry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from features import schema as s
from features.on_demand import on_demand_features

#: Columns ``on_demand_features`` reads.
ON_DEMAND_INPUTS: tuple[str, ...] = (
    s.USER_LAST_ACTIVE,
    s.USER_GENRES,
    s.USER_GENRE_WEIGHTS,
    s.USER_LANGUAGE,
    s.VIDEO_PUBLISHED_AT,
    s.VIDEO_TRENDING_AT,
    s.VIDEO_TRENDING_MASS,
    s.VIDEO_GENRES,
    s.VIDEO_LANGUAGE,
)


def floats(values: Any) -> np.ndarray:
    """float64 array of numeric cells (None, NA and non-numbers become NaN)."""
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        import pandas as pd

        return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(
            np.float64, na_value=np.nan
        )


def numeric_values(rows: Mapping[str, Any], names: Sequence[str], n: int) -> np.ndarray:
    """float64 ``(n, len(names))``: each column as numbers, missing -> its default.

    ``rows`` maps a column to ``n`` values (a DataFrame works); an absent column counts as
    missing everywhere.
    """
    out = np.empty((n, len(names)), dtype=np.float64)
    for j, name in enumerate(names):
        values = floats(rows[name]) if name in rows else np.full(n, np.nan)
        out[:, j] = np.where(np.isfinite(values), values, s.RANKER_DEFAULTS[name])
    return out


def on_demand_values(rows: Mapping[str, Any], at: Any, n: int) -> np.ndarray:
    """float64 ``(n, len(ON_DEMAND_FEATURES))`` of ``n`` rows at times ``at``."""
    filled = {name: rows[name] if name in rows else [None] * n for name in ON_DEMAND_INPUTS}
    return numeric_values(on_demand_features(filled, at), s.ON_DEMAND_FEATURES, n)


def ranker_matrix(rows: Mapping[str, Any], at: Any, n: int) -> np.ndarray:
    """float32 ``(n, len(RANKER_FEATURES))`` vectors of ``n`` joined user + video rows."""
    parts = (
        numeric_values(rows, s.USER_RANKER_FEATURES, n),
        numeric_values(rows, s.VIDEO_RANKER_FEATURES, n),
        on_demand_values(rows, at, n),
    )
    return np.concatenate(parts, axis=1).astype(np.float32)
