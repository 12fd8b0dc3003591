"""The exposure log writes in the background, on flush and on close, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from core.db.models import Exposure
from core.db.session import session_factory
from serving.exposure_log import ExposureLog


def _log(exposures: ExposureLog, user_id: int, recommendation_id: str | None = None) -> str:
    recommendation_id = recommendation_id or uuid.uuid4().hex
    exposures.log(
        recommendation_id=recommendation_id,
        user_id=user_id,
        experiment="exp",
        variant="control",
        surface="home",
        model="reelrank-recommender@champion (v1)",
        items=[3, 1, 2],
    )
    return recommendation_id


def _stored(database_url: str) -> int:
    with session_factory(database_url)() as session:
        return session.scalar(select(func.count()).select_from(Exposure)) or 0


def test_background_thread_writes_within_its_interval(database_url: str) -> None:
    exposures = ExposureLog(database_url, interval_s=0.05)
    try:
        ids = [_log(exposures, user) for user in range(50)]
        deadline = time.monotonic() + 5
        while _stored(database_url) < 50 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _stored(database_url) == 50
        with session_factory(database_url)() as session:
            row = session.get(Exposure, ids[7])
        assert row is not None
        assert (row.user_id, row.variant, row.items, row.fallback) == (
            7,
            "control",
            [3, 1, 2],
            False,
        )
    finally:
        exposures.close()


def test_flush_writes_at_once_and_close_writes_the_rest(database_url: str) -> None:
    exposures = ExposureLog(database_url, interval_s=60)  # the thread never ticks here
    for user in range(10):
        _log(exposures, user)
    assert exposures.flush() == 10
    assert _stored(database_url) == 10
    assert exposures.flush() == 0
    for user in range(5):
        _log(exposures, user)
    exposures.close()
    assert _stored(database_url) == 15


def test_a_recommendation_id_is_stored_once(database_url: str) -> None:
    exposures = ExposureLog(database_url, interval_s=60)
    rid = _log(exposures, 1)
    exposures.flush()
    _log(exposures, 1, rid)
    _log(exposures, 2)
    assert exposures.flush() == 2
    exposures.close()
    assert _stored(database_url) == 2


def test_log_after_close_is_dropped_and_counted(database_url: str) -> None:
    exposures = ExposureLog(database_url)
    exposures.close()
    _log(exposures, 1)
    assert exposures.dropped == 1
    assert _stored(database_url) == 0


def test_a_failed_write_keeps_the_rows_for_the_next_try(sqlite_url: str, data_root: Path) -> None:
    exposures = ExposureLog(f"sqlite:///{data_root / 'unmigrated.db'}", interval_s=60)
    _log(exposures, 1)
    with pytest.raises(OperationalError, match="no such table"):
        exposures.flush()
    # still pending: once the log points at a migrated catalogue they are written
    exposures.database_url = sqlite_url
    assert exposures.flush() == 1
    exposures.close()
    assert _stored(sqlite_url) == 1


def test_the_pending_buffer_is_bounded(sqlite_url: str) -> None:
    exposures = ExposureLog(sqlite_url, interval_s=60, max_pending=3)
    for user in range(5):
        _log(exposures, user)
    assert exposures.flush() == 3
    assert exposures.dropped == 2
    exposures.close()
