"""The parquet copy of the interaction event log: one schema, read by features and training."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from core import columns as c

if TYPE_CHECKING:
    import pandas as pd

#: pandas dtypes of the event log columns.
EVENT_DTYPES: dict[str, str] = {
    c.EVENT_ID: "string",
    c.USER_ID: "int64",
    c.VIDEO_ID: "int64",
    c.EVENT_TYPE: "string",
    c.VALUE: "float64",
    c.WATCH_SECONDS: "float64",
    c.EVENT_TIMESTAMP: "datetime64[us, UTC]",
    c.CLIENT_ID: "string",
    c.SESSION_ID: "string",
}

_EVENT_NAMESPACE = uuid.UUID("5b0f3c1e-7a51-4d0e-9c55-2f1c6b0a9e11")


def event_id_for(*parts: object) -> str:
    """A deterministic event id from a natural key, so re-imports are idempotent."""
    return uuid.uuid5(_EVENT_NAMESPACE, "|".join(map(str, parts))).hex


def conform(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with exactly the event columns, in order, with the log's dtypes."""
    import pandas as pd

    missing = [
        col for col in (c.USER_ID, c.VIDEO_ID, c.EVENT_TYPE, c.EVENT_TIMESTAMP) if col not in frame
    ]
    if missing:
        raise ValueError(f"events lack required columns: {', '.join(missing)}")
    out = pd.DataFrame(index=frame.index)
    for col, dtype in EVENT_DTYPES.items():
        if col in frame:
            values = frame[col]
            if col == c.EVENT_TIMESTAMP:
                values = pd.to_datetime(values, utc=True)
            out[col] = values.astype(dtype)
        else:
            out[col] = pd.Series(None, index=frame.index, dtype=dtype)
    return out.reset_index(drop=True)


def write_events(frame: pd.DataFrame, path: Path) -> Path:
    """Write ``frame`` (conformed) to parquet atomically; return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    conform(frame).to_parquet(tmp, index=False)
    tmp.replace(path)
    return path


def read_events(path: Path, event_types: list[str] | None = None) -> pd.DataFrame:
    """Read the parquet event log, optionally only some event types."""
    import pandas as pd

    if not path.exists():
        raise FileNotFoundError(f"no event log at {path}: import or synthesise data first")
    filters = [(c.EVENT_TYPE, "in", event_types)] if event_types else None
    frame = pd.read_parquet(path, filters=filters)
    return conform(frame)
