"""Writes a simulated world into the catalogue (one transaction) and the parquet event log."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, func, select

from core import columns as c
from core.db.models import Channel, Comment, User, Video
from core.errors import DatasetError
from core.types import EventType
from training.datasets.catalogue_writer import (
    bulk_insert,
    bulk_transaction,
    insert_events,
    insert_ratings,
    insert_returning_ids,
    table_of,
)
from training.datasets.event_log import export_event_log
from training.datasets.synth import SOURCE, SynthConfig, SynthWorld, simulate


@dataclass(frozen=True)
class SynthReport:
    """What ``synthesize`` wrote, and the hidden taste structure for evaluation."""

    users: int
    creators: int
    videos: int
    events: int
    events_by_type: dict[str, int]
    ratings: int
    comments: int
    replies: int
    events_in_log: int
    start: datetime
    end: datetime
    seconds: float
    #: Favourite genres of each taste cluster.
    cluster_genres: tuple[tuple[str, ...], ...]
    #: DB user id -> taste cluster of every synthetic viewer.
    user_clusters: dict[int, int] = field(repr=False)

    def summary(self) -> str:
        """One human-readable line for the CLI."""
        return (
            f"synthesised {self.users} users, {self.creators} creators, {self.videos} videos, "
            f"{self.events} events, {self.ratings} ratings, {self.comments} comments "
            f"({self.start:%Y-%m-%d} to {self.end:%Y-%m-%d}) in {self.seconds:.1f} s"
        )


@dataclass(frozen=True)
class WrittenWorld:
    """Database ids of a world's rows (by position) and how many rows each table received."""

    viewer_ids: np.ndarray
    events: pd.DataFrame
    ratings: int
    comments: int
    replies: int


def synthesize(config: SynthConfig, database_url: str, events_path: Path) -> SynthReport:
    """Simulate the world of ``config``, write it into the catalogue (one transaction), then
    export the event log to ``events_path``.

    Refuses a catalogue that already holds a synthetic world.
    """
    started = time.perf_counter()
    with bulk_transaction(database_url) as conn:
        existing = conn.execute(
            select(func.count()).select_from(User).where(User.source == SOURCE)
        ).scalar_one()
        if existing:
            raise DatasetError(
                f"the catalogue already holds a synthetic world ({existing} synthetic users); "
                "synthesise into a fresh database"
            )
        world = simulate(config)
        written = write_world(conn, world)
    in_log = export_event_log(database_url, events_path)
    events = written.events
    return SynthReport(
        users=config.users,
        creators=config.creator_count,
        videos=config.videos,
        events=len(events),
        events_by_type=events[c.EVENT_TYPE].value_counts().sort_index().to_dict(),
        ratings=written.ratings,
        comments=written.comments,
        replies=written.replies,
        events_in_log=in_log,
        start=config.start,
        end=config.end,
        seconds=time.perf_counter() - started,
        cluster_genres=world.cluster_genres,
        user_clusters=dict(
            zip(written.viewer_ids.tolist(), world.user_cluster.tolist(), strict=True)
        ),
    )


def write_world(conn: Connection, world: SynthWorld) -> WrittenWorld:
    """Insert users, channels, videos, events, ratings and comments of ``world``."""
    viewer_ids = _insert(conn, User, world.viewers)
    creator_ids = _insert(conn, User, world.creators)
    creator = world.channels["creator"].to_numpy(dtype=np.int64)
    channels = world.channels.drop(columns="creator").assign(owner_id=creator_ids[creator])
    channel_ids = _insert(conn, Channel, channels)
    channel = world.videos["channel"].to_numpy(dtype=np.int64)
    videos = world.videos.drop(columns="channel").assign(channel_id=channel_ids[channel])
    video_ids = _insert(conn, Video, videos)
    events = world.events_with_ids(viewer_ids, video_ids)
    insert_events(conn, events)
    rates = events[events[c.EVENT_TYPE] == EventType.RATE.value]
    ratings = insert_ratings(
        conn,
        pd.DataFrame(
            {
                c.USER_ID: rates[c.USER_ID],
                c.VIDEO_ID: rates[c.VIDEO_ID],
                "value": rates[c.VALUE],
                "created_at": rates[c.EVENT_TIMESTAMP],
            }
        ),
    )
    comments, replies = _write_comments(conn, world.comments, viewer_ids, video_ids)
    return WrittenWorld(
        viewer_ids=viewer_ids, events=events, ratings=ratings, comments=comments, replies=replies
    )


def _write_comments(
    conn: Connection, comments: pd.DataFrame, viewer_ids: np.ndarray, video_ids: np.ndarray
) -> tuple[int, int]:
    """Insert the top-level comments, then the replies pointing at their new ids."""
    if comments.empty:
        return 0, 0
    frame = comments.assign(
        **{
            c.VIDEO_ID: video_ids[comments[c.VIDEO_ID].to_numpy(dtype=np.int64)],
            c.USER_ID: viewer_ids[comments[c.USER_ID].to_numpy(dtype=np.int64)],
        }
    )
    parent = frame["parent"].to_numpy(dtype=np.int64)
    frame = frame.drop(columns="parent")
    top_ids = _insert(conn, Comment, frame[parent < 0].assign(parent_id=None))
    replies = frame[parent >= 0].assign(parent_id=top_ids[parent[parent >= 0]])
    bulk_insert(conn, table_of(Comment), replies)
    return len(frame), len(replies)


def _insert(conn: Connection, model: type[Any], frame: pd.DataFrame) -> np.ndarray:
    """Insert the rows of ``frame`` into ``model``'s table; their new ids, in row order."""
    return np.array(insert_returning_ids(conn, table_of(model), _records(frame)), dtype=np.int64)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts of plain Python values (pandas timestamps as ``datetime``)."""
    rows = frame.to_dict("records")
    for name in frame.columns:
        if isinstance(frame[name].dtype, pd.DatetimeTZDtype):
            for row in rows:
                row[name] = row[name].to_pydatetime()
    return [{str(key): value for key, value in row.items()} for row in rows]
