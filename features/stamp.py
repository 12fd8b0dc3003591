"""The online store's change stamp: what last landed in it (a materialization or a push), and when.

``materialize`` and ``push`` write it; online clients watch it to refresh their in-process
video snapshot, and ``features status`` reports it. One small JSON file in the Feast repo,
replaced atomically.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

STAMP_FILE = "online_stamp.json"

Change = Literal["materialize", "push"]


@dataclass(frozen=True)
class MaterializeStamp:
    """The online store's change counter and its last materialization and push."""

    version: int
    changed_at: str
    last_change: Change
    materialized_start: str | None = None
    materialized_end: str | None = None
    materialized_at: str | None = None
    pushed_at: str | None = None
    pushed_rows: int = 0

    @property
    def materialized_end_time(self) -> datetime | None:
        """``materialized_end`` as a datetime, or None before the first materialization."""
        return datetime.fromisoformat(self.materialized_end) if self.materialized_end else None


def read_stamp(repo_dir: Path) -> MaterializeStamp | None:
    """The repo's stamp, or None when nothing has landed in its online store yet."""
    path = repo_dir / STAMP_FILE
    try:
        body = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError):
        return None
    return MaterializeStamp(**body)


def write_stamp(
    repo_dir: Path,
    change: Change,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    rows: int = 0,
) -> MaterializeStamp:
    """Record a materialization (``start``..``end``) or a push (``rows``); bump the version."""
    now = datetime.now(UTC).isoformat()
    old = read_stamp(repo_dir)
    fields = asdict(old) if old is not None else {}
    fields.update(version=(old.version + 1) if old else 1, changed_at=now, last_change=change)
    if change == "materialize":
        fields.update(
            materialized_start=start.isoformat() if start else None,
            materialized_end=end.isoformat() if end else None,
            materialized_at=now,
        )
    else:
        fields.update(pushed_at=now, pushed_rows=int(fields.get("pushed_rows", 0)) + rows)
    stamp = MaterializeStamp(**fields)
    path = repo_dir / STAMP_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(asdict(stamp), indent=2))
    tmp.replace(path)
    return stamp


def stamp_version(repo_dir: Path) -> tuple[int, int, int]:
    """A cheap change key for watchers (inode, mtime in ns, size: each write replaces the
    file); (0, 0, 0) when absent."""
    try:
        info = (repo_dir / STAMP_FILE).stat()
    except FileNotFoundError:
        return (0, 0, 0)
    return (info.st_ino, info.st_mtime_ns, info.st_size)
