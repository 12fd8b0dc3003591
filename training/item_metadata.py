"""Item metadata from the catalogue database, for content features, filters and explanations."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select

from core import columns as c
from core.db.models import Video
from core.db.session import get_engine

#: Columns of the frame ``load_item_metadata`` returns, in order.
METADATA_COLUMNS: tuple[str, ...] = (
    c.VIDEO_ID,
    "title",
    "description",
    "genres",
    "tags",
    "language",
    "release_year",
)


def load_item_metadata(database_url: str) -> pd.DataFrame:
    """Every video's id, title, description, genres and tags (lists), language and release
    year (nullable Int64), ordered by id; an empty frame with the columns when there is none."""
    query = select(
        Video.id,
        Video.title,
        Video.description,
        Video.genres,
        Video.tags,
        Video.language,
        Video.release_year,
    ).order_by(Video.id)
    with get_engine(database_url).connect() as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=list(METADATA_COLUMNS))
    frame[c.VIDEO_ID] = frame[c.VIDEO_ID].astype("int64")
    for col in ("genres", "tags"):
        frame[col] = [list(v) if isinstance(v, list | tuple) else [] for v in frame[col]]
    frame["description"] = frame["description"].fillna("")
    frame["release_year"] = pd.array(frame["release_year"], dtype="Int64")
    return frame
