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


#: Named evaluation protocols accepted by ``split``.
Protocol = Literal["stratified_75_25", "random_80_20", "temporal", "leave_last_1"]
PROTOCOLS: tuple[str, ...] = ("stratified_75_25", "random_80_20", "temporal", "leave_last_1")


def _pair_keys(frame: pd.DataFrame, seed: int) -> np.ndarray:
    """One seeded uniform number per event, equal for all events of a (user, video) pair."""
    import pandas as pd

    pairs = pd.MultiIndex.from_arrays([frame[c.USER_ID], frame[c.VIDEO_ID]])
    codes, uniques = pd.factorize(pairs)
    return np.random.default_rng(seed).random(len(uniques))[codes]


def _sides(frame: pd.DataFrame, is_test: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    train, test = frame[~is_test], frame[is_test]
    if train.empty or test.empty:
        side = "training" if train.empty else "test"
        raise DatasetError(f"the {side} side of the split is empty: the event log is too small")
    return train.reset_index(drop=True), test.reset_index(drop=True)


def _check_fraction(test_fraction: float) -> None:
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1 (exclusive), not {test_fraction}")


def stratified_split(
    frame: pd.DataFrame, test_fraction: float = 0.25, seed: int = 42
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per user, a seeded random ``test_fraction`` of the user's (user, video) pairs is test.

    The protocol of Microsoft Recommenders' MovieLens table (75/25 by default): every user with
    at least two pairs keeps ``round((1 - test_fraction) * pairs)`` (at least one) in train;
    users with a single pair stay in train. All events of a pair fall on the same side.
    """
    import pandas as pd

    _check_fraction(test_fraction)
    _check_frame(frame, (c.USER_ID, c.VIDEO_ID))
    keys = _pair_keys(frame, seed)
    work = pd.DataFrame({"u": frame[c.USER_ID].to_numpy(), "v": frame[c.VIDEO_ID].to_numpy()})
    work["key"] = keys
    pairs = work.drop_duplicates(["u", "v"])
    order = pairs.groupby("u")["key"].rank(method="first").to_numpy()
    sizes = pairs.groupby("u")["u"].transform("size").to_numpy()
    keep = np.maximum(np.floor((1 - test_fraction) * sizes + 0.5), 1)
    pairs = pairs.assign(test=order > keep)
    test_pairs = pd.MultiIndex.from_frame(pairs.loc[pairs["test"], ["u", "v"]])
    is_test = pd.MultiIndex.from_frame(work[["u", "v"]]).isin(test_pairs)
    return _sides(frame, np.asarray(is_test))


def random_split(
    frame: pd.DataFrame, test_fraction: float = 0.2, seed: int = 42
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A seeded random ``test_fraction`` of all (user, video) pairs is test, whoever the user."""
    _check_fraction(test_fraction)
    _check_frame(frame, (c.USER_ID, c.VIDEO_ID))
    return _sides(frame, _pair_keys(frame, seed) < test_fraction)


def split(frame: pd.DataFrame, protocol: str, seed: int = 42) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train and test frames under a named protocol (see ``PROTOCOLS``)."""
    if protocol == "stratified_75_25":
        return stratified_split(frame, 0.25, seed)
    if protocol == "random_80_20":
        return random_split(frame, 0.2, seed)
    if protocol == "temporal":
        return temporal_split(frame, 0.2)
    if protocol == "leave_last_1":
        return leave_last_n(frame, 1, seed)
    raise ValueError(f"unknown split protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")


def validation_split(
    train: pd.DataFrame, protocol: str, seed: int = 42, fraction: float = 0.2
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A validation split carved from ``train`` the way ``protocol`` carves the test split.

    Tuning (hyper-parameters, blend weights, the ranker) sees only these two frames, never
    the test split. The seed is offset so that validation and test pairs are drawn apart.
    """
    if protocol == "stratified_75_25":
        return stratified_split(train, fraction, seed + 1)
    if protocol == "random_80_20":
        return random_split(train, fraction, seed + 1)
    if protocol == "temporal":
        return temporal_split(train, fraction, by="events")
    if protocol == "leave_last_1":
        return leave_last_n(train, 1, seed + 1)
    raise ValueError(f"unknown split protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
