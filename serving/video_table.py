"""The servable catalogue in memory: one read-only numpy column per video attribute, by row."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import numpy as np

from core.db.models import Video

NO_CHANNEL = -1

# What ``from_videos`` reads: ``select(*VIDEO_TABLE_COLUMNS)`` rows build the table without
# loading ORM objects.
VIDEO_TABLE_COLUMNS = (
    Video.id,
    Video.channel_id,
    Video.title,
    Video.genres,
    Video.language,
    Video.duration_s,
    Video.release_year,
    Video.published_at,
)


class VideoRow(Protocol):
    """A ``Video`` or a result row of ``VIDEO_TABLE_COLUMNS``."""

    @property
    def id(self) -> int: ...
    @property
    def channel_id(self) -> int | None: ...
    @property
    def title(self) -> str: ...
    @property
    def genres(self) -> list[str] | None: ...
    @property
    def language(self) -> str | None: ...
    @property
    def duration_s(self) -> float | None: ...
    @property
    def release_year(self) -> int | None: ...
    @property
    def published_at(self) -> datetime | None: ...


@dataclass(frozen=True, eq=False)
class VideoTable:
    """Video attributes aligned by row, rows sorted by ``ids``; every array is read-only.

    Unknown values: ``channel_id`` -1, ``duration_s`` / ``release_year`` / ``published_at``
    NaN, ``language`` None, ``genres`` an empty set. ``published_at`` is epoch seconds (UTC).
    """

    ids: np.ndarray
    channel_id: np.ndarray
    duration_s: np.ndarray
    release_year: np.ndarray
    published_at: np.ndarray
    language: np.ndarray
    genres: tuple[frozenset[str], ...]
    titles: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.ids)
        for name in ("channel_id", "duration_s", "release_year", "published_at", "language"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"VideoTable: {name} has {len(getattr(self, name))} rows, not {n}")
        if len(self.genres) != n or len(self.titles) != n:
            raise ValueError(f"VideoTable: genres and titles need {n} rows")
        if n > 1 and not bool(np.all(self.ids[1:] > self.ids[:-1])):
            raise ValueError("VideoTable: ids must be strictly increasing")
        for array in (
            self.ids,
            self.channel_id,
            self.duration_s,
            self.release_year,
            self.published_at,
            self.language,
            self.titles,
        ):
            array.setflags(write=False)

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def empty(cls) -> VideoTable:
        """A table with no videos: every lookup answers -1."""
        return cls(
            ids=np.empty(0, dtype=np.int64),
            channel_id=np.empty(0, dtype=np.int64),
            duration_s=np.empty(0, dtype=np.float64),
            release_year=np.empty(0, dtype=np.float64),
            published_at=np.empty(0, dtype=np.float64),
            language=np.empty(0, dtype=object),
            genres=(),
            titles=np.empty(0, dtype=object),
        )

    @classmethod
    def from_videos(cls, videos: Iterable[VideoRow]) -> VideoTable:
        """The table of these videos or column rows (any order); a repeated id raises ValueError.

        An empty language is unknown (None); naive ``published_at`` datetimes are UTC.
        """
        items = sorted(videos, key=lambda video: video.id)
        n = len(items)
        ids = np.fromiter((video.id for video in items), dtype=np.int64, count=n)
        if n > 1 and not bool(np.all(ids[1:] != ids[:-1])):
            repeated = np.unique(ids[1:][ids[1:] == ids[:-1]])
            raise ValueError(f"VideoTable: repeated video ids {repeated[:5].tolist()}")
        language = np.empty(n, dtype=object)
        language[:] = [video.language or None for video in items]
        titles = np.empty(n, dtype=object)
        titles[:] = [video.title for video in items]
        return cls(
            ids=ids,
            channel_id=np.fromiter(
                (NO_CHANNEL if v.channel_id is None else v.channel_id for v in items),
                dtype=np.int64,
                count=n,
            ),
            duration_s=np.fromiter(
                (math.nan if v.duration_s is None else v.duration_s for v in items),
                dtype=np.float64,
                count=n,
            ),
            release_year=np.fromiter(
                (math.nan if v.release_year is None else v.release_year for v in items),
                dtype=np.float64,
                count=n,
            ),
            published_at=np.fromiter(
                (_epoch_seconds(v.published_at) for v in items), dtype=np.float64, count=n
            ),
            language=language,
            genres=tuple(frozenset(v.genres or ()) for v in items),
            titles=titles,
        )

    def rows(self, video_ids: np.ndarray) -> np.ndarray:
        """The row of each id (int64), -1 for an id not in the table."""
        wanted = np.asarray(video_ids, dtype=np.int64)
        if len(self.ids) == 0:
            return np.full(wanted.shape, -1, dtype=np.int64)
        at = np.searchsorted(self.ids, wanted)
        at = np.minimum(at, len(self.ids) - 1)
        return np.where(self.ids[at] == wanted, at, -1).astype(np.int64, copy=False)


def _epoch_seconds(moment: datetime | None) -> float:
    """Epoch seconds of a datetime (naive means UTC), NaN for None."""
    if moment is None:
        return math.nan
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
