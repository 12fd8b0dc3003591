"""The video completion rate, defined once: the feature tables and training both use it.

Definition: ``complete`` events over ``play`` events of a video, clipped to ``[0, 1]``, and
undefined (NaN) for a video without plays. The clip matters: a video can have more
completions than counted plays when some play events are missing from the log (a client that
reports the end of a watch but dropped its start), and a rate above 1 would mean nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


def completion_rate(completes: pd.Series, plays: pd.Series) -> pd.Series:
    """``completes / plays`` clipped to ``[0, 1]``, as float64; NaN where ``plays`` is 0."""
    den = plays.astype("float64")
    rate = completes.astype("float64") / den.where(den != 0)
    return rate.clip(lower=0.0, upper=1.0).astype("float64")
