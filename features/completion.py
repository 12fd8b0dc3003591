"""The video completion rate, defined once: the feature tables and training both use it.

Definition: ``complete`` events over ``play`` events of a video, clipped to ``[0, 1]``, and
undefined (NaN) for a video without plays. The clip matters: a video can have more
completions than counted plays when some play events are missing from the log (a client that
reports the end of a watch but dropped its start), and a rate above 1 would mean nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core import columns as c
from core.types import EventType

if TYPE_CHECKING:
    import pandas as pd


def completion_rate(completes: pd.Series, plays: pd.Series) -> pd.Series:
    """``completes / plays`` clipped to ``[0, 1]``, as float64; NaN where ``plays`` is 0."""
    den = plays.astype("float64")
    rate = completes.astype("float64") / den.where(den != 0)
    return rate.clip(lower=0.0, upper=1.0).astype("float64")


def completion_rates(events: pd.DataFrame) -> dict[int, float]:
    """``video_id -> completion_rate`` over an event frame, for the videos with plays.

    Empty when the log has no ``play`` events (e.g. a ratings dataset).
    """
    types = events[c.EVENT_TYPE].astype(str)
    plays = events.loc[types == EventType.PLAY, c.VIDEO_ID].value_counts()
    if plays.empty:
        return {}
    completes = events.loc[types == EventType.COMPLETE, c.VIDEO_ID].value_counts()
    rates = completion_rate(completes.reindex(plays.index, fill_value=0), plays)
    return {int(video): float(rate) for video, rate in rates.items()}
