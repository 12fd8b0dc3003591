"""Hand-written event-log rows for tests that compute expected values by hand."""

from __future__ import annotations

from core import columns as c


def event_row(
    user: int,
    video: int,
    kind: str,
    at: str,
    value: float | None = None,
    watch: float | None = None,
) -> dict[str, object]:
    """One event of the log, as a row for ``pandas.DataFrame``."""
    return {
        c.USER_ID: user,
        c.VIDEO_ID: video,
        c.EVENT_TYPE: kind,
        c.EVENT_TIMESTAMP: at,
        c.VALUE: value,
        c.WATCH_SECONDS: watch,
    }
