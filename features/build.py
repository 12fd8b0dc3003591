"""The four Feast feature tables, computed with pandas from the event log and the catalogue.

Each event table holds snapshots: a row ``(entity, event_timestamp=T)`` summarises every event
of that entity at or before ``T``. Rows are written at the midnight (UTC) after each day the
entity had an event, at ``as_of`` for every entity, and for the windowed views also ``w`` days
after each such midnight (``w`` in ``schema.WINDOWS``) so the window counts decay to their
next value. Point-in-time joins read the row valid at a label's time (exact to the day); Feast
serves the latest row per entity. ``created`` is the build time.

Definitions (``T`` is the row's time; a ``w``-day window is ``(T - w days, T]``):

* ``user_activity``: ``user_events_{w}d`` / ``user_plays_{w}d`` / ``user_completes_{w}d``:
  events / ``play`` / ``complete`` events in the window; ``user_watch_minutes_{w}d``: watch
  time added in the window (``features.watch_time``: sessions' cumulative reports) / 60;
  ``user_events_total``: events ever;
  ``user_active_days_30d``: distinct UTC days with an event in the 30-day window;
  ``user_sessions_30d``: distinct non-null session ids in it; ``user_completion_rate``:
  ``features.completion.completion_rate`` over completes and plays ever;
  ``user_preferred_hour``: UTC hour with most events ever (ties: earliest hour);
  ``user_mean_rating``: mean ``value`` of ``rate`` events (NaN: none); ``user_last_active``.
* ``user_taste`` (an engaged video: one with any event of the user but an impression; each
  counts once, from its first such event): each engaged video's genres share weight 1 equally;
  ``user_genres`` by normalised weight descending (ties: name), ``user_genre_weights`` aligned
  and summing to 1; ``user_language``: most frequent non-empty language of the engaged videos
  (ties: alphabetical; "" none); ``user_mean_video_minutes``: their mean known duration / 60.
* ``video_popularity``: ``video_impressions_{w}d`` / ``video_plays_{w}d``: events in the
  window; ``video_viewers_{w}d``: distinct users with a non-impression event in it;
  ``video_events_total`` / ``video_viewers_total``: the same ever; ``video_ctr``: clicks /
  impressions; ``video_completion_rate`` as for users; ``video_like_ratio``: likes / viewers;
  ``video_mean_rating``; ``video_trending_mass``: sum over non-impression events ``t <= T`` of
  ``2 ** -((T - t) / TRENDING_HALF_LIFE_DAYS days)``, stated at ``video_trending_at = T``.
  Ratios are NaN where the denominator is 0.
* ``video_content`` (catalogue only): one row per video at its ``published_at`` (fallback
  ``created_at``, then ``as_of``), for videos published at or before ``as_of``; duration
  (NaN unknown), language ("" unknown), genres, ``video_published_at`` (fallback
  ``created_at``) and ``video_embedding_ref``: ``"<embedding file name>#<video_id>"`` for
  videos with a vector in the embeddings parquet, else "".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from core import columns as c
from core.errors import DatasetError
from core.eventlog import conform
from core.types import EventType
from features import schema as s
from features.completion import completion_rate
from features.videos import conform_videos
from features.watch_time import watch_increments

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

#: Time-axis segment (in half-lives) within which trending sums are taken without overflow.
_TRENDING_SEGMENT = 512.0
#: Malformed rows named in a DatasetError.
_SHOWN_ROWS = 5


@dataclass(frozen=True)
class FeatureTables:
    """The written feature tables and what they cover."""

    paths: dict[str, Path]  # view -> parquet file
    rows: dict[str, int]  # view -> rows written
    as_of: datetime
    first_timestamp: datetime  # earliest event_timestamp over all tables
    users: int  # users with a user_activity row
    videos: int  # videos with a video_popularity or video_content row


def build_feature_tables(
    events_path: Path,
    videos: pd.DataFrame,
    out_dir: Path,
    as_of: datetime | None = None,
    embedding_file: Path | None = None,
) -> FeatureTables:
    """Read and validate the event log at ``events_path``, then ``build_tables`` from it."""
    events = load_events(events_path)
    return _build(events, videos, out_dir, as_of, embedding_file, f"event log {events_path}")


def build_tables(
    events: pd.DataFrame,
    videos: pd.DataFrame,
    out_dir: Path,
    as_of: datetime | None = None,
    embedding_file: Path | None = None,
) -> FeatureTables:
    """Compute the four views from ``events`` and the ``videos`` frame into ``out_dir``.

    ``as_of`` (default: the latest event; naive means UTC) drops later events and adds a final
    row per entity. ``embedding_file`` (optional) is the embeddings parquet whose ``video_id``
    column decides which videos get an embedding ref. Every table is computed and written to a
    temporary file before any is renamed into place, so a failure leaves the previous tables.
    Raises DatasetError for malformed events or videos, or no events at or before ``as_of``.
    """
    return _build(validate_events(events), videos, out_dir, as_of, embedding_file, "event frame")


def load_events(events_path: Path) -> pd.DataFrame:
    """The event log at ``events_path``, validated; DatasetError if missing, unreadable or empty."""
    import pandas as pd

    if not events_path.exists():
        raise DatasetError(f"no event log at {events_path}: import or synthesise data first")
    try:
        raw = pd.read_parquet(events_path)
    except (OSError, ValueError, TypeError) as exc:
        raise DatasetError(f"cannot read event log {events_path}: {exc}") from exc
    if raw.empty:
        raise DatasetError(f"event log {events_path} is empty: import or synthesise data first")
    return validate_events(raw, source=f"event log {events_path}")


def validate_events(frame: pd.DataFrame, source: str = "event log") -> pd.DataFrame:
    """``frame`` conformed to the event log schema, every row checked.

    A row is malformed when its user, video, event type or timestamp is missing or
    unparseable, its event type unknown, its ``watch_seconds`` negative or non-finite, or it
    is a ``rate`` event without a finite ``value``. Raises DatasetError naming the first
    malformed rows by 0-based position and what is wrong with each.
    """
    import numpy as np

    required = (c.USER_ID, c.VIDEO_ID, c.EVENT_TYPE, c.EVENT_TIMESTAMP)
    missing = [col for col in required if col not in frame]
    if missing:
        raise DatasetError(f"{source} lacks required columns: {', '.join(missing)}")
    frame = frame.reset_index(drop=True)
    users = _integers(frame[c.USER_ID])
    videos = _integers(frame[c.VIDEO_ID])
    times = _timestamps(frame[c.EVENT_TIMESTAMP])
    kinds = frame[c.EVENT_TYPE].astype("string")
    known = {t.value for t in EventType}
    watch = _numbers(frame, c.WATCH_SECONDS)
    values = _numbers(frame, c.VALUE)
    raw_watch = frame.get(c.WATCH_SECONDS, watch)
    raw_values = frame.get(c.VALUE, values)
    finite_values = values.notna() & np.isfinite(values.fillna(0.0))
    checks: list[tuple[pd.Series, str]] = [
        (users.isna(), f"missing or non-integer {c.USER_ID}"),
        (videos.isna(), f"missing or non-integer {c.VIDEO_ID}"),
        (kinds.isna(), f"missing {c.EVENT_TYPE}"),
        (kinds.notna() & ~kinds.isin(known), f"unknown {c.EVENT_TYPE}"),
        (times.isna(), f"missing or unparseable {c.EVENT_TIMESTAMP}"),
        (
            raw_watch.notna() & ~(np.isfinite(watch.fillna(-1.0)) & (watch.fillna(-1.0) >= 0)),
            f"negative, non-finite or non-numeric {c.WATCH_SECONDS}",
        ),
        (raw_values.notna() & values.isna(), f"non-numeric {c.VALUE}"),
        (
            (kinds == EventType.RATE).fillna(False) & ~finite_values,
            f"rate without a finite {c.VALUE}",
        ),
    ]
    masks = [(mask.fillna(False).to_numpy(dtype=bool), what) for mask, what in checks]
    bad = np.logical_or.reduce([mask for mask, _ in masks])
    if bad.any():
        rows = np.flatnonzero(bad)
        kinds_shown = frame[c.EVENT_TYPE]
        shown = "; ".join(
            f"row {pos}: "
            + ", ".join(
                f"{what} {kinds_shown.iloc[pos]!r}" if what.startswith("unknown") else what
                for mask, what in masks
                if mask[pos]
            )
            for pos in rows[:_SHOWN_ROWS]
        )
        raise DatasetError(f"{source} has {len(rows)} malformed rows: {shown}")
    fixed = frame.assign(
        **{c.USER_ID: users, c.VIDEO_ID: videos, c.EVENT_TIMESTAMP: times, c.WATCH_SECONDS: watch}
    ).assign(**{c.VALUE: values})
    try:
        return conform(fixed)
    except (TypeError, ValueError) as exc:
        raise DatasetError(f"{source} has a malformed column: {exc}") from exc


# -- the four views -------------------------------------------------------------------------------


def user_activity_frame(events: pd.DataFrame, as_of: datetime, created: datetime) -> pd.DataFrame:
    """Snapshot rows of ``user_activity`` for validated ``events`` (all at or before ``as_of``)."""
    import pandas as pd

    ev = _sorted(events, c.USER_ID)
    kind = ev[c.EVENT_TYPE]
    is_rate = (kind == EventType.RATE).to_numpy(dtype=bool)
    counts = {
        "events": pd.Series(1, index=ev.index, dtype="int64"),
        "plays": (kind == EventType.PLAY).astype("int64"),
        "completes": (kind == EventType.COMPLETE).astype("int64"),
        # Whole microseconds, so window differences of running sums are exact.
        "watch_us": (watch_increments(ev) * 1e6).round().astype("int64"),
    }
    parts = pd.DataFrame(
        {
            c.USER_ID: ev[c.USER_ID],
            c.EVENT_TIMESTAMP: ev[c.EVENT_TIMESTAMP],
            **counts,
            "rating_sum": ev[c.VALUE].where(is_rate, 0.0),
            "rating_n": is_rate.astype("int64"),
            "hour": _running_mode(ev[c.USER_ID], ev[c.EVENT_TIMESTAMP].dt.hour),
        }
    )
    cum = _cumulative(parts, [c.USER_ID], [*counts, "rating_sum", "rating_n"])
    snaps = _snapshot_times(ev, c.USER_ID, as_of, (0, *s.WINDOWS))
    now = _asof(snaps, cum, [c.USER_ID])
    out = _frame(snaps, c.USER_ID, created)
    for days in s.WINDOWS:
        window = _window_sums(snaps, cum, [c.USER_ID], now, list(counts), days)
        out[f"user_events_{days}d"] = window["events"]
        out[f"user_plays_{days}d"] = window["plays"]
        out[f"user_completes_{days}d"] = window["completes"]
        out[f"user_watch_minutes_{days}d"] = window["watch_us"] / 60e6
    out[s.USER_EVENTS_TOTAL] = now["events"]
    days_of = ev[c.EVENT_TIMESTAMP].dt.floor("D").astype("int64")
    out[s.USER_ACTIVE_DAYS_30D] = _distinct_in_window(ev, days_of, c.USER_ID, snaps, 30)
    sessions = ev[ev[c.SESSION_ID].notna()]
    out[s.USER_SESSIONS_30D] = _distinct_in_window(
        sessions, sessions[c.SESSION_ID], c.USER_ID, snaps, 30
    )
    out[s.USER_COMPLETION_RATE] = completion_rate(now["completes"], now["plays"])
    out[s.USER_PREFERRED_HOUR] = now["hour"]
    out[s.USER_MEAN_RATING] = _ratio(now["rating_sum"], now["rating_n"])
    out[s.USER_LAST_ACTIVE] = now[c.EVENT_TIMESTAMP]
    return _finish(out, c.USER_ID, s.USER_ACTIVITY)


def user_taste_frame(
    events: pd.DataFrame, videos: pd.DataFrame, as_of: datetime, created: datetime
) -> pd.DataFrame:
    """Snapshot rows of ``user_taste`` from validated ``events`` and a conformed ``videos``
    frame (``features.videos``); rows at each active day's end and at ``as_of``."""
    import numpy as np
    import pandas as pd

    ev = _sorted(events, c.USER_ID)
    snaps = _snapshot_times(ev, c.USER_ID, as_of, (0,))
    engaged = ev.loc[ev[c.EVENT_TYPE] != EventType.IMPRESSION, [c.USER_ID, c.VIDEO_ID]]
    engaged = engaged.assign(**{c.EVENT_TIMESTAMP: ev[c.EVENT_TIMESTAMP]})
    engaged = engaged.drop_duplicates([c.USER_ID, c.VIDEO_ID], keep="first")
    meta = videos[[c.VIDEO_ID, "genres", "language", "duration_s"]]
    engaged = engaged.merge(meta, on=c.VIDEO_ID, how="left", sort=False)
    out = _frame(snaps, c.USER_ID, created)

    # Genres: each engaged video's genres share weight 1.
    genres = engaged["genres"].map(lambda g: g if isinstance(g, list) else [])
    sizes = genres.map(len).to_numpy()
    shares = engaged.loc[sizes > 0, [c.USER_ID, c.EVENT_TIMESTAMP]].assign(
        genre=genres[sizes > 0], weight=1.0 / sizes[sizes > 0]
    )
    shares = shares.explode("genre")
    cum = _cumulative(shares, [c.USER_ID, "genre"], ["weight"])
    pairs = shares[[c.USER_ID, "genre"]].drop_duplicates()
    grid = snaps.merge(pairs, on=c.USER_ID).sort_values("T", kind="stable")
    got = _asof(grid.reset_index(drop=True), cum, [c.USER_ID, "genre"]).dropna(subset=["weight"])
    got["weight"] = got["weight"] / got.groupby([c.USER_ID, "T"])["weight"].transform("sum")
    got["rank_key"] = -got["weight"].round(12)
    got = got.sort_values([c.USER_ID, "T", "rank_key", "genre"], kind="stable")
    lists = _lists(got, [c.USER_ID, "T"], {s.USER_GENRES: "genre", s.USER_GENRE_WEIGHTS: "weight"})
    placed = snaps.merge(lists, on=[c.USER_ID, "T"], how="left")
    for col in (s.USER_GENRES, s.USER_GENRE_WEIGHTS):
        out[col] = [v if isinstance(v, list) else [] for v in placed[col]]

    # Language: running mode of the engaged videos' known languages (ties: alphabetical).
    spoken = engaged[engaged["language"].fillna("").astype(str) != ""]
    names = np.array(sorted(set(spoken["language"])), dtype=object)
    codes = pd.Series(np.searchsorted(names, spoken["language"].to_numpy()), index=spoken.index)
    modes = spoken[[c.USER_ID, c.EVENT_TIMESTAMP]].assign(
        language=_running_mode(spoken[c.USER_ID], codes)
    )
    code_at = _asof(snaps, _cumulative(modes, [c.USER_ID], []), [c.USER_ID])["language"]
    out[s.USER_LANGUAGE] = [names[int(v)] if v == v else "" for v in code_at]

    # Mean duration of the engaged videos with a known one.
    timed = engaged[engaged["duration_s"].notna()]
    minutes = timed[[c.USER_ID, c.EVENT_TIMESTAMP]].assign(minutes=timed["duration_s"] / 60.0, n=1)
    mean_at = _asof(snaps, _cumulative(minutes, [c.USER_ID], ["minutes", "n"]), [c.USER_ID])
    out[s.USER_MEAN_VIDEO_MINUTES] = _ratio(mean_at["minutes"].fillna(0), mean_at["n"].fillna(0))
    return _finish(out, c.USER_ID, s.USER_TASTE)


def video_popularity_frame(
    events: pd.DataFrame, as_of: datetime, created: datetime
) -> pd.DataFrame:
    """Snapshot rows of ``video_popularity`` for validated ``events`` (at or before ``as_of``)."""
    import numpy as np
    import pandas as pd

    ev = _sorted(events, c.VIDEO_ID)
    kind = ev[c.EVENT_TYPE]
    is_rate = (kind == EventType.RATE).to_numpy(dtype=bool)
    engaged = (kind != EventType.IMPRESSION).to_numpy(dtype=bool)
    counts = {
        "impressions": (kind == EventType.IMPRESSION).astype("int64"),
        "plays": (kind == EventType.PLAY).astype("int64"),
    }
    parts = pd.DataFrame(
        {
            c.VIDEO_ID: ev[c.VIDEO_ID],
            c.EVENT_TIMESTAMP: ev[c.EVENT_TIMESTAMP],
            **counts,
            "engaged": engaged.astype("int64"),
            "clicks": (kind == EventType.CLICK).astype("int64"),
            "completes": (kind == EventType.COMPLETE).astype("int64"),
            "likes": (kind == EventType.LIKE).astype("int64"),
            "rating_sum": ev[c.VALUE].where(is_rate, 0.0),
            "rating_n": is_rate.astype("int64"),
        }
    )
    sums = [col for col in parts.columns if col not in (c.VIDEO_ID, c.EVENT_TIMESTAMP)]
    cum = _cumulative(parts, [c.VIDEO_ID], sums)
    snaps = _snapshot_times(ev, c.VIDEO_ID, as_of, (0, *s.WINDOWS))
    now = _asof(snaps, cum, [c.VIDEO_ID])
    out = _frame(snaps, c.VIDEO_ID, created)
    watched = ev[engaged]
    viewers = watched[c.USER_ID]
    for days in s.WINDOWS:
        window = _window_sums(snaps, cum, [c.VIDEO_ID], now, list(counts), days)
        out[f"video_impressions_{days}d"] = window["impressions"]
        out[f"video_plays_{days}d"] = window["plays"]
        out[f"video_viewers_{days}d"] = _distinct_in_window(
            watched, viewers, c.VIDEO_ID, snaps, days
        )
    viewers_total = _distinct_in_window(watched, viewers, c.VIDEO_ID, snaps, None)
    out[s.VIDEO_EVENTS_TOTAL] = now["engaged"]
    out[s.VIDEO_VIEWERS_TOTAL] = viewers_total
    out[s.VIDEO_CTR] = _ratio(now["clicks"], now["impressions"])
    out[s.VIDEO_COMPLETION_RATE] = completion_rate(now["completes"], now["plays"])
    out[s.VIDEO_LIKE_RATIO] = _ratio(now["likes"], viewers_total)
    out[s.VIDEO_MEAN_RATING] = _ratio(now["rating_sum"], now["rating_n"])

    masses = watched[[c.VIDEO_ID, c.EVENT_TIMESTAMP]].assign(
        mass=_trending_masses(watched[c.VIDEO_ID], watched[c.EVENT_TIMESTAMP])
    )
    last = _asof(snaps, _cumulative(masses, [c.VIDEO_ID], []), [c.VIDEO_ID])
    half_life = _days(s.TRENDING_HALF_LIFE_DAYS)
    age = (snaps["T"] - last[c.EVENT_TIMESTAMP]) / half_life
    out[s.VIDEO_TRENDING_MASS] = (last["mass"] * np.exp2(-age)).fillna(0.0)
    out[s.VIDEO_TRENDING_AT] = snaps["T"]
    return _finish(out, c.VIDEO_ID, s.VIDEO_POPULARITY)


def video_content_frame(
    videos: pd.DataFrame,
    as_of: datetime,
    created: datetime,
    embedding_ids: set[int],
    embedding_name: str = "",
) -> pd.DataFrame:
    """Rows of ``video_content`` for a conformed ``videos`` frame: one per video published at
    or before ``as_of``, stamped at its publication; ``embedding_name`` is the embeddings
    file's name, used in the refs of the videos in ``embedding_ids``."""
    import pandas as pd

    cutoff = pd.Timestamp(as_of).as_unit("us")
    published = videos["published_at"].fillna(videos["created_at"])
    stamp = published.fillna(cutoff)
    keep = (stamp <= cutoff).to_numpy()
    kept = videos[keep]
    ids = kept[c.VIDEO_ID].astype("int64")
    out = pd.DataFrame(
        {
            c.VIDEO_ID: ids,
            c.EVENT_TIMESTAMP: stamp[keep],
            c.CREATED: pd.Timestamp(created),
            s.VIDEO_DURATION_SECONDS: kept["duration_s"].astype("float64"),
            s.VIDEO_LANGUAGE: kept["language"].astype(object),
            s.VIDEO_GENRES: kept["genres"].map(list),
            s.VIDEO_PUBLISHED_AT: published[keep],
            s.VIDEO_EMBEDDING_REF: [
                f"{embedding_name}#{v}" if v in embedding_ids else "" for v in ids
            ],
        }
    )
    return _finish(out, c.VIDEO_ID, s.VIDEO_CONTENT)


# -- building and writing -------------------------------------------------------------------------


def _build(
    events: pd.DataFrame,
    videos: pd.DataFrame,
    out_dir: Path,
    as_of: datetime | None,
    embedding_file: Path | None,
    source: str,
) -> FeatureTables:
    """Cut validated ``events`` at ``as_of``, compute every view, then write them all."""
    catalogue = conform_videos(videos)
    if events.empty:
        raise DatasetError(f"{source} is empty: import or synthesise data first")
    cutoff = _as_of(events, as_of)
    events = events[events[c.EVENT_TIMESTAMP] <= cutoff].reset_index(drop=True)
    if events.empty:
        raise DatasetError(f"{source} has no events at or before {cutoff}")
    created = datetime.now(UTC)
    embedding_ids = _embedding_ids(embedding_file)
    name = embedding_file.name if embedding_file is not None else ""
    tables = {
        s.USER_ACTIVITY: user_activity_frame(events, cutoff, created),
        s.USER_TASTE: user_taste_frame(events, catalogue, cutoff, created),
        s.VIDEO_POPULARITY: video_popularity_frame(events, cutoff, created),
        s.VIDEO_CONTENT: video_content_frame(catalogue, cutoff, created, embedding_ids, name),
    }
    paths = _write_tables(tables, out_dir)
    firsts = [t[c.EVENT_TIMESTAMP].min() for t in tables.values() if not t.empty]
    video_ids = set(tables[s.VIDEO_POPULARITY][c.VIDEO_ID]) | set(
        tables[s.VIDEO_CONTENT][c.VIDEO_ID]
    )
    return FeatureTables(
        paths=paths,
        rows={view: len(frame) for view, frame in tables.items()},
        as_of=cutoff,
        first_timestamp=min(firsts).to_pydatetime(),
        users=int(tables[s.USER_ACTIVITY][c.USER_ID].nunique()),
        videos=len(video_ids),
    )


def _embedding_ids(embedding_file: Path | None) -> set[int]:
    """Video ids with a row in the embeddings parquet; empty when there is no such file."""
    import pandas as pd

    if embedding_file is None or not embedding_file.exists():
        return set()
    try:
        ids = pd.read_parquet(embedding_file, columns=[c.VIDEO_ID])[c.VIDEO_ID]
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise DatasetError(f"cannot read embeddings {embedding_file}: {exc}") from exc
    return {int(v) for v in ids.dropna()}


def _write_tables(tables: dict[str, pd.DataFrame], out_dir: Path) -> dict[str, Path]:
    """Write every table to a temporary file, then rename them all into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    staged: dict[str, Path] = {}
    try:
        for view, frame in tables.items():
            staged[view] = out_dir / f".{view}.parquet.tmp"
            frame.to_parquet(staged[view], index=False)
    except BaseException:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)
        raise
    paths: dict[str, Path] = {}
    for view, tmp in staged.items():
        paths[view] = tmp.replace(out_dir / Path(s.table_file(view)).name)
    return paths


# -- helpers --------------------------------------------------------------------------------------


def _as_of(events: pd.DataFrame, as_of: datetime | None) -> datetime:
    """``as_of`` as an aware UTC datetime, defaulting to the latest event time."""
    if as_of is None:
        latest: datetime = events[c.EVENT_TIMESTAMP].max().to_pydatetime()
        return latest
    if as_of.tzinfo is None:
        return as_of.replace(tzinfo=UTC)
    return as_of.astimezone(UTC)


def _integers(values: pd.Series) -> pd.Series:
    """``values`` as nullable Int64; missing or non-integer entries become NA."""
    import pandas as pd
    from pandas.api.types import is_integer_dtype

    if is_integer_dtype(values):
        return values.astype("Int64")
    numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    whole = numbers.notna() & (numbers % 1 == 0)
    return numbers.where(whole).astype("Int64")


def _numbers(frame: pd.DataFrame, col: str) -> pd.Series:
    """Column ``col`` as float64 (NaN where missing or non-numeric; all NaN when absent)."""
    import pandas as pd

    if col not in frame:
        return pd.Series(float("nan"), index=frame.index, dtype="float64")
    return pd.to_numeric(frame[col], errors="coerce").astype("float64")


def _timestamps(values: pd.Series) -> pd.Series:
    """``values`` as microsecond UTC timestamps (naive means UTC); NaT where unparseable."""
    import pandas as pd
    from pandas.api.types import is_datetime64_any_dtype, is_numeric_dtype

    if is_datetime64_any_dtype(values) or is_numeric_dtype(values):
        parsed = pd.to_datetime(values, utc=True, errors="coerce")
    else:
        parsed = pd.to_datetime(values, utc=True, errors="coerce", format="mixed")
    return parsed.dt.as_unit("us")


def _days(days: float) -> pd.Timedelta:
    """``days`` as a microsecond Timedelta, so it keeps timestamps in microseconds."""
    import pandas as pd

    return pd.Timedelta(days=days).as_unit("us")


def _sorted(events: pd.DataFrame, key: str) -> pd.DataFrame:
    """Events ordered by ``key`` then time, stable for equal timestamps."""
    return events.sort_values([key, c.EVENT_TIMESTAMP], kind="stable").reset_index(drop=True)


def _cumulative(parts: pd.DataFrame, keys: list[str], sums: list[str]) -> pd.DataFrame:
    """Running values per entity at each of its event times, sorted by time.

    ``sums`` become running sums over the entity's events; other columns are already running
    values. One row per (entity, timestamp): the state after all its events at that time.
    """
    cum = parts.sort_values([*keys, c.EVENT_TIMESTAMP], kind="stable")
    if sums:
        cum = cum.assign(**{col: cum.groupby(keys, sort=False)[col].cumsum() for col in sums})
    cum = cum.drop_duplicates([*keys, c.EVENT_TIMESTAMP], keep="last")
    return cum.sort_values(c.EVENT_TIMESTAMP, kind="stable").reset_index(drop=True)


def _snapshot_times(
    events: pd.DataFrame, key: str, as_of: datetime, offsets: tuple[int, ...]
) -> pd.DataFrame:
    """Unique ``(entity, T)`` rows sorted by ``T``: each active day's end plus each offset in
    days, up to ``as_of``, and ``as_of`` for every entity."""
    import pandas as pd

    cutoff = pd.Timestamp(as_of).as_unit("us")
    ends = events[c.EVENT_TIMESTAMP].dt.floor("D") + _days(1)
    days = pd.DataFrame({key: events[key], "T": ends}).drop_duplicates()
    final = pd.DataFrame({key: events[key].unique(), "T": cutoff})
    shifted = [days.assign(T=days["T"] + _days(d)) for d in offsets]
    snaps = pd.concat([*shifted, final], ignore_index=True)
    snaps = snaps[snaps["T"] <= cutoff].drop_duplicates()
    snaps["T"] = snaps["T"].dt.as_unit("us")
    return snaps.sort_values(["T", key], kind="stable").reset_index(drop=True)


def _asof(snaps: pd.DataFrame, cum: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """For each snapshot row (sorted by ``T``), its entity's running values at or before ``T``,
    aligned with ``snaps``; NaN where the entity has no event by then."""
    import pandas as pd

    return pd.merge_asof(
        snaps,
        cum,
        left_on="T",
        right_on=c.EVENT_TIMESTAMP,
        by=keys,
        direction="backward",
        allow_exact_matches=True,
    )


def _window_sums(
    snaps: pd.DataFrame,
    cum: pd.DataFrame,
    keys: list[str],
    now: pd.DataFrame,
    sums: list[str],
    days: int,
) -> pd.DataFrame:
    """Sums of ``sums`` over each snapshot's ``(T - days, T]``: running sums at ``T`` minus
    those at ``T - days``, as int64."""

    start = snaps.assign(T=snaps["T"] - _days(days))
    before = _asof(start, cum[[*keys, c.EVENT_TIMESTAMP, *sums]], keys)
    return (now[sums].fillna(0) - before[sums].fillna(0)).astype("int64")


def _distinct_in_window(
    events: pd.DataFrame, things: pd.Series, key: str, snaps: pd.DataFrame, days: int | None
) -> pd.Series:
    """Per snapshot row, how many distinct ``things`` (aligned with ``events``) its entity had
    an event with in ``(T - days, T]`` (ever when ``days`` is None), as int64.

    An event at ``t`` covers ``[t, t + days)``; each thing's covers are merged into disjoint
    intervals, so the count at ``T`` is the intervals started by ``T`` minus those ended.
    """
    import pandas as pd

    frame = pd.DataFrame(
        {key: events[key], "thing": things, c.EVENT_TIMESTAMP: events[c.EVENT_TIMESTAMP]}
    ).sort_values([key, "thing", c.EVENT_TIMESTAMP], kind="stable")
    if days is None:
        starts = frame.drop_duplicates([key, "thing"])
        steps = starts[[key, c.EVENT_TIMESTAMP]].assign(n=1)
    else:
        width = _days(days)
        time = frame[c.EVENT_TIMESTAMP]
        joined = (
            (frame[key] == frame[key].shift())
            & (frame["thing"] == frame["thing"].shift())
            & (time <= time.shift() + width)
        ).to_numpy(dtype=bool)
        last = ~pd.Series(joined).shift(-1, fill_value=False).to_numpy(dtype=bool)
        begun = frame.loc[~joined, [key, c.EVENT_TIMESTAMP]].assign(n=1)
        ended = frame.loc[last, [key, c.EVENT_TIMESTAMP]]
        ended = ended.assign(**{c.EVENT_TIMESTAMP: ended[c.EVENT_TIMESTAMP] + width, "n": -1})
        steps = pd.concat([begun, ended], ignore_index=True)
    counted = _asof(snaps, _cumulative(steps, [key], ["n"]), [key])["n"]
    return counted.fillna(0).astype("int64")


def _running_mode(entities: pd.Series, codes: pd.Series) -> pd.Series:
    """For rows sorted by entity then time, the most frequent code of each entity so far
    (ties: the smallest code), aligned with the rows."""
    import pandas as pd

    frame = pd.DataFrame({"e": entities.to_numpy(), "k": codes.to_numpy()})
    level = frame.groupby(["e", "k"], sort=False).cumcount() + 1  # this code's count so far
    top = level.groupby(frame["e"]).cummax()
    # Smallest code among those that reached this level so far: the mode when level is top.
    smallest = frame["k"].groupby([frame["e"], level]).cummin()
    mode = smallest.where(level == top).groupby(frame["e"]).ffill()
    return pd.Series(mode.to_numpy(), index=entities.index)


def _trending_masses(entities: pd.Series, times: pd.Series) -> np.ndarray:
    """For events sorted by entity then time, each entity's decayed event count at each event:
    ``sum over its events j <= i of 2 ** -((t_i - t_j) / half-life)``.

    Sums are taken within segments of ``_TRENDING_SEGMENT`` half-lives of the time axis (so
    powers of two stay finite) and carried from segment to segment.
    """
    import numpy as np
    import pandas as pd

    if len(times) == 0:
        return np.zeros(0)
    stamps = times.astype("int64").to_numpy()
    half_life_us = s.TRENDING_HALF_LIFE_DAYS * 86_400e6
    x = (stamps - stamps.min()) / half_life_us
    entity = entities.to_numpy()
    segment = np.floor(x / _TRENDING_SEGMENT).astype("int64")
    new = np.r_[True, (entity[1:] != entity[:-1]) | (segment[1:] != segment[:-1])]
    seg_of = np.cumsum(new) - 1
    base = x[new][seg_of]
    local = pd.Series(np.exp2(x - base)).groupby(seg_of).cumsum().to_numpy()
    last = np.r_[np.flatnonzero(new)[1:] - 1, len(x) - 1]
    first_of_entity = np.r_[True, entity[1:] != entity[:-1]][new]
    rank = pd.Series(~first_of_entity).groupby(np.cumsum(first_of_entity)).cumsum().to_numpy()
    end_x = x[last]
    end_mass = local[last] * np.exp2(base[last] - end_x)
    carried = np.zeros(len(last))
    for r in range(1, int(rank.max()) + 1):
        at = np.flatnonzero(rank == r)
        carried[at] = end_mass[at - 1]
        end_mass[at] += carried[at] * np.exp2(end_x[at - 1] - end_x[at])
    prev_x = np.where(rank > 0, end_x[np.maximum(np.arange(len(last)) - 1, 0)], 0.0)
    carry = carried[seg_of] * np.exp2(np.minimum(prev_x[seg_of] - x, 0.0))
    masses: np.ndarray = local * np.exp2(base - x) + carry
    return masses


def _lists(frame: pd.DataFrame, keys: list[str], columns: dict[str, str]) -> pd.DataFrame:
    """One row per ``keys`` group of ``frame`` (sorted by ``keys``), each output column the
    list of an input column's values in row order."""
    import numpy as np
    import pandas as pd

    if frame.empty:
        return pd.DataFrame({**{k: frame[k] for k in keys}, **{out: [] for out in columns}})
    keyed = frame[keys].reset_index(drop=True)
    group = keyed.groupby(keys, sort=False).ngroup().to_numpy()
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    out = keyed.iloc[starts].reset_index(drop=True)
    for name, col in columns.items():
        parts = np.split(frame[col].to_numpy(), starts[1:])
        out[name] = pd.Series([part.tolist() for part in parts], dtype=object)
    return out


def _frame(snaps: pd.DataFrame, key: str, created: datetime) -> pd.DataFrame:
    """The entity key, ``event_timestamp`` and ``created`` columns of a view's snapshot rows."""
    import pandas as pd

    return pd.DataFrame(
        {
            key: snaps[key].astype("int64"),
            c.EVENT_TIMESTAMP: snaps["T"],
            c.CREATED: pd.Timestamp(created).as_unit("us"),
        }
    )


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """``numerator / denominator`` as float64, NaN where the denominator is 0."""
    den = denominator.astype("float64")
    return (numerator.astype("float64") / den.where(den != 0)).astype("float64")


def _finish(frame: pd.DataFrame, key: str, view: str) -> pd.DataFrame:
    """The view's columns in contract order and dtypes, sorted by entity and time."""
    features = s.VIEW_FEATURES[view]
    frame = frame[[key, c.EVENT_TIMESTAMP, c.CREATED, *features]].copy()
    frame[key] = frame[key].astype("int64")
    for col in (c.EVENT_TIMESTAMP, c.CREATED, *(f for f in features if f in s.TIMESTAMP_FEATURES)):
        frame[col] = frame[col].dt.as_unit("us")
    for col in features:
        if col in s.INT_FEATURES:
            frame[col] = frame[col].astype("int64")
        elif col in s.STRING_FEATURES:
            frame[col] = frame[col].astype(object)
        elif col not in s.LIST_FEATURES and col not in s.TIMESTAMP_FEATURES:
            frame[col] = frame[col].astype("float64")
    frame = frame.sort_values([key, c.EVENT_TIMESTAMP], kind="stable")
    return frame.reset_index(drop=True)
