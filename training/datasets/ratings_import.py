"""Load a parsed ratings dataset (users, movies, ratings) into the catalogue in one transaction."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from core import columns as c
from core.db.models import User, Video
from core.errors import DatasetError
from core.eventlog import event_id_for
from core.types import EventType, Role, VideoStatus, Visibility
from training.datasets.catalogue_writer import (
    bulk_transaction,
    existing_event_ids,
    ids_by_external_id,
    insert_events,
    insert_ratings,
    insert_returning_ids,
    table_of,
)
from training.datasets.event_log import export_event_log

_TITLE_LENGTH = 512


@dataclass(frozen=True)
class RatingsDataset:
    """A parsed ratings dataset; ids are the dataset's own, as strings.

    ``users``: ``external_id``. ``movies``: ``external_id, title, release_year, genres, tags``.
    ``ratings``: ``user, movie, rating, timestamp`` (unix seconds).
    """

    source: str
    format: str
    username_prefix: str
    users: pd.DataFrame
    movies: pd.DataFrame
    ratings: pd.DataFrame


@dataclass(frozen=True)
class ImportReport:
    """What an import found in the files and what it added to the catalogue."""

    source: str
    format: str
    users_in_files: int
    videos_in_files: int
    ratings_in_files: int
    users_added: int
    videos_added: int
    placeholder_videos: int
    events_added: int
    ratings_added: int
    events_in_log: int
    seconds: float

    @property
    def added_anything(self) -> bool:
        """False when the import was a no-op (the data was already there)."""
        return bool(self.users_added or self.videos_added or self.events_added)

    def summary(self) -> str:
        """One human-readable line for the CLI."""
        if not self.added_anything:
            return (
                f"{self.source} ({self.format}): nothing new to add; already imported "
                f"({self.users_in_files} users, {self.videos_in_files} videos, "
                f"{self.ratings_in_files} ratings); event log has {self.events_in_log} events"
            )
        return (
            f"{self.source} ({self.format}): added {self.users_added} users, "
            f"{self.videos_added} videos ({self.placeholder_videos} without metadata), "
            f"{self.events_added} rating events in {self.seconds:.1f} s; "
            f"event log has {self.events_in_log} events"
        )


def import_ratings_dataset(
    dataset: RatingsDataset, database_url: str, events_path: Path
) -> ImportReport:
    """Add ``dataset`` to the catalogue (idempotent, all or nothing), then rewrite the event log."""
    started = time.perf_counter()
    ratings = dataset.ratings
    movies = _with_placeholders(dataset.movies, ratings)
    user_ids = list(dict.fromkeys([*dataset.users["external_id"], *ratings["user"]]))
    first_seen_user = _first_seen(ratings, "user")
    first_seen_movie = _first_seen(ratings, "movie")
    try:
        with bulk_transaction(database_url) as conn:
            users, users_added, known_users = _ensure_users(
                conn, dataset, user_ids, first_seen_user
            )
            videos, videos_added = _ensure_videos(conn, dataset.source, movies, first_seen_movie)
            events = _rating_events(dataset.source, ratings, users, videos)
            old = events[c.USER_ID].isin(known_users).to_numpy()
            if old.any():
                seen = existing_event_ids(conn, events.loc[old, c.EVENT_ID])
                events = events[~events[c.EVENT_ID].isin(seen).to_numpy()]
            events_added = insert_events(conn, events)
            ratings_added = insert_ratings(
                conn,
                events.rename(columns={c.VALUE: "value", c.EVENT_TIMESTAMP: "created_at"})[
                    [c.USER_ID, c.VIDEO_ID, "value", "created_at"]
                ],
            )
    except IntegrityError as exc:
        reason = str(exc.orig).splitlines()[0]
        raise DatasetError(
            f"{dataset.source} import conflicts with existing catalogue rows ({reason}); "
            "nothing was written"
        ) from exc
    in_log = export_event_log(database_url, events_path)
    placeholders = int(movies["placeholder"].sum())
    return ImportReport(
        source=dataset.source,
        format=dataset.format,
        users_in_files=len(user_ids),
        videos_in_files=len(movies),
        ratings_in_files=len(ratings),
        users_added=users_added,
        videos_added=videos_added,
        placeholder_videos=placeholders if videos_added else 0,
        events_added=events_added,
        ratings_added=ratings_added,
        events_in_log=in_log,
        seconds=time.perf_counter() - started,
    )


def _with_placeholders(movies: pd.DataFrame, ratings: pd.DataFrame) -> pd.DataFrame:
    """``movies`` plus a bare "Movie <id>" entry for every rated movie the movie list lacks."""
    movies = movies.assign(placeholder=False)
    missing = pd.Index(ratings["movie"].unique()).difference(pd.Index(movies["external_id"]))
    if missing.empty:
        return movies
    bare = pd.DataFrame(
        {
            "external_id": missing,
            "title": [f"Movie {m}" for m in missing],
            "release_year": pd.array([None] * len(missing), dtype="Int64"),
            "genres": [[] for _ in missing],
            "tags": [[] for _ in missing],
            "placeholder": True,
        }
    )
    return pd.concat([movies, bare], ignore_index=True)


def _first_seen(ratings: pd.DataFrame, key: str) -> dict[str, datetime]:
    """The time of the first rating of each user or movie."""
    first = ratings.groupby(key, sort=False)["timestamp"].min()
    return {k: datetime.fromtimestamp(int(v), tz=UTC) for k, v in first.items() if int(v) >= 0}


def _ensure_users(
    conn: Connection,
    dataset: RatingsDataset,
    external_ids: list[str],
    first_seen: dict[str, datetime],
) -> tuple[dict[str, int], int, set[int]]:
    """Map every dataset user to a DB id, inserting the new ones as viewers without a password."""
    table = table_of(User)
    known = ids_by_external_id(conn, table, dataset.source, external_ids)
    now = datetime.now(UTC)
    new = [ext for ext in external_ids if ext not in known]
    rows = [
        {
            "username": f"{dataset.username_prefix}{ext}",
            "email": None,
            "password_hash": None,
            "role": Role.VIEWER,
            "source": dataset.source,
            "external_id": ext,
            "created_at": first_seen.get(ext, now),
        }
        for ext in new
    ]
    ids = insert_returning_ids(conn, table, rows)
    mapping = {**known, **dict(zip(new, ids, strict=True))}
    return mapping, len(new), set(known.values())


def _ensure_videos(
    conn: Connection,
    source: str,
    movies: pd.DataFrame,
    first_seen: dict[str, datetime],
) -> tuple[dict[str, int], int]:
    """Map every movie to a DB video id, inserting new ones as public, ready videos."""
    table = table_of(Video)
    known = ids_by_external_id(conn, table, source, movies["external_id"])
    fresh = movies[~movies["external_id"].isin(known.keys())]
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for ext, title, year, genres, tags in zip(
        fresh["external_id"],
        fresh["title"],
        fresh["release_year"],
        fresh["genres"],
        fresh["tags"],
        strict=True,
    ):
        published = first_seen.get(ext, now)
        rows.append(
            {
                "channel_id": None,
                "title": title[:_TITLE_LENGTH],
                "description": "",
                "tags": list(tags),
                "genres": list(genres),
                "language": None,
                "duration_s": None,
                "release_year": None if pd.isna(year) else int(year),
                "visibility": Visibility.PUBLIC,
                "status": VideoStatus.READY,
                "failure_reason": None,
                "source": source,
                "external_id": ext,
                "created_at": published,
                "published_at": published,
            }
        )
    ids = insert_returning_ids(conn, table, rows)
    return {**known, **dict(zip(fresh["external_id"], ids, strict=True))}, len(rows)


def _rating_events(
    source: str, ratings: pd.DataFrame, users: dict[str, int], videos: dict[str, int]
) -> pd.DataFrame:
    """One ``rate`` event per distinct rating row, with a deterministic event id."""
    ratings = ratings.drop_duplicates(["user", "movie", "timestamp"], keep="last")
    event_ids = [
        event_id_for(source, u, m, t)
        for u, m, t in zip(ratings["user"], ratings["movie"], ratings["timestamp"], strict=True)
    ]
    return pd.DataFrame(
        {
            c.EVENT_ID: event_ids,
            c.USER_ID: ratings["user"].map(users).to_numpy(dtype="int64"),
            c.VIDEO_ID: ratings["movie"].map(videos).to_numpy(dtype="int64"),
            c.EVENT_TYPE: EventType.RATE.value,
            c.VALUE: ratings["rating"].to_numpy(dtype="float64"),
            c.EVENT_TIMESTAMP: pd.to_datetime(ratings["timestamp"].to_numpy(), unit="s", utc=True),
        }
    )
