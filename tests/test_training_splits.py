"""Temporal and leave-last-n splits of an event-log frame."""

from __future__ import annotations

import pandas as pd
import pytest

from core import columns as c
from core.errors import DatasetError
from training.splits import (
    leave_last_n,
    random_split,
    split,
    stratified_split,
    temporal_split,
    validation_split,
)

START = pd.Timestamp("2024-01-01", tz="UTC")


def _frame(rows: list[tuple[int, int, int]]) -> pd.DataFrame:
    """Events from ``(user, video, day offset)`` triples."""
    return pd.DataFrame(
        {
            c.USER_ID: [r[0] for r in rows],
            c.VIDEO_ID: [r[1] for r in rows],
            c.EVENT_TYPE: "play",
            c.EVENT_TIMESTAMP: [START + pd.Timedelta(days=r[2]) for r in rows],
        }
    )


def test_temporal_split_cuts_the_last_fraction_of_the_time_span() -> None:
    # days 0..10, 20% of the span = the last 2 days: days 8, 9, 10 are test (cut at day 8)
    frame = _frame([(1, day, day) for day in range(11)])
    train, test = temporal_split(frame, test_fraction=0.2)
    assert sorted(test[c.VIDEO_ID]) == [8, 9, 10]
    assert sorted(train[c.VIDEO_ID]) == list(range(8))
    assert train[c.EVENT_TIMESTAMP].max() < test[c.EVENT_TIMESTAMP].min()


def test_temporal_split_by_events_keeps_the_fraction_of_events() -> None:
    # most events early, a few late: by time the test side would be tiny
    days = [0] * 5 + [1] * 5 + [2, 3, 4, 5, 100]
    frame = _frame([(1, i, day) for i, day in enumerate(days)])
    _, by_time = temporal_split(frame, 0.2)
    _, by_events = temporal_split(frame, 0.2, by="events")
    assert len(by_time) == 1
    assert len(by_events) == 3


def test_temporal_split_errors_are_explained() -> None:
    with pytest.raises(DatasetError, match="the event log is empty"):
        temporal_split(_frame([]))
    with pytest.raises(DatasetError, match="same timestamp"):
        temporal_split(_frame([(1, 1, 0), (2, 2, 0)]))
    with pytest.raises(ValueError, match="test_fraction must be between 0 and 1"):
        temporal_split(_frame([(1, 1, 0), (2, 2, 1)]), test_fraction=1.0)
    with pytest.raises(DatasetError, match="lack required columns: event_timestamp"):
        temporal_split(pd.DataFrame({c.USER_ID: [1]}))


def test_leave_last_n_holds_out_each_users_newest_events() -> None:
    frame = _frame([(1, 10, 0), (1, 11, 1), (1, 12, 2), (2, 20, 5), (2, 21, 3), (3, 30, 0)])
    train, test = leave_last_n(frame, n=1)
    assert sorted(zip(test[c.USER_ID], test[c.VIDEO_ID], strict=True)) == [(1, 12), (2, 20)]
    # user 3 has a single event and stays entirely in train
    assert set(train[c.USER_ID]) == {1, 2, 3}
    assert len(train) + len(test) == len(frame)


def test_leave_last_n_breaks_timestamp_ties_reproducibly_by_seed() -> None:
    frame = _frame([(1, v, 0) for v in range(20)])
    picks = {seed: leave_last_n(frame, n=3, seed=seed)[1][c.VIDEO_ID].tolist() for seed in range(6)}
    assert leave_last_n(frame, n=3, seed=2)[1][c.VIDEO_ID].tolist() == picks[2]
    assert len({tuple(sorted(p)) for p in picks.values()}) > 1


def test_leave_last_n_errors_are_explained() -> None:
    with pytest.raises(DatasetError, match="no user has more than 2 events"):
        leave_last_n(_frame([(1, 1, 0), (1, 2, 1)]), n=2)
    with pytest.raises(ValueError, match="n must be a positive number"):
        leave_last_n(_frame([(1, 1, 0)]), n=0)


def _pairs(frame: pd.DataFrame) -> set[tuple[int, int]]:
    return set(zip(frame[c.USER_ID], frame[c.VIDEO_ID], strict=True))


def test_stratified_split_holds_out_a_quarter_of_each_users_pairs() -> None:
    # user u has 4 * u pairs; a duplicate event of one pair must stay on one side
    rows = [(u, 100 * u + v, v) for u in range(1, 6) for v in range(4 * u)] + [(1, 100, 9)]
    frame = _frame(rows)
    train, test = stratified_split(frame, 0.25, seed=3)
    for user in range(1, 6):
        assert (test[c.USER_ID] == user).sum() == user  # 25 % of 4u pairs
    assert not _pairs(train) & _pairs(test)
    assert len(train) + len(test) == len(frame)
    again = stratified_split(frame, 0.25, seed=3)[1]
    assert _pairs(again) == _pairs(test)
    assert _pairs(stratified_split(frame, 0.25, seed=4)[1]) != _pairs(test)


def test_stratified_split_keeps_single_pair_users_in_train() -> None:
    frame = _frame([(1, 1, 0), (2, 1, 0), (2, 2, 1), (2, 3, 2), (2, 4, 3)])
    train, test = stratified_split(frame, 0.25)
    assert 1 in set(train[c.USER_ID]) and 1 not in set(test[c.USER_ID])
    assert len(test) == 1


def test_random_split_takes_the_fraction_of_pairs() -> None:
    frame = _frame([(u, v, 0) for u in range(20) for v in range(50)])
    train, test = random_split(frame, 0.2, seed=1)
    assert 0.15 < len(test) / len(frame) < 0.25
    assert not _pairs(train) & _pairs(test)


def test_named_protocols_and_validation_split_never_touch_the_test_side() -> None:
    frame = _frame([(u, 100 * u + v, v) for u in range(1, 30) for v in range(10)])
    for protocol in ("stratified_75_25", "random_80_20", "temporal", "leave_last_1"):
        train, test = split(frame, protocol)
        inner, valid = validation_split(train, protocol)
        assert _pairs(inner) | _pairs(valid) <= _pairs(train)
        assert not (_pairs(inner) | _pairs(valid)) & _pairs(test)
        assert len(inner) + len(valid) == len(train)
    with pytest.raises(ValueError, match="unknown split protocol 'kfold'"):
        split(frame, "kfold")
    with pytest.raises(ValueError, match="test_fraction must be between 0 and 1"):
        stratified_split(frame, 0.0)
    with pytest.raises(DatasetError, match="the event log is empty"):
        random_split(_frame([]))
