"""On-demand features and the ranker vector assembly (no Feast needed)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from features import schema as s
from features.on_demand import genre_match, language_match, nanoseconds, on_demand_features
from features.vectors import numeric_values, ranker_matrix


def test_the_ranker_vector_is_user_then_video_then_on_demand_columns() -> None:
    assert (
        *s.USER_RANKER_FEATURES,
        *s.VIDEO_RANKER_FEATURES,
        *s.ON_DEMAND_FEATURES,
    ) == s.RANKER_FEATURES
    non_numeric = s.TIMESTAMP_FEATURES | s.LIST_FEATURES | s.STRING_FEATURES
    assert not non_numeric & set(s.RANKER_FEATURES)
    assert set(s.RANKER_DEFAULTS) == set(s.RANKER_FEATURES)


def test_genre_match_sums_the_users_weights_of_the_videos_genres() -> None:
    names, weights = ["Drama", "Comedy"], [0.75, 0.25]
    got = genre_match(
        [names, names, names, None],
        [weights, weights, weights, None],
        [["Comedy", "Drama"], ["Horror"], [], ["Drama"]],
    )
    np.testing.assert_allclose(got, [1.0, 0.0, 0.0, 0.0])


def test_language_match_needs_both_languages_known_and_equal() -> None:
    got = language_match(["en", "en", "", None], ["en", "fr", "", "en"])
    np.testing.assert_array_equal(got, [1.0, 0.0, 0.0, 0.0])


def test_timestamps_convert_the_same_with_or_without_pandas() -> None:
    """The serving fast path (a short list) and the training path (a Series) must agree."""
    moments = [
        datetime(2024, 5, 2, 9, 3, 7, 123456, tzinfo=UTC),
        pd.Timestamp("2018-09-24T14:27:30.123456Z"),
        None,
        pd.NaT,
    ]
    fast = nanoseconds(moments)
    slow = nanoseconds(pd.Series(moments * 3))[:4]
    np.testing.assert_array_equal(fast, slow)
    assert np.isnan(fast[2:]).all()


def test_on_demand_features_decay_trending_and_measure_ages_from_the_request_time() -> None:
    at = pd.Series([pd.Timestamp("2024-05-15T00:00Z")] * 2)
    rows = {
        s.USER_LAST_ACTIVE: [pd.Timestamp("2024-05-14T00:00Z"), None],
        s.VIDEO_PUBLISHED_AT: [pd.Timestamp("2024-05-01T00:00Z")] * 2,
        s.VIDEO_TRENDING_AT: [pd.Timestamp("2024-05-08T00:00Z")] * 2,
        s.VIDEO_TRENDING_MASS: [8.0, 8.0],
        s.USER_GENRES: [["Drama"], None],
        s.USER_GENRE_WEIGHTS: [[1.0], None],
        s.VIDEO_GENRES: [["Drama"], ["Drama"]],
        s.USER_LANGUAGE: ["en", None],
        s.VIDEO_LANGUAGE: ["en", "en"],
    }
    got = on_demand_features(rows, at)
    assert got[s.USER_RECENCY_DAYS][0] == 1.0
    assert np.isnan(got[s.USER_RECENCY_DAYS][1])
    np.testing.assert_allclose(got[s.VIDEO_AGE_DAYS], [14.0, 14.0])
    # one half-life (7 days) after the mass was stated: half of it
    np.testing.assert_allclose(got[s.VIDEO_TRENDING_SCORE], [4.0, 4.0])
    np.testing.assert_array_equal(got[s.USER_VIDEO_GENRE_MATCH], [1.0, 0.0])
    np.testing.assert_array_equal(got[s.USER_VIDEO_LANGUAGE_MATCH], [1.0, 0.0])


def test_missing_values_become_the_defaults_and_vectors_are_finite() -> None:
    rows = pd.DataFrame({s.USER_EVENTS_TOTAL: [3, None], s.VIDEO_CTR: [np.nan, 0.5]})
    values = numeric_values(rows, [s.USER_EVENTS_TOTAL, s.VIDEO_CTR, s.USER_PREFERRED_HOUR], 2)
    np.testing.assert_array_equal(values, [[3.0, 0.0, -1.0], [0.0, 0.5, -1.0]])
    matrix = ranker_matrix(rows, pd.Series([pd.Timestamp("2024-01-01T00:00Z")] * 2), 2)
    assert matrix.shape == (2, len(s.RANKER_FEATURES))
    assert matrix.dtype == np.float32
    assert np.isfinite(matrix).all()
    recency = s.RANKER_FEATURES.index(s.USER_RECENCY_DAYS)
    assert matrix[0, recency] == pytest.approx(-1.0)
