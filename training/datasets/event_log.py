"""Export the database's interaction events to the parquet event log."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from core import columns as c
from core.db.session import get_engine
from core.eventlog import conform

#: Rows fetched from the database per chunk.
EXPORT_CHUNK = 250_000


def export_event_log(database_url: str, events_path: Path, chunk_rows: int = EXPORT_CHUNK) -> int:
    """Write every event in the database to ``events_path`` (ordered by event id); return the count.

    Rows are streamed from the database in chunks, conformed with ``core.eventlog.conform`` and
    appended to one parquet file, which replaces ``events_path`` atomically when complete.
    """
    engine = get_engine(database_url)
    events_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = events_path.with_suffix(".parquet.tmp")
    sql = f"SELECT {', '.join(c.EVENT_COLUMNS)} FROM interaction_events ORDER BY event_id"
    total = 0
    writer: pq.ParquetWriter | None = None
    try:
        with engine.connect() as conn:
            # The driver's own cursor (server-side on PostgreSQL): no per-row wrapping.
            dbapi = conn.connection.driver_connection
            if dbapi is None:
                raise RuntimeError(f"the connection to {database_url} has no driver connection")
            postgres = conn.dialect.name == "postgresql"
            cursor = dbapi.cursor(name="reelrank_event_export") if postgres else dbapi.cursor()
            try:
                cursor.execute(sql)
                while rows := cursor.fetchmany(chunk_rows):
                    frame = pd.DataFrame.from_records(rows, columns=list(c.EVENT_COLUMNS))
                    table = _to_arrow(frame)
                    if writer is None:
                        writer = pq.ParquetWriter(tmp, table.schema)
                    writer.write_table(table)
                    total += table.num_rows
            finally:
                cursor.close()
                conn.rollback()
        if writer is None:
            empty = pd.DataFrame({col: [] for col in c.EVENT_COLUMNS})
            writer = pq.ParquetWriter(tmp, _to_arrow(empty).schema)
        writer.close()
        writer = None
        tmp.replace(events_path)
    finally:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)
    return total


def _to_arrow(frame: pd.DataFrame) -> pa.Table:
    """A raw database chunk as an arrow table with the event log's schema."""
    stamps = frame[c.EVENT_TIMESTAMP]
    if len(stamps) and isinstance(stamps.iloc[0], str):
        # SQLite stores naive UTC text; PostgreSQL returns aware datetimes.
        frame[c.EVENT_TIMESTAMP] = pd.to_datetime(stamps, format="ISO8601", utc=True)
    return pa.Table.from_pandas(conform(frame), preserve_index=False)
