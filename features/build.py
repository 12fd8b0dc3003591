"""Feature tables for Feast, computed with pandas from the parquet event log.

Each table holds snapshots: a row ``(entity, event_timestamp=T)`` summarises every event of
that entity at or before ``T``. Rows are written at the end of each day the entity was active
(midnight UTC after it), at ``as_of`` for every entity, and for users also 7 days after each
active day so ``user_events_7d`` decays. Feast serves the latest row per entity, and
point-in-time joins read the row valid at a label's time (exact to the day).

Definitions (``watch_seconds`` is the seconds watched that one event reports):

* ``user_events_7d``: events in ``(T - 7 days, T]``; ``user_events_total``: events ever.
* ``user_plays``: ``play`` events; ``user_watch_seconds``: sum of ``watch_seconds``.
* ``user_distinct_videos``: videos with any event; ``user_last_active``: latest event time.
* ``*_mean_rating``: mean ``value`` of ``rate`` events (NaN when none).
* ``video_ctr``: clicks / impressions; ``video_mean_watch_seconds``: watch seconds / plays
  (NaN when the denominator is 0).
* ``video_completion_rate``: ``features.completion.completion_rate`` (completes / plays,
  clipped to [0, 1]; NaN without plays), the same definition training uses.
* ``video_popularity_rank``: 1 + the number of videos (with any event at or before ``T``)
  that have more plays at ``T``; ties share a rank.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING

from core import columns as c
from core.errors import DatasetError
from core.eventlog import read_events
from core.types import EventType
from features import schema as s
from features.completion import completion_rate

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class FeatureTables:
    """The written feature tables and what they cover."""

    user_stats: Path
    video_stats: Path
    as_of: datetime
    first_timestamp: datetime
    users: int
    videos: int
    user_rows: int
    video_rows: int


def build_feature_tables(
    events_path: Path, out_dir: Path, as_of: datetime | None = None
) -> FeatureTables:
    """Compute ``user_stats`` and ``video_stats`` from the event log into ``out_dir``.

    ``as_of`` (default: the latest event; naive means UTC) drops later events and adds a
    final snapshot row per entity at ``as_of``. Raises DatasetError for a missing,
    unreadable or empty log.
    """
    events = load_events(events_path)
    cutoff = _as_of(events, as_of)
    events = events[events[c.EVENT_TIMESTAMP] <= cutoff]
    if events.empty:
        raise DatasetError(f"event log {events_path} has no events at or before {cutoff}")
    created = datetime.now(UTC)
    users = user_stats_frame(events, cutoff, created)
    videos = video_stats_frame(events, cutoff, created)
    out_dir.mkdir(parents=True, exist_ok=True)
    user_path = _write_parquet(users, out_dir / Path(s.USER_STATS_FILE).name)
    video_path = _write_parquet(videos, out_dir / Path(s.VIDEO_STATS_FILE).name)
    first = min(users[c.EVENT_TIMESTAMP].min(), videos[c.EVENT_TIMESTAMP].min())
    return FeatureTables(
        user_stats=user_path,
        video_stats=video_path,
        as_of=cutoff,
        first_timestamp=first.to_pydatetime(),
        users=int(users[c.USER_ID].nunique()),
        videos=int(videos[c.VIDEO_ID].nunique()),
        user_rows=len(users),
        video_rows=len(videos),
    )


def load_events(events_path: Path) -> pd.DataFrame:
    """The event log, checked: exists, readable, non-empty, only known event types."""
    try:
        events = read_events(events_path)
    except FileNotFoundError as exc:
        raise DatasetError(str(exc)) from exc
    except (OSError, ValueError, TypeError) as exc:
        raise DatasetError(f"cannot read event log {events_path}: {exc}") from exc
    if events.empty:
        raise DatasetError(f"event log {events_path} is empty: import or synthesise data first")
    known = {t.value for t in EventType}
    unknown = sorted(set(events[c.EVENT_TYPE].dropna().unique()) - known)
    if unknown or events[c.EVENT_TYPE].isna().any():
        shown = ", ".join(unknown) if unknown else "<missing>"
        raise DatasetError(
            f"event log {events_path} has unknown event types: {shown} "
            f"(known: {', '.join(sorted(known))})"
        )
    return events


def user_stats_frame(events: pd.DataFrame, as_of: datetime, created: datetime) -> pd.DataFrame:
    """Snapshot rows of ``user_stats`` for conformed ``events`` (all at or before ``as_of``)."""
    import pandas as pd

    ev = _sorted(events, c.USER_ID)
    is_rate = (ev[c.EVENT_TYPE] == EventType.RATE) & ev[c.VALUE].notna()
    first_touch = ~ev.duplicated([c.USER_ID, c.VIDEO_ID])
    parts = pd.DataFrame(
        {
            c.USER_ID: ev[c.USER_ID],
            c.EVENT_TIMESTAMP: ev[c.EVENT_TIMESTAMP],
            "n": 1,
            "plays": (ev[c.EVENT_TYPE] == EventType.PLAY).astype("int64"),
            "watch": ev[c.WATCH_SECONDS].fillna(0.0),
            "distinct": first_touch.astype("int64"),
            "rating_sum": ev[c.VALUE].where(is_rate, 0.0),
            "rating_n": is_rate.astype("int64"),
        }
    )
    cum = _cumulative(parts, c.USER_ID)
    cum["last_active"] = cum[c.EVENT_TIMESTAMP]
    day_ends = _day_ends(ev, c.USER_ID)
    decays = day_ends.assign(T=day_ends["T"] + timedelta(days=s.WINDOW_DAYS))
    snaps = _snapshot_times([day_ends, decays], ev, c.USER_ID, as_of)
    now = _asof(snaps, cum, c.USER_ID, "T")
    window_start = snaps.assign(T=snaps["T"] - timedelta(days=s.WINDOW_DAYS))
    before = _asof(window_start, cum[[c.USER_ID, c.EVENT_TIMESTAMP, "n"]], c.USER_ID, "T")
    out = pd.DataFrame(
        {
            c.USER_ID: now[c.USER_ID].astype("int64"),
            c.EVENT_TIMESTAMP: now["T"],
            c.CREATED: pd.Timestamp(created),
            s.USER_EVENTS_7D: (now["n"] - before["n"].fillna(0)).astype("int64"),
            s.USER_EVENTS_TOTAL: now["n"].astype("int64"),
            s.USER_PLAYS: now["plays"].astype("int64"),
            s.USER_WATCH_SECONDS: now["watch"].astype("float64"),
            s.USER_DISTINCT_VIDEOS: now["distinct"].astype("int64"),
            s.USER_MEAN_RATING: _ratio(now["rating_sum"], now["rating_n"]),
            s.USER_LAST_ACTIVE: now["last_active"],
        }
    )
    return _finish(out, c.USER_ID)


def video_stats_frame(events: pd.DataFrame, as_of: datetime, created: datetime) -> pd.DataFrame:
    """Snapshot rows of ``video_stats`` for conformed ``events`` (all at or before ``as_of``)."""
    import pandas as pd

    ev = _sorted(events, c.VIDEO_ID)
    kind = ev[c.EVENT_TYPE]
    is_rate = (kind == EventType.RATE) & ev[c.VALUE].notna()
    parts = pd.DataFrame(
        {
            c.VIDEO_ID: ev[c.VIDEO_ID],
            c.EVENT_TIMESTAMP: ev[c.EVENT_TIMESTAMP],
            "plays": (kind == EventType.PLAY).astype("int64"),
            "impressions": (kind == EventType.IMPRESSION).astype("int64"),
            "clicks": (kind == EventType.CLICK).astype("int64"),
            "completes": (kind == EventType.COMPLETE).astype("int64"),
            "likes": (kind == EventType.LIKE).astype("int64"),
            "watch": ev[c.WATCH_SECONDS].fillna(0.0),
            "rating_sum": ev[c.VALUE].where(is_rate, 0.0),
            "rating_n": is_rate.astype("int64"),
        }
    )
    cum = _cumulative(parts, c.VIDEO_ID)
    snaps = _snapshot_times([_day_ends(ev, c.VIDEO_ID)], ev, c.VIDEO_ID, as_of)
    now = _asof(snaps, cum, c.VIDEO_ID, "T")
    plays = now["plays"].astype("int64")
    out = pd.DataFrame(
        {
            c.VIDEO_ID: now[c.VIDEO_ID].astype("int64"),
            c.EVENT_TIMESTAMP: now["T"],
            c.CREATED: pd.Timestamp(created),
            s.VIDEO_PLAYS: plays,
            s.VIDEO_IMPRESSIONS: now["impressions"].astype("int64"),
            s.VIDEO_CLICKS: now["clicks"].astype("int64"),
            s.VIDEO_CTR: _ratio(now["clicks"], now["impressions"]),
            s.VIDEO_COMPLETION_RATE: completion_rate(now["completes"], plays),
            s.VIDEO_MEAN_WATCH_SECONDS: _ratio(now["watch"], plays),
            s.VIDEO_LIKES: now["likes"].astype("int64"),
            s.VIDEO_MEAN_RATING: _ratio(now["rating_sum"], now["rating_n"]),
        }
    )
    out[s.VIDEO_POPULARITY_RANK] = popularity_ranks(out[c.VIDEO_ID], out[c.EVENT_TIMESTAMP], plays)
    return _finish(out, c.VIDEO_ID)


def popularity_ranks(video_ids: pd.Series, times: pd.Series, plays: pd.Series) -> pd.Series:
    """Competition rank by plays among all videos seen so far, for each snapshot row.

    Rows are ``(video, T, plays at T)``; a video's plays only change at its own rows, so
    sweeping the rows in time order keeps every video's current play count exact.
    """
    import numpy as np
    import pandas as pd

    stamps = times.astype("int64").to_numpy()
    order = np.lexsort((video_ids.to_numpy(), stamps))
    vid_codes, _ = pd.factorize(video_ids.to_numpy()[order])
    levels, level_of = np.unique(plays.to_numpy()[order], return_inverse=True)
    t = stamps[order]
    current = np.full(vid_codes.max() + 1, -1, dtype=np.int64)
    counts = np.zeros(len(levels), dtype=np.int64)
    ranks = np.empty(len(order), dtype=np.int64)
    bounds = np.flatnonzero(np.r_[True, t[1:] != t[:-1], True])
    for start, stop in pairwise(bounds):
        vids, new = vid_codes[start:stop], level_of[start:stop]
        old = current[vids]
        np.subtract.at(counts, old[old >= 0], 1)
        np.add.at(counts, new, 1)
        current[vids] = new
        more = counts.sum() - np.cumsum(counts)  # videos with a higher level than each level
        ranks[start:stop] = 1 + more[new]
    result = np.empty_like(ranks)
    result[order] = ranks
    return pd.Series(result, index=video_ids.index, dtype="int64")


def _as_of(events: pd.DataFrame, as_of: datetime | None) -> datetime:
    """``as_of`` as an aware UTC datetime, defaulting to the latest event time."""
    if as_of is None:
        return events[c.EVENT_TIMESTAMP].max().to_pydatetime()
    if as_of.tzinfo is None:
        return as_of.replace(tzinfo=UTC)
    return as_of.astimezone(UTC)


def _sorted(events: pd.DataFrame, key: str) -> pd.DataFrame:
    """Events ordered by ``key`` then time, stable for equal timestamps."""
    return events.sort_values([key, c.EVENT_TIMESTAMP], kind="stable").reset_index(drop=True)


def _cumulative(parts: pd.DataFrame, key: str) -> pd.DataFrame:
    """Running totals per entity, one row per (entity, timestamp), sorted by timestamp."""
    values = [col for col in parts.columns if col not in (key, c.EVENT_TIMESTAMP)]
    cum = parts[[key, c.EVENT_TIMESTAMP]].copy()
    cum[values] = parts.groupby(key, sort=False)[values].cumsum()
    cum = cum.drop_duplicates([key, c.EVENT_TIMESTAMP], keep="last")
    return cum.sort_values(c.EVENT_TIMESTAMP, kind="stable").reset_index(drop=True)


def _day_ends(events: pd.DataFrame, key: str) -> pd.DataFrame:
    """``(entity, T)`` for the midnight (UTC) after each day the entity had an event."""
    import pandas as pd

    ends = events[c.EVENT_TIMESTAMP].dt.floor("D") + pd.Timedelta(days=1)
    return pd.DataFrame({key: events[key], "T": ends}).drop_duplicates()


def _snapshot_times(
    candidates: list[pd.DataFrame], events: pd.DataFrame, key: str, as_of: datetime
) -> pd.DataFrame:
    """Unique ``(entity, T)`` snapshot times up to ``as_of``, plus ``as_of`` for each entity."""
    import pandas as pd

    final = pd.DataFrame({key: events[key].unique()})
    final["T"] = pd.Timestamp(as_of).as_unit("us")
    frames = [frame.assign(T=frame["T"].dt.as_unit("us")) for frame in candidates]
    snaps = pd.concat([*frames, final], ignore_index=True)
    snaps = snaps[snaps["T"] <= final["T"].iloc[0]].drop_duplicates()
    return snaps.sort_values("T", kind="stable").reset_index(drop=True)


def _asof(snaps: pd.DataFrame, cum: pd.DataFrame, key: str, on: str) -> pd.DataFrame:
    """For each snapshot, the entity's running totals over events at or before ``on``."""
    import pandas as pd

    right = cum.assign(**{c.EVENT_TIMESTAMP: cum[c.EVENT_TIMESTAMP].dt.as_unit("us")})
    return pd.merge_asof(
        snaps.sort_values(on, kind="stable"),
        right,
        left_on=on,
        right_on=c.EVENT_TIMESTAMP,
        by=key,
        direction="backward",
        allow_exact_matches=True,
    ).reset_index(drop=True)


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """``numerator / denominator`` as float64, NaN where the denominator is 0."""
    den = denominator.astype("float64")
    return (numerator.astype("float64") / den.where(den != 0)).astype("float64")


def _finish(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """Rows sorted by entity and time, timestamps as microsecond UTC."""
    for col in (c.EVENT_TIMESTAMP, c.CREATED):
        frame[col] = frame[col].dt.as_unit("us")
    frame = frame.sort_values([key, c.EVENT_TIMESTAMP], kind="stable")
    return frame.reset_index(drop=True)


def _write_parquet(frame: pd.DataFrame, path: Path) -> Path:
    """Write ``frame`` to ``path`` atomically; return the path."""
    tmp = path.with_suffix(".parquet.tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)
    return path
