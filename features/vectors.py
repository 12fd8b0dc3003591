"""The ranker's feature vector of (user, video) rows: view columns, on-demand ones, defaults.

Both the training set (point-in-time rows) and serving (online rows) end here, so a feature
vector is assembled in exactly one way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from features import schema as s
from features.on_demand import on_demand_features

if TYPE_CHECKING:
    import pandas as pd


def ranker_frame(rows: pd.DataFrame, at: pd.Series) -> pd.DataFrame:
    """``schema.RANKER_FEATURES`` of each row, float64, missing values set to their default.

    ``rows`` carries the view columns of the ranker service (absent columns count as
    missing); ``at`` is each row's time (for the on-demand features).
    """
    import pandas as pd

    demand = on_demand_features(_with_inputs(rows), at)
    out = pd.DataFrame(index=rows.index)
    for name in s.RANKER_FEATURES:
        source = demand[name] if name in demand else rows.get(name)
        if source is None:
            values = np.full(len(rows), np.nan)
        else:
            values = pd.to_numeric(source, errors="coerce").to_numpy(np.float64, na_value=np.nan)
        values = np.where(np.isfinite(values), values, s.RANKER_DEFAULTS[name])
        out[name] = values
    return out


def ranker_matrix(rows: pd.DataFrame, at: pd.Series) -> np.ndarray:
    """``ranker_frame`` as a float32 ``(len(rows), len(RANKER_FEATURES))`` array."""
    return ranker_frame(rows, at).to_numpy(np.float32)


def _with_inputs(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with every column the on-demand features read (missing ones empty)."""
    needed = (
        s.USER_LAST_ACTIVE,
        s.VIDEO_PUBLISHED_AT,
        s.VIDEO_TRENDING_AT,
        s.VIDEO_TRENDING_MASS,
        s.USER_GENRES,
        s.USER_GENRE_WEIGHTS,
        s.VIDEO_GENRES,
        s.USER_LANGUAGE,
        s.VIDEO_LANGUAGE,
    )
    missing = [name for name in needed if name not in rows]
    if not missing:
        return rows
    return rows.assign(**{name: None for name in missing})
