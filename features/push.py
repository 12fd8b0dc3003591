"""Fresh user features without a materialization: push recomputed activity rows online.

When events arrive, each affected user's ``user_activity`` row is recomputed from that
user's history plus the new events, by the same function the table build uses
(``features.build.user_activity_frame``), and written through the Feast push source
``user_activity_push`` to the online store only. The offline table catches up at the next
build; the stamp tells online clients that something landed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from core import columns as c
from core.eventlog import conform
from features import schema as s
from features.build import user_activity_frame, validate_events
from features.stamp import write_stamp
from features.store import open_store

if TYPE_CHECKING:
    import pandas as pd
    from feast import FeatureStore


@dataclass(frozen=True)
class PushReport:
    """What a push wrote."""

    users: int
    events: int
    as_of: datetime


def user_history(events_path: Path | None, user_ids: list[int]) -> pd.DataFrame:
    """Every logged event of ``user_ids`` (empty when there is no log yet)."""
    import pandas as pd

    if events_path is None or not events_path.exists():
        return conform(
            pd.DataFrame(columns=[c.USER_ID, c.VIDEO_ID, c.EVENT_TYPE, c.EVENT_TIMESTAMP])
        )
    frame = pd.read_parquet(events_path, filters=[(c.USER_ID, "in", user_ids)])
    return conform(frame)


def push_user_events(
    repo_dir: Path,
    new_events: pd.DataFrame,
    events_path: Path | None = None,
    store: FeatureStore | None = None,
) -> PushReport:
    """Recompute and push ``user_activity`` for every user in ``new_events``.

    ``new_events`` are validated like the log (a malformed row raises ``DatasetError`` with
    its row number, and nothing is pushed); ``events_path`` is the event log holding the
    users' earlier events. Rows are stated at the newest new event. ``store``: an open store
    of ``repo_dir`` to reuse (opening one costs more than a push).
    """
    import pandas as pd
    from feast.data_source import PushMode

    fresh = validate_events(new_events)
    if fresh.empty:
        return PushReport(0, 0, datetime.now(UTC))
    users = sorted({int(u) for u in fresh[c.USER_ID]})
    history = user_history(events_path, users)
    events = pd.concat([history, fresh], ignore_index=True)
    # an event already in the log (same event id) counts once
    events = events[events[c.EVENT_ID].isna() | ~events.duplicated(c.EVENT_ID, keep="last")]
    as_of = fresh[c.EVENT_TIMESTAMP].max().to_pydatetime()
    events = events[events[c.EVENT_TIMESTAMP] <= as_of]
    rows = user_activity_frame(events, as_of, datetime.now(UTC))
    rows = rows[rows[c.EVENT_TIMESTAMP] == as_of]  # each user's final row, stated at as_of
    store = store or open_store(repo_dir)
    store.push(s.USER_ACTIVITY_PUSH, rows.reset_index(drop=True), to=PushMode.ONLINE)
    write_stamp(repo_dir, "push", rows=len(rows))
    return PushReport(users=len(users), events=len(fresh), as_of=as_of)
