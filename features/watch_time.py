"""Watch time from players' reports: the one rule every consumer of the event log follows.

A ``play``, ``progress`` or ``complete`` event's ``watch_seconds`` is the cumulative watch time
of its playback session so far (``docs/analytics.md``), so a lost or repeated heartbeat changes
nothing. A session is the events of one user and one video with one ``session_id``; events
without one are grouped by user, video and UTC day. A session's watch time is the largest
report; an event adds the rise of its session's running maximum, so running sums of
``watch_increments`` are watch time at every moment, and windows of them are exact.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core import columns as c
from core.types import EventType

if TYPE_CHECKING:
    import pandas as pd

#: Event types whose ``watch_seconds`` report a session's cumulative watch time.
WATCH_EVENTS = (EventType.PLAY, EventType.PROGRESS, EventType.COMPLETE)


def watch_increments(events: pd.DataFrame) -> pd.Series:
    """Seconds each event adds to its session's watch time (0 for other event types and for
    missing or negative reports), aligned with ``events``' index."""
    import pandas as pd

    watched = events[c.EVENT_TYPE].isin(list(WATCH_EVENTS))
    report = pd.to_numeric(events[c.WATCH_SECONDS], errors="coerce").where(watched)
    report = report.fillna(0.0).clip(lower=0.0)
    day = events[c.EVENT_TIMESTAMP].dt.floor("D").astype("int64").astype(str)
    session = events[c.SESSION_ID].astype(object).where(events[c.SESSION_ID].notna(), "day:" + day)
    keys = pd.DataFrame(
        {"user": events[c.USER_ID], "video": events[c.VIDEO_ID], "session": session},
        index=events.index,
    )
    order = events[c.EVENT_TIMESTAMP].sort_values(kind="stable").index
    ordered = keys.loc[order]
    running = (
        report.loc[order].groupby([ordered["user"], ordered["video"], ordered["session"]]).cummax()
    )
    before = running.groupby([ordered["user"], ordered["video"], ordered["session"]]).shift(1)
    return (running - before.fillna(0.0)).reindex(events.index)
