"""The interaction matrix built from event-log frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import columns as c
from core.errors import DatasetError
from core.eventlog import conform
from models.errors import ModelFormatError
from models.interactions import Interactions

START = pd.Timestamp("2024-03-01", tz="UTC")


def _events(rows: list[tuple[int, int, str, float | None, int]]) -> pd.DataFrame:
    """A conformed event log from ``(user, video, type, value, hour offset)`` rows."""
    return conform(
        pd.DataFrame(
            {
                c.USER_ID: [r[0] for r in rows],
                c.VIDEO_ID: [r[1] for r in rows],
                c.EVENT_TYPE: [r[2] for r in rows],
                c.VALUE: [np.nan if r[3] is None else r[3] for r in rows],
                c.WATCH_SECONDS: np.nan,
                c.EVENT_TIMESTAMP: [START + pd.Timedelta(hours=r[4]) for r in rows],
            }
        )
    )


EVENTS = _events(
    [
        (7, 100, "play", None, 0),
        (7, 100, "complete", None, 1),
        (7, 300, "rate", 4.5, 2),
        (7, 300, "rate", 2.0, 3),
        (3, 100, "like", None, 5),
        (3, 200, "impression", None, 6),
        (3, 200, "click", None, 7),
        (9, 200, "impression", None, 8),
    ]
)


def test_count_weights_only_positive_event_types() -> None:
    inter = Interactions.from_events(EVENTS)
    assert inter.user_ids.tolist() == [3, 7]  # user 9 only had an impression
    assert inter.item_ids.tolist() == [100, 300]  # item 200 was never a positive
    assert inter.matrix.dtype == np.float32
    assert inter.matrix.toarray().tolist() == [[1.0, 0.0], [2.0, 2.0]]


def test_value_and_binary_weights() -> None:
    value = Interactions.from_events(EVENTS, weight="value").matrix.toarray()
    assert value.tolist() == [[1.0, 0.0], [1.0, 4.5]]
    binary = Interactions.from_events(EVENTS, weight="binary").matrix.toarray()
    assert binary.tolist() == [[1.0, 0.0], [1.0, 1.0]]


def test_custom_positive_types() -> None:
    inter = Interactions.from_events(EVENTS, positive_types={"click"})
    assert inter.user_ids.tolist() == [3]
    assert inter.item_ids.tolist() == [200]


def test_last_seen_is_aligned_with_the_matrix() -> None:
    inter = Interactions.from_events(EVENTS)
    row = int(inter.user_index(np.array([7]))[0])
    start, end = inter.matrix.indptr[row], inter.matrix.indptr[row + 1]
    stamps = pd.to_datetime(inter.last_seen[start:end], unit="s", utc=True)
    expected = [START + pd.Timedelta(hours=1), START + pd.Timedelta(hours=3)]
    assert list(stamps) == expected


def test_lookups_and_seen_items() -> None:
    inter = Interactions.from_events(EVENTS)
    assert inter.user_index(np.array([7, 5, 3])).tolist() == [1, -1, 0]
    assert inter.item_index(np.array([300, 200])).tolist() == [1, -1]
    assert inter.seen_items(np.array([7, 42])) == [{100, 300}, set()]


def test_save_load_round_trip(tmp_path: Path) -> None:
    inter = Interactions.from_events(EVENTS)
    inter.save(tmp_path / "m")
    loaded = Interactions.load(tmp_path / "m")
    assert (loaded.matrix != inter.matrix).nnz == 0
    assert np.array_equal(loaded.user_ids, inter.user_ids)
    assert np.array_equal(loaded.item_ids, inter.item_ids)
    assert np.array_equal(loaded.last_seen, inter.last_seen)
    with pytest.raises(ModelFormatError, match="not a saved interaction matrix"):
        Interactions.load(tmp_path / "missing")


def test_bad_frames_are_explained() -> None:
    with pytest.raises(DatasetError, match="the event log is empty"):
        Interactions.from_events(EVENTS.iloc[:0])
    with pytest.raises(DatasetError, match="none of the 1 events is a positive interaction"):
        Interactions.from_events(EVENTS.iloc[[5]])
    with pytest.raises(DatasetError, match="lack required columns: video_id"):
        Interactions.from_events(EVENTS.drop(columns=[c.VIDEO_ID]))
    with pytest.raises(ValueError, match="weight must be 'count', 'value' or 'binary'"):
        Interactions.from_events(EVENTS, weight="sum")  # type: ignore[arg-type]
