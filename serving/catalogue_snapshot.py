"""An in-memory copy of what recommendations read from the catalogue, refreshed in the
background: the servable videos (for filters, metadata and new uploads), the ids nobody may
be recommended, and a trending order from recent plays (the fallback when models are down)."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db.models import InteractionEvent, Video
from core.db.session import session_factory
from core.types import EventType, VideoStatus, Visibility
from serving.video_table import VIDEO_TABLE_COLUMNS, VideoTable

log = logging.getLogger(__name__)

#: Plays and completes in this window make the trending order.
TRENDING_WINDOW = timedelta(days=7)
#: Longest trending list kept.
TRENDING_DEPTH = 500


@dataclass(frozen=True)
class Catalogue:
    """One consistent view of the catalogue."""

    table: VideoTable
    unavailable: frozenset[int]
    trending: np.ndarray
    fingerprint: tuple[object, ...] = ()
    loaded_at: float = field(default_factory=time.time)
    read_at: float = field(default_factory=time.time)


class CatalogueSnapshot:
    """The current ``Catalogue``; ``current()`` never waits for the database once a first copy
    exists: an older copy than ``max_age_s`` starts one background refresh. The trending order
    is recounted every ``trending_every_s`` only (it scans the week's events: seconds of CPU
    on millions of events)."""

    def __init__(
        self,
        database_url: str,
        max_age_s: float = 2.0,
        trending_every_s: float = 300.0,
        reload_every_s: float = 60.0,
    ) -> None:
        self.database_url = database_url
        self.max_age_s = max_age_s
        self.trending_every_s = trending_every_s
        self.reload_every_s = reload_every_s
        self._current: Catalogue | None = None
        self._trending_at = 0.0
        self._refreshing = threading.Lock()
        self._first = threading.Lock()

    def current(self) -> Catalogue:
        """The newest copy (loading the first one synchronously)."""
        snapshot = self._current
        if snapshot is None:
            with self._first:
                if self._current is None:
                    self._current = self._load(None)
            return self._current
        if time.time() - snapshot.read_at > self.max_age_s and self._refreshing.acquire(
            blocking=False
        ):
            threading.Thread(target=self._refresh, name="catalogue-refresh", daemon=True).start()
        return snapshot

    def refresh(self) -> Catalogue:
        """Reload now (tests, and after a write that must show at once)."""
        self._current = self._load(self._current)
        return self._current

    def _refresh(self) -> None:
        try:
            self._current = self._load(self._current)
        except Exception:  # keep serving the old copy; the next request tries again
            log.exception("catalogue refresh failed")
        finally:
            self._refreshing.release()

    def _load(self, previous: Catalogue | None) -> Catalogue:
        """A new copy; the video table is rebuilt only when the catalogue's fingerprint
        (counts, newest id and publication, servable count) moved, or every
        ``reload_every_s`` (edits of titles or genres leave the fingerprint as it is)."""
        now = time.time()
        with session_factory(self.database_url)() as session:
            servable = (Video.visibility == Visibility.PUBLIC) & (Video.status == VideoStatus.READY)
            fingerprint = tuple(
                session.execute(
                    select(
                        func.count(),
                        func.max(Video.id),
                        func.max(Video.published_at),
                        func.count().filter(servable),
                    )
                ).one()
            )
            trending_due = previous is None or now - self._trending_at > self.trending_every_s
            unchanged = (
                previous is not None
                and fingerprint == previous.fingerprint
                and now - previous.loaded_at < self.reload_every_s
            )
            if unchanged and previous is not None:
                if not trending_due:
                    return replace(previous, read_at=now)
                table, unavailable, loaded_at = (
                    previous.table,
                    previous.unavailable,
                    previous.loaded_at,
                )
            else:
                rows = session.execute(select(*VIDEO_TABLE_COLUMNS).where(servable)).all()
                table = VideoTable.from_videos(rows)
                unavailable = frozenset(session.scalars(select(Video.id).where(~servable)))
                loaded_at = now
            if trending_due or previous is None:
                trending = self._trending(session, table)
                self._trending_at = now
            else:
                trending = previous.trending[np.isin(previous.trending, table.ids)]
        return Catalogue(table, unavailable, trending, fingerprint, loaded_at, now)

    @staticmethod
    def _trending(session: Session, table: VideoTable) -> np.ndarray:
        """Listed videos by plays and completes in the last week, then newest first."""
        since = datetime.now(UTC) - TRENDING_WINDOW
        counts = session.execute(
            select(InteractionEvent.video_id, func.count())
            .where(
                InteractionEvent.event_timestamp >= since,
                InteractionEvent.event_type.in_((EventType.PLAY, EventType.COMPLETE)),
            )
            .group_by(InteractionEvent.video_id)
            .order_by(func.count().desc())
            .limit(TRENDING_DEPTH * 2)
        ).all()
        listed = set(map(int, table.ids))
        ranked = [int(v) for v, _ in counts if int(v) in listed][:TRENDING_DEPTH]
        if len(ranked) < TRENDING_DEPTH:
            taken = set(ranked)
            order = np.argsort(-np.nan_to_num(table.published_at, nan=0.0), kind="stable")
            ranked += [int(v) for v in table.ids[order] if int(v) not in taken][
                : TRENDING_DEPTH - len(ranked)
            ]
        return np.array(ranked, dtype=np.int64)
