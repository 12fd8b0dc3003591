"""Pushes the online user features of users who just sent events, off the request path.

``submit`` only records user ids; a background thread takes every user submitted since its last
round, reads their whole event history from the catalogue database (where the sink made the
events durable) and pushes their recomputed ``user_activity`` rows through
``features.push.push_user_events``. Users submitted while a round runs are coalesced into the
next one. A missing Feast repo is logged once and skipped; a failed round is logged; neither
ever reaches a request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from core import columns as c
from core.db.models import InteractionEvent
from core.db.session import get_engine
from core.eventlog import conform
from features.push import push_user_events
from features.store import CONFIG_FILE, open_store

if TYPE_CHECKING:
    import pandas as pd
    from feast import FeatureStore

log = logging.getLogger(__name__)

#: Most users pushed in one round (the rest wait for the next).
ROUND_USERS = 1_000
#: Shortest time between the starts of two rounds: users arriving meanwhile share a round.
MIN_INTERVAL_S = 1.0


def user_event_history(database_url: str, user_ids: list[int]) -> pd.DataFrame:
    """Every stored event of ``user_ids``, as an event-log frame."""
    import pandas as pd

    columns = [getattr(InteractionEvent, name) for name in c.EVENT_COLUMNS]
    query = select(*columns).where(InteractionEvent.user_id.in_(user_ids))
    with get_engine(database_url).connect() as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame.from_records(rows, columns=list(c.EVENT_COLUMNS))
    frame[c.EVENT_TYPE] = frame[c.EVENT_TYPE].map(str)
    return conform(frame)


class FeaturePusher:
    """A background thread that keeps submitted users' online features fresh."""

    def __init__(
        self, database_url: str, repo_dir: Path, min_interval_s: float = MIN_INTERVAL_S
    ) -> None:
        self._database_url = database_url
        self._repo_dir = repo_dir
        self._min_interval_s = min_interval_s
        self._store: FeatureStore | None = None
        self._pending: set[int] = set()
        self._wake = threading.Condition()
        self._stopping = False
        self._warned_missing = False
        self._thread = threading.Thread(target=self._run, name="feature-pusher", daemon=True)
        self.rounds = 0  # rounds that pushed something

    def start(self) -> FeaturePusher:
        """Start the thread; return self."""
        self._thread.start()
        return self

    def submit(self, user_ids: Iterable[int]) -> None:
        """Queue these users for the next round (never blocks on a push)."""
        with self._wake:
            self._pending.update(user_ids)
            self._wake.notify()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the round in progress and the users already queued, then join the thread."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._stopping:
                    self._wake.wait()
                if not self._pending:
                    return
                users = sorted(self._pending)[:ROUND_USERS]
                self._pending.difference_update(users)
            started = time.monotonic()
            try:
                self._push(users)
            except Exception:
                self._store = None  # reopen next time: the repo may have been re-applied
                log.exception("feature push for %d users failed", len(users))
            with self._wake:  # let users gather (a stop cuts the wait short)
                rest = self._min_interval_s - (time.monotonic() - started)
                if rest > 0 and not self._stopping:
                    self._wake.wait(rest)

    def _push(self, users: list[int]) -> None:
        if not (self._repo_dir / CONFIG_FILE).is_file():
            if not self._warned_missing:
                log.warning("no Feast repo at %s: event pushes are skipped", self._repo_dir)
                self._warned_missing = True
            return
        self._warned_missing = False
        history = user_event_history(self._database_url, users)
        if history.empty:
            return
        if self._store is None:
            self._store = open_store(self._repo_dir)
        push_user_events(self._repo_dir, history, None, store=self._store)
        self.rounds += 1
