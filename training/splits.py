"""Train/test splits of an event-log frame that never let the future leak into training."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np

from core import columns as c
from core.errors import DatasetError

if TYPE_CHECKING:
    import pandas as pd


def _check_frame(frame: pd.DataFrame, needed: tuple[str, ...]) -> None:
    """``DatasetError`` if ``frame`` is empty or lacks a ``needed`` column."""
    missing = [col for col in needed if col not in frame.columns]
    if missing:
        raise DatasetError(f"events lack required columns: {', '.join(missing)}")
    if frame.empty:
        raise DatasetError("the event log is empty: there is nothing to split")


def temporal_split(
    frame: pd.DataFrame, test_fraction: float = 0.2, by: Literal["time", "events"] = "time"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One global cut: events at or after the cut time are test, the rest train.

    ``by="time"``: the cut is ``test_fraction`` of the time span before the newest event;
    ``by="events"``: the cut is the timestamp quantile that leaves ~``test_fraction`` of events.
    """
    import pandas as pd

    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1 (exclusive), not {test_fraction}")
    if by not in ("time", "events"):
        raise ValueError(f"by must be 'time' or 'events', not {by!r}")
    _check_frame(frame, (c.EVENT_TIMESTAMP,))
    stamps = pd.to_datetime(frame[c.EVENT_TIMESTAMP], utc=True)
    first, last = stamps.min(), stamps.max()
    if first == last:
        raise DatasetError(f"every event has the same timestamp ({first}): no time to split")
    if by == "time":
        cut = last - (last - first) * test_fraction
    else:
        cut = stamps.quantile(1 - test_fraction, interpolation="higher")
    is_test = (stamps >= cut).to_numpy()
    train, test = frame[~is_test], frame[is_test]
    if train.empty or test.empty:
        side = "training" if train.empty else "test"
        raise DatasetError(
            f"the {side} side of the split at {cut} is empty: use another test_fraction"
        )
    return train.reset_index(drop=True), test.reset_index(drop=True)


def leave_last_n(
    frame: pd.DataFrame, n: int = 1, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each user's newest ``n`` events are test; users with ``n`` or fewer events stay in train.

    Events with equal timestamps are ordered by a ``seed``-ed shuffle, so the split repeats.
    """
    if n <= 0:
        raise ValueError(f"n must be a positive number of events per user, not {n}")
    _check_frame(frame, (c.USER_ID, c.EVENT_TIMESTAMP))
    rng = np.random.default_rng(seed)
    shuffled = frame.iloc[rng.permutation(len(frame))]
    ordered = shuffled.sort_values([c.USER_ID, c.EVENT_TIMESTAMP], kind="stable")
    from_end = ordered.groupby(c.USER_ID, sort=False).cumcount(ascending=False).to_numpy()
    sizes = ordered.groupby(c.USER_ID, sort=False)[c.USER_ID].transform("size").to_numpy()
    is_test = (from_end < n) & (sizes > n)
    if not is_test.any():
        raise DatasetError(f"no user has more than {n} events: nothing to hold out")
    train = ordered[~is_test].sort_index()
    test = ordered[is_test].sort_index()
    return train.reset_index(drop=True), test.reset_index(drop=True)
