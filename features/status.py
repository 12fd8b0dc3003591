"""``reelrank features status``: per view its table rows, last materialization and staleness,
and whether the online store answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from core import columns as c
from features import schema as s
from features.stamp import read_stamp
from features.store import CONFIG_FILE


@dataclass(frozen=True)
class ViewStatus:
    """One feature view: its table and what of it the online store holds."""

    name: str
    table_rows: int | None  # None: no table
    latest_row: datetime | None
    materialized_end: datetime | None

    @property
    def behind(self) -> bool:
        """The table has rows newer than the last materialization (or was never loaded)."""
        if self.latest_row is None:
            return False
        return self.materialized_end is None or self.latest_row > self.materialized_end


@dataclass(frozen=True)
class FeatureStatus:
    """The repo's views, its online store and how stale they are."""

    repo_dir: Path
    configured: bool
    views: list[ViewStatus] = field(default_factory=list)
    materialized_at: datetime | None = None
    pushed_at: datetime | None = None
    online_ok: bool = False
    online_message: str = ""

    @property
    def staleness_s(self) -> float | None:
        """Seconds since anything last landed online (None: never)."""
        stamps = [t for t in (self.materialized_at, self.pushed_at) if t is not None]
        return (datetime.now(UTC) - max(stamps)).total_seconds() if stamps else None

    @property
    def healthy(self) -> bool:
        """Configured, materialized, no view behind its table, online store answering."""
        return (
            self.configured
            and self.materialized_at is not None
            and not any(v.behind or v.table_rows is None for v in self.views)
            and self.online_ok
        )

    def lines(self) -> list[str]:
        """Human-readable report lines."""
        if not self.configured:
            return [f"no Feast repo at {self.repo_dir}: run `reelrank features build` and `apply`"]
        out = [f"repo: {self.repo_dir}"]
        for v in self.views:
            rows = "no table" if v.table_rows is None else f"{v.table_rows} rows"
            latest = v.latest_row.isoformat() if v.latest_row else "-"
            loaded = v.materialized_end.isoformat() if v.materialized_end else "never"
            flag = "  BEHIND" if v.behind else ""
            out.append(
                f"  {v.name:<18} {rows:>12}  latest row {latest}  materialized to {loaded}{flag}"
            )
        stale = self.staleness_s
        out.append(
            "online store: "
            + ("ok" if self.online_ok else "NOT READY")
            + f" ({self.online_message})"
            + (f"; last change {stale:.0f} s ago" if stale is not None else "; nothing loaded yet")
        )
        return out


def feature_status(repo_dir: Path, probe_online: bool = True) -> FeatureStatus:
    """The status of the Feast repo at ``repo_dir`` (never raises for a missing repo)."""
    if not (repo_dir / CONFIG_FILE).is_file():
        return FeatureStatus(repo_dir=repo_dir, configured=False, online_message="no repo")
    stamp = read_stamp(repo_dir)
    end = stamp.materialized_end_time if stamp else None
    views = []
    for view in s.VIEWS:
        path = repo_dir / s.table_file(view)
        if not path.is_file():
            views.append(ViewStatus(view, None, None, end))
            continue
        rows, latest = _table_facts(path)
        views.append(ViewStatus(view, rows, latest, end))
    ok, message = False, "not probed"
    if probe_online:
        ok, message = _probe(repo_dir)
    return FeatureStatus(
        repo_dir=repo_dir,
        configured=True,
        views=views,
        materialized_at=_time(stamp.materialized_at) if stamp else None,
        pushed_at=_time(stamp.pushed_at) if stamp else None,
        online_ok=ok,
        online_message=message,
    )


def _table_facts(path: Path) -> tuple[int, datetime | None]:
    """Rows and newest ``event_timestamp`` of a table, from its parquet footer only (readiness
    probes call this often: no column is read)."""
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata
    column = meta.schema.to_arrow_schema().get_field_index(c.EVENT_TIMESTAMP)
    latest: datetime | None = None
    for group in range(meta.num_row_groups):
        stats = meta.row_group(group).column(column).statistics
        if stats is not None and stats.has_min_max:
            top = stats.max
            top = top if top.tzinfo is not None else top.replace(tzinfo=UTC)
            latest = top if latest is None else max(latest, top)
    return meta.num_rows, latest


def _probe(repo_dir: Path) -> tuple[bool, str]:
    """Whether the online store answers a user lookup, and why not."""
    from features.online import OnlineFeatures

    try:
        client = OnlineFeatures(repo_dir)
    except Exception as exc:  # report, never raise
        return False, str(exc)
    return client.health()


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
