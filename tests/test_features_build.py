"""The four feature views from hand-written event logs: every expected value is worked out by
hand in the comments, then a seeded log is checked row by row against a direct recount."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import columns as c
from core.errors import DatasetError
from core.eventlog import write_events
from features import schema as s
from features.build import (
    build_feature_tables,
    build_tables,
    user_activity_frame,
    user_taste_frame,
    validate_events,
    video_content_frame,
    video_popularity_frame,
)
from features.videos import VIDEO_COLUMNS, conform_videos, empty_videos
from tests.event_rows import event_row

CREATED = datetime(2030, 1, 1, tzinfo=UTC)
NAN = float("nan")


def _ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def _events(*rows: dict[str, object]) -> pd.DataFrame:
    """Rows as a validated event frame, shuffled so nothing relies on the input order."""
    return validate_events(pd.DataFrame(list(rows)).sample(frac=1.0, random_state=3))


def _in_session(row: dict[str, object], session: str) -> dict[str, object]:
    return {**row, c.SESSION_ID: session}


def _videos(*rows: tuple[int, list[str], str | None, float | None, str | None]) -> pd.DataFrame:
    """A conformed videos frame from (id, genres, language, duration_s, published_at)."""
    frame = pd.DataFrame(
        [(v, g, lang, d, p, "2023-01-01") for v, g, lang, d, p in rows], columns=VIDEO_COLUMNS
    )
    return conform_videos(frame)


def _entity(frame: pd.DataFrame, key: str, entity: int) -> pd.DataFrame:
    return frame[frame[key] == entity].set_index(c.EVENT_TIMESTAMP)


def _same(got: list[float], expected: list[float]) -> bool:
    """Float lists equal to 1e-9, NaN equal to NaN."""
    return len(got) == len(expected) and all(
        (math.isnan(g) and math.isnan(e)) or g == pytest.approx(e, rel=1e-9, abs=1e-12)
        for g, e in zip(got, expected, strict=True)
    )


# -- user_activity --------------------------------------------------------------------------------

USER_LOG = (
    # User 1: four events in session s1 on 03-01 (hour 9), three on 03-02 (hours 20, 20, 21).
    _in_session(event_row(1, 10, "impression", "2024-03-01T09:00Z"), "s1"),
    _in_session(event_row(1, 10, "click", "2024-03-01T09:01Z"), "s1"),
    _in_session(event_row(1, 10, "play", "2024-03-01T09:02Z", watch=120), "s1"),
    _in_session(event_row(1, 10, "complete", "2024-03-01T09:10Z", watch=180), "s1"),
    _in_session(event_row(1, 10, "rate", "2024-03-02T20:00Z", value=5), "s2"),
    _in_session(event_row(1, 20, "impression", "2024-03-02T20:05Z"), "s2"),
    event_row(1, 20, "play", "2024-03-02T21:00Z", watch=30),
    # User 2: one event at hour 14, then one at hour 8: a tie, so the earliest hour wins.
    event_row(2, 10, "play", "2024-03-01T14:00Z"),
    event_row(2, 10, "like", "2024-03-02T08:00Z"),
    # User 3: an event exactly at midnight is inside (T - 1d, T] for T = that midnight only.
    event_row(3, 30, "play", "2024-03-02T12:00Z"),
    event_row(3, 30, "play", "2024-03-03T00:00Z"),
)
USER_AS_OF = datetime(2024, 4, 15, tzinfo=UTC)


def test_user_activity_windows_decay_to_zero_at_their_day_boundaries() -> None:
    table = user_activity_frame(_events(*USER_LOG), USER_AS_OF, CREATED)
    u1 = _entity(table, c.USER_ID, 1)
    # Day ends 03-02 and 03-03, each + 1, 7 and 30 days, and as_of.
    days = ["03-02", "03-03", "03-04", "03-09", "03-10", "04-01", "04-02", "04-15"]
    assert list(u1.index) == [_ts(f"2024-{d}") for d in days]
    assert list(u1[s.USER_EVENTS[0]]) == [4, 3, 0, 0, 0, 0, 0, 0]
    assert list(u1[s.USER_EVENTS[1]]) == [4, 7, 7, 3, 0, 0, 0, 0]
    assert list(u1[s.USER_EVENTS[2]]) == [4, 7, 7, 7, 7, 3, 0, 0]
    assert list(u1[s.USER_PLAYS[0]]) == [1, 1, 0, 0, 0, 0, 0, 0]
    assert list(u1[s.USER_PLAYS[1]]) == [1, 2, 2, 1, 0, 0, 0, 0]
    assert list(u1[s.USER_PLAYS[2]]) == [1, 2, 2, 2, 2, 1, 0, 0]
    assert list(u1[s.USER_COMPLETES[0]]) == [1, 0, 0, 0, 0, 0, 0, 0]
    assert list(u1[s.USER_COMPLETES[1]]) == [1, 1, 1, 0, 0, 0, 0, 0]
    assert list(u1[s.USER_COMPLETES[2]]) == [1, 1, 1, 1, 1, 0, 0, 0]
    # Session s1 reports 120 s, then 180 s in all: 3 min on 03-01; 30 s = 0.5 min on 03-02
    # (a play without a session: its own session for that day); missing watch counts 0.
    assert list(u1[s.USER_WATCH_MINUTES[0]]) == [3.0, 0.5, 0, 0, 0, 0, 0, 0]
    assert list(u1[s.USER_WATCH_MINUTES[1]]) == [3.0, 3.5, 3.5, 0.5, 0, 0, 0, 0]
    assert list(u1[s.USER_WATCH_MINUTES[2]]) == [3.0, 3.5, 3.5, 3.5, 3.5, 0.5, 0, 0]
    assert list(u1[s.USER_EVENTS_TOTAL]) == [4, 7, 7, 7, 7, 7, 7, 7]
    assert list(u1[s.USER_ACTIVE_DAYS_30D]) == [1, 2, 2, 2, 2, 1, 0, 0]
    # Sessions s1 and s2; the play without a session is not one.
    assert list(u1[s.USER_SESSIONS_30D]) == [1, 2, 2, 2, 2, 1, 0, 0]
    assert list(u1[s.USER_COMPLETION_RATE]) == [1.0] + 7 * [0.5]
    assert list(u1[s.USER_PREFERRED_HOUR]) == 8 * [9]
    assert _same(list(u1[s.USER_MEAN_RATING]), [NAN] + 7 * [5.0])
    assert list(u1[s.USER_LAST_ACTIVE]) == [_ts("2024-03-01T09:10Z")] + 7 * [
        _ts("2024-03-02T21:00Z")
    ]


def test_user_activity_preferred_hour_ties_go_to_the_earliest_hour() -> None:
    table = user_activity_frame(_events(*USER_LOG), USER_AS_OF, CREATED)
    u2 = _entity(table, c.USER_ID, 2)
    assert u2.loc[_ts("2024-03-02"), s.USER_PREFERRED_HOUR] == 14  # only the 14:00 play yet
    assert u2.loc[_ts("2024-03-03"), s.USER_PREFERRED_HOUR] == 8  # 14:00 and 08:00 tie
    assert u2.loc[_ts("2024-03-03"), s.USER_COMPLETION_RATE] == 0.0  # one play, no complete
    assert math.isnan(u2.loc[_ts("2024-03-03"), s.USER_MEAN_RATING])


def test_user_activity_counts_an_event_at_midnight_in_the_window_ending_then() -> None:
    table = user_activity_frame(_events(*USER_LOG), USER_AS_OF, CREATED)
    u3 = _entity(table, c.USER_ID, 3)
    # At 03-03 00:00 both plays are in (03-02, 03-03]; at 03-04 the midnight one is at T - 1d.
    assert u3.loc[_ts("2024-03-03"), s.USER_EVENTS[0]] == 2
    assert u3.loc[_ts("2024-03-04"), s.USER_EVENTS[0]] == 0
    assert u3.loc[_ts("2024-03-04"), s.USER_EVENTS[1]] == 2
    assert u3.loc[_ts("2024-03-04"), s.USER_ACTIVE_DAYS_30D] == 2


# -- user_taste -----------------------------------------------------------------------------------

TASTE_VIDEOS = (
    (10, ["Drama", "Comedy"], "en", 600.0, "2024-01-01"),
    (20, ["Comedy"], "fr", None, "2024-01-01"),
    (30, [], "en", 1200.0, "2024-01-01"),
    (40, ["Action", "Drama", "Comedy"], "fr", 300.0, "2024-01-01"),
)
TASTE_LOG = (
    # User 1 engages 10 (twice: counted once) on 03-01, then 20 on 03-02 (its impression
    # does not engage; the play does).
    event_row(1, 10, "click", "2024-03-01T09:00Z"),
    event_row(1, 10, "rate", "2024-03-01T10:00Z", value=4),
    event_row(1, 20, "impression", "2024-03-02T09:00Z"),
    event_row(1, 20, "play", "2024-03-02T10:00Z"),
    # User 4: 40 on 03-05; then 30 (no genres) and 50 (not in the catalogue) on 03-06.
    event_row(4, 40, "play", "2024-03-05T10:00Z"),
    event_row(4, 30, "like", "2024-03-06T10:00Z"),
    event_row(4, 50, "play", "2024-03-06T11:00Z"),
    # User 5 only saw an impression: no taste at all.
    event_row(5, 20, "impression", "2024-03-05T10:00Z"),
)


def test_user_taste_weights_languages_and_durations() -> None:
    as_of = datetime(2024, 3, 10, tzinfo=UTC)
    table = user_taste_frame(_events(*TASTE_LOG), _videos(*TASTE_VIDEOS), as_of, CREATED)
    u1 = _entity(table, c.USER_ID, 1)
    assert list(u1.index) == [_ts("2024-03-02"), _ts("2024-03-03"), _ts("2024-03-10")]
    # 03-02: video 10 alone, Drama and Comedy 0.5 each: the tie goes by name.
    assert u1.iloc[0][s.USER_GENRES] == ["Comedy", "Drama"]
    assert list(u1.iloc[0][s.USER_GENRE_WEIGHTS]) == [0.5, 0.5]
    assert u1.iloc[0][s.USER_LANGUAGE] == "en"
    assert u1.iloc[0][s.USER_MEAN_VIDEO_MINUTES] == 10.0
    # 03-03: + video 20 (Comedy 1): Comedy 1.5, Drama 0.5 over 2 videos; en and fr tie -> en;
    # video 20 has no duration, so the mean stays 600 s.
    for row in (u1.iloc[1], u1.iloc[2]):
        assert row[s.USER_GENRES] == ["Comedy", "Drama"]
        assert list(row[s.USER_GENRE_WEIGHTS]) == [0.75, 0.25]
        assert row[s.USER_LANGUAGE] == "en"
        assert row[s.USER_MEAN_VIDEO_MINUTES] == 10.0

    u4 = _entity(table, c.USER_ID, 4)
    first, second = u4.loc[_ts("2024-03-06")], u4.loc[_ts("2024-03-07")]
    assert first[s.USER_GENRES] == ["Action", "Comedy", "Drama"]
    assert list(first[s.USER_GENRE_WEIGHTS]) == pytest.approx([1 / 3] * 3)
    assert (first[s.USER_LANGUAGE], first[s.USER_MEAN_VIDEO_MINUTES]) == ("fr", 5.0)
    # Videos 30 and 50 add no genres; 30 adds en (tie with fr -> en) and 20 minutes.
    assert second[s.USER_GENRES] == ["Action", "Comedy", "Drama"]
    assert (second[s.USER_LANGUAGE], second[s.USER_MEAN_VIDEO_MINUTES]) == ("en", 12.5)

    u5 = _entity(table, c.USER_ID, 5)
    assert list(u5.index) == [_ts("2024-03-06"), _ts("2024-03-10")]
    assert u5.iloc[-1][s.USER_GENRES] == []
    assert list(u5.iloc[-1][s.USER_GENRE_WEIGHTS]) == []
    assert u5.iloc[-1][s.USER_LANGUAGE] == ""
    assert math.isnan(u5.iloc[-1][s.USER_MEAN_VIDEO_MINUTES])


def test_user_taste_orders_genres_by_weight_and_weights_sum_to_one() -> None:
    videos = _videos((1, ["b", "a"], None, None, None), (2, ["b"], None, None, None))
    log = _events(
        event_row(7, 1, "play", "2024-03-01T10:00Z"), event_row(7, 2, "play", "2024-03-01T11:00Z")
    )
    row = user_taste_frame(log, videos, datetime(2024, 3, 2, tzinfo=UTC), CREATED).iloc[-1]
    # b: 0.5 + 1 = 1.5, a: 0.5, over 2 videos.
    assert row[s.USER_GENRES] == ["b", "a"]
    assert list(row[s.USER_GENRE_WEIGHTS]) == [0.75, 0.25]
    assert row[s.USER_LANGUAGE] == ""


# -- video_popularity -----------------------------------------------------------------------------

VIDEO_LOG = (
    # Video 10: user 1 impression, click, play, complete on 03-01; user 2 play on 03-01;
    # user 1 rates it 5 and user 2 likes it on 03-02.
    event_row(1, 10, "impression", "2024-03-01T09:00Z"),
    event_row(1, 10, "click", "2024-03-01T09:01Z"),
    event_row(1, 10, "play", "2024-03-01T09:02Z"),
    event_row(1, 10, "complete", "2024-03-01T09:10Z"),
    event_row(2, 10, "play", "2024-03-01T14:00Z"),
    event_row(1, 10, "rate", "2024-03-02T20:00Z", value=5),
    event_row(2, 10, "like", "2024-03-02T08:00Z"),
    # Video 20: only impressions, from two users.
    event_row(1, 20, "impression", "2024-03-01T09:00Z"),
    event_row(3, 20, "impression", "2024-03-01T10:00Z"),
)


def test_video_popularity_counts_distinct_viewers_and_rates() -> None:
    table = video_popularity_frame(_events(*VIDEO_LOG), USER_AS_OF, CREATED)
    v10 = _entity(table, c.VIDEO_ID, 10)
    days = ["03-02", "03-03", "03-04", "03-09", "03-10", "04-01", "04-02", "04-15"]
    assert list(v10.index) == [_ts(f"2024-{d}") for d in days]
    assert list(v10[s.VIDEO_IMPRESSIONS[0]]) == [1, 0, 0, 0, 0, 0, 0, 0]
    assert list(v10[s.VIDEO_IMPRESSIONS[1]]) == [1, 1, 1, 0, 0, 0, 0, 0]
    assert list(v10[s.VIDEO_IMPRESSIONS[2]]) == [1, 1, 1, 1, 1, 0, 0, 0]
    assert list(v10[s.VIDEO_PLAYS[0]]) == [2, 0, 0, 0, 0, 0, 0, 0]
    assert list(v10[s.VIDEO_PLAYS[1]]) == [2, 2, 2, 0, 0, 0, 0, 0]
    assert list(v10[s.VIDEO_PLAYS[2]]) == [2, 2, 2, 2, 2, 0, 0, 0]
    # Users 1 (three events) and 2 on 03-01, both again on 03-02: 2 viewers, never 4.
    assert list(v10[s.VIDEO_VIEWERS[0]]) == [2, 2, 0, 0, 0, 0, 0, 0]
    assert list(v10[s.VIDEO_VIEWERS[1]]) == [2, 2, 2, 2, 0, 0, 0, 0]
    assert list(v10[s.VIDEO_VIEWERS[2]]) == [2, 2, 2, 2, 2, 2, 0, 0]
    assert list(v10[s.VIDEO_EVENTS_TOTAL]) == [4] + 7 * [6]
    assert list(v10[s.VIDEO_VIEWERS_TOTAL]) == 8 * [2]
    assert list(v10[s.VIDEO_CTR]) == 8 * [1.0]
    assert list(v10[s.VIDEO_COMPLETION_RATE]) == 8 * [0.5]
    assert list(v10[s.VIDEO_LIKE_RATIO]) == [0.0] + 7 * [0.5]
    assert _same(list(v10[s.VIDEO_MEAN_RATING]), [NAN] + 7 * [5.0])
    assert list(v10[s.VIDEO_TRENDING_AT]) == list(v10.index)

    v20 = _entity(table, c.VIDEO_ID, 20)
    last = v20.iloc[-1]
    assert (last[s.VIDEO_IMPRESSIONS[2]], last[s.VIDEO_EVENTS_TOTAL]) == (0, 0)
    assert (last[s.VIDEO_VIEWERS_TOTAL], last[s.VIDEO_TRENDING_MASS]) == (0, 0.0)
    assert v20.iloc[0][s.VIDEO_CTR] == 0.0  # two impressions, no click
    for undefined in (s.VIDEO_COMPLETION_RATE, s.VIDEO_LIKE_RATIO, s.VIDEO_MEAN_RATING):
        assert math.isnan(last[undefined])


def test_video_trending_mass_halves_every_half_life() -> None:
    week = timedelta(days=s.TRENDING_HALF_LIFE_DAYS)
    start = datetime(2024, 3, 1, tzinfo=UTC)
    log = _events(
        event_row(1, 5, "play", start.isoformat()),
        event_row(2, 5, "play", (start + week).isoformat()),
        event_row(3, 5, "impression", (start + week).isoformat()),  # does not count
    )
    table = video_popularity_frame(log, start + 2 * week, CREATED)
    at = table.set_index(c.EVENT_TIMESTAMP)[s.VIDEO_TRENDING_MASS]
    # As of two half-lives after the first play and one after the second: 1/4 + 1/2.
    assert at[pd.Timestamp(start + 2 * week)] == 0.75
    assert at[pd.Timestamp(start + timedelta(days=1))] == pytest.approx(2 ** (-1 / 7))


def test_video_trending_mass_is_exact_across_decades() -> None:
    """Events 40 years apart: far more half-lives than a float power of two can span."""
    times = ["1985-06-01T12:00Z", "2005-01-01T00:00Z", "2005-01-01T06:00Z", "2025-03-01T00:00Z"]
    log = _events(*(event_row(1, 9, "play", t) for t in times))
    as_of = datetime(2025, 3, 8, tzinfo=UTC)
    table = video_popularity_frame(log, as_of, CREATED)
    half_life = pd.Timedelta(days=s.TRENDING_HALF_LIFE_DAYS)
    for when, mass in zip(table[c.EVENT_TIMESTAMP], table[s.VIDEO_TRENDING_MASS], strict=True):
        expected = sum(2 ** (-((when - _ts(t)) / half_life)) for t in times if _ts(t) <= when)
        assert mass == pytest.approx(expected, rel=1e-12)
    assert table[s.VIDEO_TRENDING_MASS].iloc[-1] == pytest.approx(0.5)


# -- video_content --------------------------------------------------------------------------------


def test_video_content_rows_at_publication_with_refs_only_for_embedded_videos() -> None:
    videos = conform_videos(
        pd.DataFrame(
            [
                (10, ["Drama"], "en", 600.0, "2024-01-01T08:00Z", "2023-12-01"),
                (20, [], None, None, None, "2024-02-01"),  # falls back to created_at
                (30, ["Action"], "fr", 90.0, "2024-05-01", "2024-01-01"),  # after as_of
                (40, ["Comedy"], "", 30.0, None, None),  # no time at all: as_of
            ],
            columns=VIDEO_COLUMNS,
        )
    )
    as_of = datetime(2024, 3, 10, tzinfo=UTC)
    table = video_content_frame(videos, as_of, CREATED, {10, 40, 999}, "emb.parquet")
    table = table.set_index(c.VIDEO_ID)
    assert list(table.index) == [10, 20, 40]
    assert list(table[c.EVENT_TIMESTAMP]) == [
        _ts("2024-01-01T08:00Z"),
        _ts("2024-02-01"),
        _ts("2024-03-10"),
    ]
    assert table.loc[10, s.VIDEO_DURATION_SECONDS] == 600.0
    assert math.isnan(table.loc[20, s.VIDEO_DURATION_SECONDS])
    assert list(table[s.VIDEO_LANGUAGE]) == ["en", "", ""]
    assert list(table[s.VIDEO_GENRES]) == [["Drama"], [], ["Comedy"]]
    assert table.loc[20, s.VIDEO_PUBLISHED_AT] == _ts("2024-02-01")
    assert pd.isna(table.loc[40, s.VIDEO_PUBLISHED_AT])
    assert list(table[s.VIDEO_EMBEDDING_REF]) == ["emb.parquet#10", "", "emb.parquet#40"]


def test_build_tables_reads_embedding_ids_from_the_parquet_file(tmp_path: Path) -> None:
    videos = _videos((10, [], None, None, "2024-01-01"), (20, [], None, None, "2024-01-01"))
    log = pd.DataFrame([event_row(1, 10, "play", "2024-03-01T10:00Z")])
    vectors = tmp_path / "item_vectors.parquet"
    pd.DataFrame({c.VIDEO_ID: [20], "vector": [[0.1, 0.2]]}).to_parquet(vectors)
    with_file = build_tables(log, videos, tmp_path / "a", embedding_file=vectors)
    refs = pd.read_parquet(with_file.paths[s.VIDEO_CONTENT])[s.VIDEO_EMBEDDING_REF]
    assert list(refs) == ["", "item_vectors.parquet#20"]
    for absent in (None, tmp_path / "missing.parquet"):
        built = build_tables(log, videos, tmp_path / "b", embedding_file=absent)
        assert list(pd.read_parquet(built.paths[s.VIDEO_CONTENT])[s.VIDEO_EMBEDDING_REF]) == [
            "",
            "",
        ]


# -- the built table set --------------------------------------------------------------------------


def test_build_tables_writes_every_view_in_the_contract_dtypes(tmp_path: Path) -> None:
    videos = _videos(*TASTE_VIDEOS)
    tables = build_tables(pd.DataFrame([*USER_LOG, *TASTE_LOG]), videos, tmp_path / "out")
    assert set(tables.paths) == set(s.VIEWS)
    for view in s.VIEWS:
        path = tables.paths[view]
        assert path == tmp_path / "out" / Path(s.table_file(view)).name
        frame = pd.read_parquet(path)
        key = c.USER_ID if view in s.USER_VIEWS else c.VIDEO_ID
        assert list(frame.columns) == [key, c.EVENT_TIMESTAMP, c.CREATED, *s.VIEW_FEATURES[view]]
        assert len(frame) == tables.rows[view]
        assert frame[key].dtype == "int64"
        for col in (c.EVENT_TIMESTAMP, c.CREATED, *s.TIMESTAMP_FEATURES & set(frame.columns)):
            assert str(frame[col].dtype) == "datetime64[us, UTC]", col
        for col in s.VIEW_FEATURES[view]:
            if col in s.INT_FEATURES:
                assert frame[col].dtype == "int64", col
            elif col in s.LIST_FEATURES:
                assert all(isinstance(v, list | np.ndarray) for v in frame[col]), col
            elif col in s.STRING_FEATURES:
                assert all(isinstance(v, str) for v in frame[col]), col
            elif col not in s.TIMESTAMP_FEATURES:
                assert frame[col].dtype == "float64", col
    assert tables.as_of == _ts("2024-03-06T11:00Z")  # the latest event
    assert tables.users == 5  # users 1, 2, 3, 4, 5
    assert tables.videos == 5  # 10, 20, 30, 40 (catalogue) and 50 (events only)
    assert tables.first_timestamp == _ts("2024-01-01")  # the videos' publication
    assert not list((tmp_path / "out").glob("*.tmp"))


def test_as_of_drops_later_events_and_naive_means_utc(tmp_path: Path) -> None:
    cutoff = datetime(2024, 3, 2, 20, 0)  # naive means UTC; inclusive
    tables = build_tables(pd.DataFrame(USER_LOG), empty_videos(), tmp_path / "cut", as_of=cutoff)
    assert tables.as_of == _ts("2024-03-02T20:00Z")
    users = pd.read_parquet(tables.paths[s.USER_ACTIVITY])
    assert set(users[c.USER_ID]) == {1, 2, 3}
    u1 = _entity(users, c.USER_ID, 1)
    assert list(u1.index) == [_ts("2024-03-02"), _ts("2024-03-02T20:00Z")]
    # 03-01's four events and the 20:00 rate; 20:05 and 21:00 are after as_of.
    assert u1.iloc[-1][s.USER_EVENTS_TOTAL] == 5
    assert u1.iloc[-1][s.USER_EVENTS[0]] == 1  # (03-01 20:00, 03-02 20:00]: the rate
    assert u1.iloc[-1][s.USER_LAST_ACTIVE] == _ts("2024-03-02T20:00Z")
    assert pd.read_parquet(tables.paths[s.VIDEO_CONTENT]).empty
    with pytest.raises(DatasetError, match="no events at or before 2020-01-01"):
        build_tables(pd.DataFrame(USER_LOG), empty_videos(), tmp_path / "x", datetime(2020, 1, 1))


def test_a_row_stamped_t_never_counts_an_event_after_t(tmp_path: Path) -> None:
    """Adding events after a time leaves every row stamped before it unchanged."""
    log = _random_log(seed=11)
    videos = _random_videos()
    as_of = datetime(2024, 6, 1, tzinfo=UTC)
    later = _ts("2024-03-15T13:00Z")
    extra = _random_log(seed=12)
    extra = extra[extra[c.EVENT_TIMESTAMP] > later]
    base = build_tables(log, videos, tmp_path / "base", as_of)
    more = build_tables(pd.concat([log, extra]), videos, tmp_path / "more", as_of)
    for view in (s.USER_ACTIVITY, s.USER_TASTE, s.VIDEO_POPULARITY):
        key = c.USER_ID if view in s.USER_VIEWS else c.VIDEO_ID
        before, after = (
            pd.read_parquet(t.paths[view])
            .drop(columns=c.CREATED)
            .set_index([key, c.EVENT_TIMESTAMP])
            for t in (base, more)
        )
        early = before[before.index.get_level_values(1) <= later]
        assert len(early) > 20
        pd.testing.assert_frame_equal(early, after.loc[early.index])


# -- checked against a direct recount -------------------------------------------------------------


def _random_log(seed: int) -> pd.DataFrame:
    """A seeded log over 90 days: some events at midnight, some sessions, all event types."""
    rng = np.random.default_rng(seed)
    n = 250
    start = _ts("2024-01-01")
    minutes = rng.integers(0, 90 * 24 * 60, n)
    minutes[:25] = (minutes[:25] // (24 * 60)) * 24 * 60  # exactly midnight
    kinds = rng.choice(["impression", "click", "play", "progress", "complete", "like", "rate"], n)
    watch = np.where(np.isin(kinds, ["play", "progress", "complete"]), rng.integers(0, 900, n), NAN)
    watch[rng.random(n) < 0.2] = NAN
    return pd.DataFrame(
        {
            c.USER_ID: rng.integers(1, 7, n),
            c.VIDEO_ID: rng.integers(1, 6, n),
            c.EVENT_TYPE: kinds,
            c.EVENT_TIMESTAMP: [start + pd.Timedelta(minutes=int(m)) for m in minutes],
            c.VALUE: np.where(kinds == "rate", rng.integers(1, 6, n).astype(float), NAN),
            c.WATCH_SECONDS: watch,
            c.SESSION_ID: [None if r < 0.3 else f"s{int(r * 12)}" for r in rng.random(n)],
        }
    )


def _random_videos() -> pd.DataFrame:
    return _videos(
        (1, ["a", "b"], "en", 60.0, None),
        (2, ["b"], "fr", None, None),
        (3, [], "en", 120.0, None),
        (4, ["c", "a", "b"], None, 30.0, None),
    )


def _expected_times(times: pd.Series, as_of: pd.Timestamp, offsets: tuple[int, ...]) -> list:
    ends = {t.floor("D") + pd.Timedelta(days=1 + d) for t in times for d in offsets}
    return sorted({t for t in ends if t <= as_of} | {as_of})


@dataclass(frozen=True)
class _Event:
    """One event, as plain Python values, for the direct recounts."""

    user: int
    video: int
    kind: str
    at: pd.Timestamp
    value: float
    watch: float
    session: str | None


def _plain(log: pd.DataFrame) -> list[_Event]:
    return [
        _Event(u, v, k, at, val, w, None if pd.isna(sess) else sess)
        for u, v, k, at, val, w, sess in zip(
            log[c.USER_ID],
            log[c.VIDEO_ID],
            log[c.EVENT_TYPE],
            log[c.EVENT_TIMESTAMP],
            log[c.VALUE],
            log[c.WATCH_SECONDS],
            log[c.SESSION_ID],
            strict=True,
        )
    ]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else NAN


def _watched(seen: list[_Event], until: pd.Timestamp) -> float:
    """Watch time up to ``until``: each session's largest cumulative report so far, summed
    (a session without an id: the user, video and UTC day)."""
    best: dict[tuple[int, int, str], float] = {}
    for e in seen:
        if e.at > until or e.kind not in ("play", "progress", "complete") or math.isnan(e.watch):
            continue
        key = (e.user, e.video, e.session or f"day {e.at.floor('D')}")
        best[key] = max(best.get(key, 0.0), e.watch)
    return sum(best.values())


def _recount_user(seen: list[_Event], at: pd.Timestamp) -> dict[str, object]:
    row: dict[str, object] = {}
    for days, ev, pl, co, wm in zip(
        s.WINDOWS, s.USER_EVENTS, s.USER_PLAYS, s.USER_COMPLETES, s.USER_WATCH_MINUTES, strict=True
    ):
        win = [e for e in seen if e.at > at - pd.Timedelta(days=days)]
        row[ev] = len(win)
        row[pl] = sum(e.kind == "play" for e in win)
        row[co] = sum(e.kind == "complete" for e in win)
        row[wm] = (_watched(seen, at) - _watched(seen, at - pd.Timedelta(days=days))) / 60
    month = [e for e in seen if e.at > at - pd.Timedelta(days=30)]
    plays = sum(e.kind == "play" for e in seen)
    completes = sum(e.kind == "complete" for e in seen)
    hours = [e.at.hour for e in seen]
    top = max(hours.count(h) for h in hours)
    row[s.USER_EVENTS_TOTAL] = len(seen)
    row[s.USER_ACTIVE_DAYS_30D] = len({e.at.date() for e in month})
    row[s.USER_SESSIONS_30D] = len({e.session for e in month if e.session is not None})
    row[s.USER_COMPLETION_RATE] = min(completes / plays, 1.0) if plays else NAN
    row[s.USER_PREFERRED_HOUR] = min(h for h in hours if hours.count(h) == top)
    row[s.USER_MEAN_RATING] = _mean([e.value for e in seen if e.kind == "rate"])
    row[s.USER_LAST_ACTIVE] = max(e.at for e in seen)
    return row


def _recount_video(seen: list[_Event], at: pd.Timestamp) -> dict[str, object]:
    watched = [e for e in seen if e.kind != "impression"]
    row: dict[str, object] = {}
    for days, im, pl, vw in zip(
        s.WINDOWS, s.VIDEO_IMPRESSIONS, s.VIDEO_PLAYS, s.VIDEO_VIEWERS, strict=True
    ):
        win = [e for e in seen if e.at > at - pd.Timedelta(days=days)]
        row[im] = sum(e.kind == "impression" for e in win)
        row[pl] = sum(e.kind == "play" for e in win)
        row[vw] = len({e.user for e in win if e.kind != "impression"})
    count = {k: sum(e.kind == k for e in seen) for k in ("impression", "click", "play")}
    count.update({k: sum(e.kind == k for e in seen) for k in ("complete", "like")})
    viewers = len({e.user for e in watched})
    half_life = pd.Timedelta(days=s.TRENDING_HALF_LIFE_DAYS)
    row[s.VIDEO_EVENTS_TOTAL] = len(watched)
    row[s.VIDEO_VIEWERS_TOTAL] = viewers
    row[s.VIDEO_CTR] = count["click"] / count["impression"] if count["impression"] else NAN
    row[s.VIDEO_COMPLETION_RATE] = (
        min(count["complete"] / count["play"], 1.0) if count["play"] else NAN
    )
    row[s.VIDEO_LIKE_RATIO] = count["like"] / viewers if viewers else NAN
    row[s.VIDEO_MEAN_RATING] = _mean([e.value for e in seen if e.kind == "rate"])
    row[s.VIDEO_TRENDING_MASS] = sum(2 ** (-((at - e.at) / half_life)) for e in watched)
    row[s.VIDEO_TRENDING_AT] = at
    return row


def _recount_taste(seen: list[_Event], videos: pd.DataFrame) -> dict[str, object]:
    engaged = dict.fromkeys(e.video for e in seen if e.kind != "impression")
    meta = {
        v: (g, lang, d)
        for v, g, lang, d in zip(
            videos[c.VIDEO_ID],
            videos["genres"],
            videos["language"],
            videos["duration_s"],
            strict=True,
        )
    }
    weights: dict[str, float] = {}
    languages: dict[str, int] = {}
    minutes = []
    for video in engaged:
        if video not in meta:
            continue
        genres, language, duration = meta[video]
        for genre in genres:
            weights[genre] = weights.get(genre, 0.0) + 1 / len(genres)
        if language:
            languages[language] = languages.get(language, 0) + 1
        if not math.isnan(duration):
            minutes.append(duration / 60)
    total = sum(weights.values())
    ranked = sorted(weights.items(), key=lambda kv: (-round(kv[1], 9), kv[0]))
    top = max(languages.values(), default=0)
    return {
        s.USER_GENRES: [g for g, _ in ranked],
        s.USER_GENRE_WEIGHTS: [w / total for _, w in ranked],
        s.USER_LANGUAGE: min((k for k, n in languages.items() if n == top), default=""),
        s.USER_MEAN_VIDEO_MINUTES: _mean(minutes),
    }


def _check_row(row: dict[str, object], expected: dict[str, object]) -> None:
    for col, want in expected.items():
        got = row[col]
        if isinstance(want, list) and want and isinstance(want[0], float):
            assert list(got) == pytest.approx(want), col
        elif isinstance(want, list):
            assert list(got) == want, col
        elif isinstance(want, float) and math.isnan(want):
            assert math.isnan(got), col
        elif isinstance(want, float):
            assert got == pytest.approx(want, rel=1e-9, abs=1e-12), col
        else:
            assert got == want, col


def test_every_row_matches_a_direct_recount_of_the_events_at_or_before_it() -> None:
    as_of = _ts("2024-03-20T15:30Z")  # mid-day, with events after it
    log = validate_events(_random_log(seed=1))
    log = log[log[c.EVENT_TIMESTAMP] <= as_of]
    events = _plain(log)
    videos = _random_videos()
    windowed = (0, *s.WINDOWS)
    checks = [
        (user_activity_frame(log, as_of, CREATED), c.USER_ID, windowed, _recount_user),
        (video_popularity_frame(log, as_of, CREATED), c.VIDEO_ID, windowed, _recount_video),
        (
            user_taste_frame(log, videos, as_of, CREATED),
            c.USER_ID,
            (0,),
            lambda seen, _at: _recount_taste(seen, videos),
        ),
    ]
    for table, key, offsets, recount in checks:
        entity_of = (lambda e: e.user) if key == c.USER_ID else (lambda e: e.video)
        assert set(table[key]) == {entity_of(e) for e in events}
        for entity, rows in table.groupby(key):
            mine = [e for e in events if entity_of(e) == entity]
            expected_times = _expected_times(pd.Series([e.at for e in mine]), as_of, offsets)
            assert list(rows[c.EVENT_TIMESTAMP]) == expected_times
            for row in rows.to_dict("records"):
                at = row[c.EVENT_TIMESTAMP]
                _check_row(row, recount([e for e in mine if e.at <= at], at))


# -- malformed input and all-or-nothing writes ----------------------------------------------------


def test_malformed_rows_are_named_by_position_and_nothing_is_written(tmp_path: Path) -> None:
    rows = [
        event_row(1, 10, "play", "2024-03-01T10:00Z"),
        event_row(1, 10, "share", "2024-03-01T10:00Z"),
        {**event_row(1, 10, "play", "2024-03-01T10:00Z"), c.USER_ID: None},
        event_row(1, 10, "play", "2024-03-01T10:00Z", watch=-5),
        event_row(1, 10, "rate", "2024-03-01T10:00Z"),
        event_row(1, 10, "play", "not a time"),
        event_row(1, 10, "play", "2024-03-01T10:00Z", watch=float("inf")),
        event_row(1, 10, "click", "2024-03-01T10:00Z"),
        {**event_row(1, 10, "play", "2024-03-01T10:00Z"), c.EVENT_TYPE: None},
    ]
    out = tmp_path / "out"
    with pytest.raises(DatasetError) as raised:
        build_tables(pd.DataFrame(rows), empty_videos(), out)
    message = str(raised.value)
    assert "7 malformed rows" in message
    assert "row 1: unknown event_type 'share'" in message
    assert "row 2: missing or non-integer user_id" in message
    assert "row 3: negative" in message
    assert "row 4: rate without a finite value" in message
    assert "row 5: missing or unparseable event_timestamp" in message
    assert "row 6" not in message  # only the first five are named
    assert "row 0" not in message and "row 7" not in message
    assert not out.exists()


def test_load_events_rejects_missing_unreadable_empty_and_malformed_logs(tmp_path: Path) -> None:
    out = tmp_path / "out"
    videos = empty_videos()
    with pytest.raises(DatasetError, match="no event log at"):
        build_feature_tables(tmp_path / "absent.parquet", videos, out)
    empty = write_events(pd.DataFrame(columns=list(c.EVENT_COLUMNS)), tmp_path / "empty.parquet")
    with pytest.raises(DatasetError, match="is empty"):
        build_feature_tables(empty, videos, out)
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"not parquet at all")
    with pytest.raises(DatasetError, match="cannot read event log"):
        build_feature_tables(garbage, videos, out)
    bad = tmp_path / "bad.parquet"
    pd.DataFrame(
        [event_row(1, 1, "play", "2024-01-01T00:00Z"), event_row(1, 1, "rate", "2024-01-02T00:00Z")]
    ).to_parquet(bad)
    with pytest.raises(DatasetError, match=r"bad.parquet has 1 malformed rows: row 1: rate"):
        build_feature_tables(bad, videos, out)
    assert not out.exists()

    good = write_events(pd.DataFrame(USER_LOG), tmp_path / "events.parquet")
    tables = build_feature_tables(good, videos, out)
    assert tables.rows[s.USER_ACTIVITY] == len(pd.read_parquet(tables.paths[s.USER_ACTIVITY]))


def test_a_failed_build_leaves_the_previous_tables_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    videos = _videos(*TASTE_VIDEOS)
    first = build_tables(pd.DataFrame(TASTE_LOG), videos, out)
    before = {view: path.read_bytes() for view, path in first.paths.items()}
    more = pd.DataFrame([*TASTE_LOG, *USER_LOG])

    with pytest.raises(DatasetError, match="videos frame lacks columns: language"):
        build_tables(more, videos.drop(columns="language"), out)
    with pytest.raises(DatasetError, match="duplicated video ids: 10"):
        build_tables(more, pd.concat([videos, videos.iloc[:1]]), out)

    real = pd.DataFrame.to_parquet
    written: list[object] = []

    def fail_third(frame: pd.DataFrame, path: object, *args: object, **kwargs: object) -> None:
        written.append(path)
        if len(written) == 3:
            raise OSError("disk full")
        real(frame, path, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", fail_third)
    with pytest.raises(OSError, match="disk full"):
        build_tables(more, videos, out)
    assert len(written) == 3
    assert {view: path.read_bytes() for view, path in first.paths.items()} == before
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in first.paths.values())


# -- MovieLens, timed -----------------------------------------------------------------------------


@pytest.mark.slow
def test_movielens_small_builds_well_within_budget(tmp_path: Path, sqlite_url: str) -> None:
    import time

    from core.eventlog import read_events
    from features.videos import load_videos
    from tests.conftest import MOVIELENS_SMALL
    from training.datasets.movielens import import_movielens

    if not MOVIELENS_SMALL.is_dir():
        pytest.skip(f"MovieLens small not present at {MOVIELENS_SMALL}")
    events_path = tmp_path / "events.parquet"
    import_movielens(MOVIELENS_SMALL, sqlite_url, events_path)
    videos = load_videos(sqlite_url)
    events = read_events(events_path)
    started = time.perf_counter()
    tables = build_tables(events, videos, tmp_path / "out")
    took = time.perf_counter() - started
    print(f"build_tables on ml-latest-small: {took:.1f} s, rows {tables.rows}")
    assert took < 60
    assert (tables.users, tables.videos) == (610, 9724)  # 9742 movies, 18 never rated
    assert tables.rows[s.VIDEO_CONTENT] == 9724
    activity = pd.read_parquet(tables.paths[s.USER_ACTIVITY])
    final = activity[activity[c.EVENT_TIMESTAMP] == tables.as_of]
    assert final[s.USER_EVENTS_TOTAL].sum() == len(events)
    taste = pd.read_parquet(tables.paths[s.USER_TASTE])
    sums = taste[s.USER_GENRE_WEIGHTS].map(sum)
    assert np.allclose(sums[sums > 0], 1.0)
