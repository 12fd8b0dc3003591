"""The exposure log: every served list, buffered in memory and bulk-inserted by a background
thread so that the request path never waits on the database."""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Insert, insert
from sqlalchemy.dialects import postgresql, sqlite

from core.db.models import Exposure, utcnow
from core.db.session import get_engine

log = logging.getLogger(__name__)

#: Seconds between background writes.
FLUSH_INTERVAL_S = 0.2
#: Most exposures held while the database refuses writes; older ones are dropped beyond it.
MAX_PENDING = 100_000


#: Longest wait between two write attempts while the database refuses them.
MAX_BACKOFF_S = 30.0


@dataclass(frozen=True)
class ExposureRecord:
    """One served list, as it will be stored in ``exposures``."""

    recommendation_id: str
    user_id: int
    experiment: str | None
    variant: str | None
    surface: str
    model: str
    items: list[int]
    fallback: bool = False
    context: dict[str, Any] | None = None
    served_at: datetime = field(default_factory=utcnow)


class ExposureLog:
    """Buffers exposures and writes them to the catalogue at ``database_url`` every
    ``interval_s`` seconds from a daemon thread (started by the first ``log``).

    ``log`` only enqueues. ``flush`` writes everything logged before it and raises if the
    database refuses; ``close`` flushes and stops the thread. A write that fails is retried on
    the next tick (rows already stored are skipped by their recommendation id), holding at most
    ``max_pending`` rows. A hard kill (SIGKILL, power loss) loses the exposures not yet written:
    those logged in the last ``interval_s`` seconds, and all pending ones while the database is
    unreachable; a normal shutdown loses none.
    """

    def __init__(
        self,
        database_url: str,
        interval_s: float = FLUSH_INTERVAL_S,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self.database_url = database_url
        self.interval_s = interval_s
        self.max_pending = max_pending
        self.dropped = 0
        self._queue: queue.SimpleQueue[ExposureRecord] = queue.SimpleQueue()
        self._pending: deque[ExposureRecord] = deque()
        self._write_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    def log(
        self,
        *,
        recommendation_id: str,
        user_id: int,
        experiment: str | None,
        variant: str | None,
        surface: str,
        model: str,
        items: Sequence[int],
        fallback: bool = False,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        """Record one served list (``items``: video ids in served order); never blocks on I/O.
        After ``close`` the exposure is dropped (and counted in ``dropped``)."""
        if self._closed:
            self.dropped += 1
            log.warning("exposure %s logged after close: dropped", recommendation_id)
            return
        self._queue.put(
            ExposureRecord(
                recommendation_id=recommendation_id,
                user_id=user_id,
                experiment=experiment,
                variant=variant,
                surface=surface,
                model=model,
                items=[int(i) for i in items],
                fallback=fallback,
                context=dict(context) if context else None,
            )
        )
        if self._thread is None:
            self._start()

    def flush(self) -> int:
        """Write every exposure logged so far; returns how many were written. Raises what the
        database raises (the rows stay pending)."""
        with self._write_lock:
            return self._write()

    def close(self) -> None:
        """Stop the background thread and flush; a failed final flush is logged with the
        number of exposures lost."""
        self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        try:
            self.flush()
        except Exception:
            log.exception("final exposure flush failed: %d exposures lost", len(self._pending))

    # -- background writing ------------------------------------------------------------------

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="exposure-log", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        wait = self.interval_s
        while not self._stop.wait(wait):
            try:
                self.flush()
            except Exception as exc:  # keep the rows; back off so a broken database costs little
                wait = min(wait * 2, MAX_BACKOFF_S)
                first = str(exc).splitlines()[0][:300]
                log.error(
                    "exposure write failed (%s: %s); %d pending, retrying in %.1f s",
                    type(exc).__name__,
                    first,
                    len(self._pending),
                    wait,
                )
            else:
                wait = self.interval_s

    def _write(self) -> int:
        """Move the queue into ``pending`` and insert it in one statement (caller holds the
        write lock)."""
        while True:
            try:
                self._pending.append(self._queue.get_nowait())
            except queue.Empty:
                break
        overflow = len(self._pending) - self.max_pending
        if overflow > 0:
            for _ in range(overflow):
                self._pending.popleft()
            self.dropped += overflow
            log.error("exposure buffer full: dropped the %d oldest exposures", overflow)
        if not self._pending:
            return 0
        rows = [asdict(record) for record in self._pending]
        engine = get_engine(self.database_url)
        with engine.begin() as connection:
            connection.execute(_insert_ignoring_duplicates(engine), rows)
        self._pending.clear()
        return len(rows)


def _insert_ignoring_duplicates(engine: Engine) -> Insert:
    """An INSERT into ``exposures`` that skips recommendation ids already stored."""
    if engine.dialect.name == "postgresql":
        return postgresql.insert(Exposure).on_conflict_do_nothing(
            index_elements=["recommendation_id"]
        )
    if engine.dialect.name == "sqlite":
        return sqlite.insert(Exposure).on_conflict_do_nothing(index_elements=["recommendation_id"])
    return insert(Exposure)
