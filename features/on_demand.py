"""On-demand features: computed per (user, video) pair from view rows and the request time.

One function computes them for training (rows from a point-in-time join, the time of each
label's list) and for serving (rows from the online store, the time of the request), so the
two paths cannot disagree. Missing inputs give NaN; ``features.vectors`` fills the defaults.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from features import schema as s

_NS_PER_DAY = 86_400.0 * 1e9
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
#: Sequences up to this length are converted without pandas (one request's user row).
_FAST_PATH = 8


def _scalar_ns(value: Any) -> float:
    """Nanoseconds since the epoch of one timestamp (naive means UTC); NaN when missing."""
    if value is None:
        return np.nan
    if hasattr(value, "value") and hasattr(value, "tz_localize"):  # pandas Timestamp / NaT
        if value != value:  # NaT
            return np.nan
        stamp = value if value.tzinfo is not None else value.tz_localize(UTC)
        return float(stamp.value)
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return float(((aware - _EPOCH) // _MICROSECOND) * 1000)
    if isinstance(value, float) and np.isnan(value):
        return np.nan
    raise TypeError(f"not a timestamp: {value!r}")


def nanoseconds(values: Any) -> np.ndarray:
    """float64 nanoseconds since the epoch of timestamps (NaN where missing).

    Accepts a pandas Series or list of timestamps, or an already converted float array.
    """
    if isinstance(values, np.ndarray) and values.dtype == np.float64:
        return values
    if isinstance(values, list | tuple) and len(values) <= _FAST_PATH:
        return np.array([_scalar_ns(v) for v in values], dtype=np.float64)
    import pandas as pd

    stamps = pd.to_datetime(pd.Series(values), utc=True).dt.as_unit("ns")
    out = stamps.astype("int64").to_numpy().astype(np.float64)
    out[stamps.isna().to_numpy()] = np.nan
    return out


def _as_list(value: Any) -> Sequence[Any]:
    """A list-valued cell as a sequence (None / NaN / missing -> empty)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ()
    return list(value)


def genre_match(
    user_genres: Sequence[Any], user_weights: Sequence[Any], video_genres: Sequence[Any]
) -> np.ndarray:
    """Per pair, the sum of the user's genre weights over the video's genres (0 without any)."""
    out = np.zeros(len(video_genres), dtype=np.float64)
    cache: tuple[int, int, dict[Any, float]] | None = None
    for i, (names, weights, genres) in enumerate(
        zip(user_genres, user_weights, video_genres, strict=True)
    ):
        genres = _as_list(genres)
        if not genres:
            continue
        if cache is None or cache[0] != id(names) or cache[1] != id(weights):
            affinity = {
                g: float(w) for g, w in zip(_as_list(names), _as_list(weights), strict=False)
            }
            cache = (id(names), id(weights), affinity)
        affinity = cache[2]
        if affinity:
            out[i] = float(sum(affinity.get(g, 0.0) for g in set(genres)))
    return out


def language_match(user_language: Sequence[Any], video_language: Sequence[Any]) -> np.ndarray:
    """1.0 where both languages are known and equal, else 0.0."""
    return np.fromiter(
        (
            1.0 if isinstance(u, str) and u and u == v else 0.0
            for u, v in zip(user_language, video_language, strict=True)
        ),
        dtype=np.float64,
        count=len(user_language),
    )


def on_demand_features(rows: Mapping[str, Any], at: Any) -> dict[str, np.ndarray]:
    """The ``schema.ON_DEMAND_FEATURES`` of each row at its time in ``at``.

    ``rows`` maps each input column to one value per row (a DataFrame works); timestamps may
    be timestamps or float nanoseconds (``nanoseconds``); ``at`` holds a time per row.
    """
    at_ns = nanoseconds(at)
    mass = np.asarray(rows[s.VIDEO_TRENDING_MASS], dtype=np.float64)
    elapsed = (at_ns - nanoseconds(rows[s.VIDEO_TRENDING_AT])) / _NS_PER_DAY
    return {
        s.USER_RECENCY_DAYS: (at_ns - nanoseconds(rows[s.USER_LAST_ACTIVE])) / _NS_PER_DAY,
        s.VIDEO_AGE_DAYS: (at_ns - nanoseconds(rows[s.VIDEO_PUBLISHED_AT])) / _NS_PER_DAY,
        s.VIDEO_TRENDING_SCORE: mass
        * np.exp2(-np.maximum(elapsed, 0.0) / s.TRENDING_HALF_LIFE_DAYS),
        s.USER_VIDEO_GENRE_MATCH: genre_match(
            list(rows[s.USER_GENRES]), list(rows[s.USER_GENRE_WEIGHTS]), list(rows[s.VIDEO_GENRES])
        ),
        s.USER_VIDEO_LANGUAGE_MATCH: language_match(
            list(rows[s.USER_LANGUAGE]), list(rows[s.VIDEO_LANGUAGE])
        ),
    }
