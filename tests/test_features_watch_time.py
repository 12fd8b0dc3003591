"""The watch-time rule: cumulative reports per playback session, each event adding the rise of
its session's running maximum."""

from __future__ import annotations

import pandas as pd

from core import columns as c
from features.watch_time import watch_increments


def _log(*rows: tuple[int, int, str, str, float | None, str | None]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                c.USER_ID: user,
                c.VIDEO_ID: video,
                c.EVENT_TYPE: kind,
                c.EVENT_TIMESTAMP: pd.Timestamp(at, tz="UTC"),
                c.WATCH_SECONDS: watch,
                c.SESSION_ID: session,
            }
            for user, video, kind, at, watch, session in rows
        ]
    )


def test_each_event_adds_what_its_report_raises_the_session_by() -> None:
    log = _log(
        (1, 1, "play", "2024-05-01T10:00", 0.0, "s"),
        (1, 1, "progress", "2024-05-01T10:00:10", 10.0, "s"),
        (1, 1, "progress", "2024-05-01T10:00:20", 20.0, "s"),
        (1, 1, "progress", "2024-05-01T10:00:20", 20.0, "s"),  # a repeated heartbeat
        (1, 1, "complete", "2024-05-01T10:00:45", 45.0, "s"),
    )
    assert watch_increments(log).tolist() == [0.0, 10.0, 10.0, 0.0, 25.0]


def test_a_lost_heartbeat_loses_nothing_and_a_late_one_adds_nothing() -> None:
    log = _log(
        (1, 1, "complete", "2024-05-01T10:01", 60.0, "s"),
        (1, 1, "progress", "2024-05-01T10:00:30", 30.0, "s"),  # arrives out of order
    )
    increments = watch_increments(log)
    assert increments.tolist() == [30.0, 30.0]  # aligned with the log's rows, in time order
    assert increments.sum() == 60.0


def test_sessions_are_separate_and_a_missing_id_means_one_per_user_video_and_day() -> None:
    log = _log(
        (1, 1, "progress", "2024-05-01T10:00", 30.0, "a"),
        (1, 1, "progress", "2024-05-01T11:00", 20.0, "b"),  # another session of the same video
        (1, 2, "progress", "2024-05-01T12:00", 40.0, None),
        (1, 2, "complete", "2024-05-01T12:05", 50.0, None),  # same day: the same session
        (1, 2, "progress", "2024-05-02T09:00", 15.0, None),  # the next day: a new one
        (2, 1, "progress", "2024-05-01T10:00", 5.0, "a"),  # another user's "a"
    )
    assert watch_increments(log).tolist() == [30.0, 20.0, 40.0, 10.0, 15.0, 5.0]


def test_only_player_events_report_and_bad_reports_count_zero() -> None:
    log = _log(
        (1, 1, "pause", "2024-05-01T10:00", 999.0, "s"),
        (1, 1, "play", "2024-05-01T10:01", None, "s"),
        (1, 1, "progress", "2024-05-01T10:02", -5.0, "s"),
        (1, 1, "progress", "2024-05-01T10:03", 12.0, "s"),
    )
    assert watch_increments(log).tolist() == [0.0, 0.0, 0.0, 12.0]
