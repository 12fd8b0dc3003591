"""On-demand features: computed per (user, video) pair from view rows and the request time.

One function computes them for training (rows from a point-in-time join, the time of each
label's list) and for serving (rows from the online store, the time of the request), so the
two paths cannot disagree. Missing inputs give NaN; ``features.vectors`` fills the defaults.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from features import schema as s

if TYPE_CHECKING:
    import pandas as pd

_SECONDS_PER_DAY = 86_400.0


def _days_since(at_ns: np.ndarray, then: pd.Series) -> np.ndarray:
    """Days from each ``then`` timestamp to ``at_ns`` (int64 ns since epoch); NaN when missing."""
    import pandas as pd

    stamps = pd.to_datetime(then, utc=True)
    ns = stamps.astype("int64").to_numpy().astype(np.float64)
    ns[stamps.isna().to_numpy()] = np.nan
    return (at_ns.astype(np.float64) - ns) / 1e9 / _SECONDS_PER_DAY


def _as_list(value: Any) -> Sequence[Any]:
    """A list-valued cell as a sequence (None / NaN / missing -> empty)."""
    if value is None:
        return ()
    if isinstance(value, float) and np.isnan(value):
        return ()
    return list(value)


def genre_match(
    user_genres: Sequence[Any], user_weights: Sequence[Any], video_genres: Sequence[Any]
) -> np.ndarray:
    """Per pair, the sum of the user's genre weights over the video's genres (0 without any)."""
    out = np.zeros(len(video_genres), dtype=np.float64)
    for i, (names, weights, genres) in enumerate(
        zip(user_genres, user_weights, video_genres, strict=True)
    ):
        names, weights, genres = _as_list(names), _as_list(weights), _as_list(genres)
        if not names or not genres:
            continue
        affinity = dict(zip(names, weights, strict=False))
        out[i] = float(sum(float(affinity.get(g, 0.0)) for g in set(genres)))
    return out


def language_match(user_language: pd.Series, video_language: pd.Series) -> np.ndarray:
    """1.0 where both languages are known and equal, else 0.0."""
    user = user_language.fillna("").astype(str).to_numpy()
    video = video_language.fillna("").astype(str).to_numpy()
    return ((user != "") & (user == video)).astype(np.float64)


def on_demand_features(rows: pd.DataFrame, at: pd.Series) -> pd.DataFrame:
    """The ``schema.ON_DEMAND_FEATURES`` of each row of ``rows`` at its time in ``at``.

    ``rows`` holds (at least) the user and video view columns the features read; ``at`` is
    aligned with it (a timestamp per row: a label list's time, or the request time).
    """
    import pandas as pd

    at_ns = pd.to_datetime(at, utc=True).astype("int64").to_numpy()
    out = pd.DataFrame(index=rows.index)
    out[s.USER_RECENCY_DAYS] = _days_since(at_ns, rows[s.USER_LAST_ACTIVE])
    out[s.VIDEO_AGE_DAYS] = _days_since(at_ns, rows[s.VIDEO_PUBLISHED_AT])
    elapsed = _days_since(at_ns, rows[s.VIDEO_TRENDING_AT])
    mass = pd.to_numeric(rows[s.VIDEO_TRENDING_MASS], errors="coerce").to_numpy(np.float64)
    out[s.VIDEO_TRENDING_SCORE] = mass * np.exp2(
        -np.maximum(elapsed, 0.0) / s.TRENDING_HALF_LIFE_DAYS
    )
    out[s.USER_VIDEO_GENRE_MATCH] = genre_match(
        list(rows[s.USER_GENRES]), list(rows[s.USER_GENRE_WEIGHTS]), list(rows[s.VIDEO_GENRES])
    )
    out[s.USER_VIDEO_LANGUAGE_MATCH] = language_match(rows[s.USER_LANGUAGE], rows[s.VIDEO_LANGUAGE])
    return out
