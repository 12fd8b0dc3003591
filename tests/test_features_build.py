"""Feature tables from a hand-written event log: every value below was computed by hand."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from core import columns as c
from core.errors import DatasetError
from core.eventlog import write_events
from features import schema as s
from features.build import build_feature_tables, popularity_ranks
from tests.event_rows import event_row

AS_OF = datetime(2024, 3, 10, tzinfo=UTC)


def _ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


EVENTS = [
    event_row(1, 10, "impression", "2024-03-01T09:00Z"),
    event_row(1, 10, "click", "2024-03-01T09:01Z"),
    event_row(1, 10, "play", "2024-03-01T09:02Z", watch=120),
    event_row(1, 10, "complete", "2024-03-01T09:10Z", watch=60),
    event_row(1, 10, "rate", "2024-03-02T20:00Z", value=5),
    event_row(1, 20, "impression", "2024-03-02T20:05Z"),
    event_row(2, 10, "impression", "2024-03-02T08:00Z"),
    event_row(2, 20, "impression", "2024-03-02T08:01Z"),
    event_row(2, 20, "click", "2024-03-02T08:02Z"),
    event_row(2, 20, "play", "2024-03-02T08:03Z", watch=30),
    event_row(2, 20, "play", "2024-03-05T12:00Z", watch=45),
    event_row(2, 20, "like", "2024-03-05T12:30Z"),
    event_row(2, 20, "rate", "2024-03-05T12:31Z", value=3),
    event_row(3, 10, "play", "2024-03-09T10:00Z", watch=100),
    event_row(3, 30, "rate", "2024-03-09T10:00Z", value=4),
]


@pytest.fixture
def events_file(tmp_path: Path) -> Path:
    """The hand-written log, written with the event log's own writer (rows shuffled)."""
    frame = pd.DataFrame(EVENTS).sample(frac=1.0, random_state=7)
    return write_events(frame, tmp_path / "events.parquet")


def _rows(path: Path, key: str, entity: int) -> pd.DataFrame:
    frame = pd.read_parquet(path)
    return frame[frame[key] == entity].set_index(c.EVENT_TIMESTAMP)


def test_user_stats_snapshots_are_cumulative_with_a_decaying_7_day_window(
    events_file: Path, tmp_path: Path
) -> None:
    tables = build_feature_tables(events_file, tmp_path / "out", as_of=AS_OF)
    u1 = _rows(tables.user_stats, c.USER_ID, 1)
    # Day ends after 03-01 and 03-02, 7-day decays at 03-09 and 03-10 (= as_of).
    assert list(u1.index) == [_ts("2024-03-02"), _ts("2024-03-03"), _ts("2024-03-09"), AS_OF]
    assert list(u1[s.USER_EVENTS_TOTAL]) == [4, 6, 6, 6]
    assert list(u1[s.USER_EVENTS_7D]) == [4, 6, 2, 0]
    assert list(u1[s.USER_PLAYS]) == [1, 1, 1, 1]
    assert list(u1[s.USER_WATCH_SECONDS]) == [180.0, 180.0, 180.0, 180.0]
    assert list(u1[s.USER_DISTINCT_VIDEOS]) == [1, 2, 2, 2]
    assert math.isnan(u1[s.USER_MEAN_RATING].iloc[0])
    assert list(u1[s.USER_MEAN_RATING].iloc[1:]) == [5.0, 5.0, 5.0]
    assert list(u1[s.USER_LAST_ACTIVE]) == [_ts("2024-03-01T09:10Z")] + 3 * [
        _ts("2024-03-02T20:05Z")
    ]

    u2 = _rows(tables.user_stats, c.USER_ID, 2)
    assert list(u2.index) == [_ts("2024-03-03"), _ts("2024-03-06"), AS_OF]
    last = u2.loc[AS_OF]
    assert (last[s.USER_EVENTS_TOTAL], last[s.USER_EVENTS_7D], last[s.USER_PLAYS]) == (7, 3, 2)
    assert last[s.USER_WATCH_SECONDS] == 75.0
    assert last[s.USER_DISTINCT_VIDEOS] == 2
    assert last[s.USER_MEAN_RATING] == 3.0
    assert last[s.USER_LAST_ACTIVE] == _ts("2024-03-05T12:31Z")

    u3 = _rows(tables.user_stats, c.USER_ID, 3)
    assert list(u3.index) == [AS_OF]
    assert u3.iloc[0][[s.USER_EVENTS_TOTAL, s.USER_EVENTS_7D, s.USER_DISTINCT_VIDEOS]].tolist() == [
        2,
        2,
        2,
    ]
    assert (tables.users, tables.user_rows) == (3, 8)


def test_video_stats_rates_and_popularity_rank(events_file: Path, tmp_path: Path) -> None:
    tables = build_feature_tables(events_file, tmp_path / "out", as_of=AS_OF)
    videos = pd.read_parquet(tables.video_stats)
    final = videos[videos[c.EVENT_TIMESTAMP] == AS_OF].set_index(c.VIDEO_ID)
    assert final.loc[10, [s.VIDEO_PLAYS, s.VIDEO_IMPRESSIONS, s.VIDEO_CLICKS]].tolist() == [2, 2, 1]
    assert final.loc[10, s.VIDEO_CTR] == 0.5
    assert final.loc[10, s.VIDEO_COMPLETION_RATE] == 0.5
    assert final.loc[10, s.VIDEO_MEAN_WATCH_SECONDS] == 140.0
    assert final.loc[10, s.VIDEO_LIKES] == 0
    assert final.loc[10, s.VIDEO_MEAN_RATING] == 5.0
    assert final.loc[20, s.VIDEO_CTR] == 0.5
    assert final.loc[20, s.VIDEO_COMPLETION_RATE] == 0.0
    assert final.loc[20, s.VIDEO_MEAN_WATCH_SECONDS] == 37.5
    assert final.loc[20, s.VIDEO_LIKES] == 1
    assert final.loc[20, s.VIDEO_MEAN_RATING] == 3.0
    # Only rated: no plays or impressions, so the rates are undefined, not zero.
    assert final.loc[30, s.VIDEO_PLAYS] == 0
    for rate in (s.VIDEO_CTR, s.VIDEO_COMPLETION_RATE, s.VIDEO_MEAN_WATCH_SECONDS):
        assert math.isnan(final.loc[30, rate])
    assert final.loc[30, s.VIDEO_MEAN_RATING] == 4.0
    # Ties share a rank: 10 and 20 both have 2 plays.
    assert final[s.VIDEO_POPULARITY_RANK].to_dict() == {10: 1, 20: 1, 30: 3}

    v20 = _rows(tables.video_stats, c.VIDEO_ID, 20)
    assert list(v20.index) == [_ts("2024-03-03"), _ts("2024-03-06"), AS_OF]
    assert list(v20[s.VIDEO_PLAYS]) == [1, 2, 2]
    assert list(v20[s.VIDEO_POPULARITY_RANK]) == [1, 1, 1]
    assert (tables.videos, tables.video_rows) == (3, 7)
    assert tables.first_timestamp == _ts("2024-03-02")


def test_popularity_rank_counts_only_videos_seen_so_far() -> None:
    times = pd.Series(pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-02", "2024-01-03"]))
    ranks = popularity_ranks(
        pd.Series([1, 1, 2, 3]), times.dt.tz_localize("UTC"), pd.Series([5, 5, 7, 0])
    )
    assert ranks.tolist() == [1, 2, 1, 3]


def test_as_of_drops_later_events_and_defaults_to_the_latestevent_row(
    events_file: Path, tmp_path: Path
) -> None:
    cutoff = datetime(2024, 3, 5, 12, 0)  # naive means UTC; inclusive
    tables = build_feature_tables(events_file, tmp_path / "cut", as_of=cutoff)
    users = pd.read_parquet(tables.user_stats)
    assert set(users[c.USER_ID]) == {1, 2}
    u2 = users[users[c.USER_ID] == 2].iloc[-1]
    assert u2[c.EVENT_TIMESTAMP] == _ts("2024-03-05T12:00Z")
    assert (u2[s.USER_EVENTS_TOTAL], u2[s.USER_PLAYS], u2[s.USER_EVENTS_7D]) == (5, 2, 5)

    latest = build_feature_tables(events_file, tmp_path / "latest")
    assert latest.as_of == _ts("2024-03-09T10:00Z")
    u1 = _rows(latest.user_stats, c.USER_ID, 1)
    assert u1.index[-1] == _ts("2024-03-09T10:00Z")
    assert u1[s.USER_EVENTS_7D].iloc[-1] == 2


def test_missing_empty_and_bad_logs_raise_clear_errors(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(DatasetError, match="no event log at"):
        build_feature_tables(tmp_path / "absent.parquet", out)

    empty = write_events(pd.DataFrame(columns=list(c.EVENT_COLUMNS)), tmp_path / "empty.parquet")
    with pytest.raises(DatasetError, match="is empty"):
        build_feature_tables(empty, out)

    odd = write_events(
        pd.DataFrame([event_row(1, 1, "share", "2024-01-01T00:00Z")]), tmp_path / "odd.parquet"
    )
    with pytest.raises(DatasetError, match="unknown event types: share"):
        build_feature_tables(odd, out)

    early = write_events(pd.DataFrame(EVENTS), tmp_path / "events.parquet")
    with pytest.raises(DatasetError, match="no events at or before 2020-01-01"):
        build_feature_tables(early, out, as_of=datetime(2020, 1, 1, tzinfo=UTC))

    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"not parquet at all")
    with pytest.raises(DatasetError, match="cannot read event log"):
        build_feature_tables(garbage, out)
    assert not out.exists()
