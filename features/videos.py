"""The catalogue columns the feature tables need, read from the database as one frame.

``genres`` are always lists of strings, ``language`` a string ("" unknown), ``duration_s``
float64 (NaN unknown) and ``published_at`` / ``created_at`` microsecond UTC timestamps (NaT
unknown; naive database values mean UTC).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core import columns as c
from core.errors import DatasetError

if TYPE_CHECKING:
    import pandas as pd

#: Columns of the videos frame, in order.
VIDEO_COLUMNS: tuple[str, ...] = (
    c.VIDEO_ID,
    "genres",
    "language",
    "duration_s",
    "published_at",
    "created_at",
)


def load_videos(database_url: str) -> pd.DataFrame:
    """Every video of the catalogue at ``database_url`` as a conformed frame, ordered by id."""
    import pandas as pd
    from sqlalchemy import select

    from core.db.models import Video
    from core.db.session import get_engine

    query = select(
        Video.id,
        Video.genres,
        Video.language,
        Video.duration_s,
        Video.published_at,
        Video.created_at,
    ).order_by(Video.id)
    with get_engine(database_url).connect() as conn:
        rows = conn.execute(query).all()
    return conform_videos(pd.DataFrame([tuple(r) for r in rows], columns=list(VIDEO_COLUMNS)))


def empty_videos() -> pd.DataFrame:
    """A videos frame with no rows and the conformed dtypes."""
    import pandas as pd

    return conform_videos(pd.DataFrame(columns=list(VIDEO_COLUMNS)))


def conform_videos(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with exactly ``VIDEO_COLUMNS`` in the conformed dtypes.

    Raises DatasetError for a missing column, a missing or non-integer video id, a
    duplicated id or an unparseable timestamp or duration.
    """
    import numpy as np
    import pandas as pd

    missing = [col for col in VIDEO_COLUMNS if col not in frame]
    if missing:
        raise DatasetError(f"videos frame lacks columns: {', '.join(missing)}")
    frame = frame.reset_index(drop=True)
    ids = pd.to_numeric(frame[c.VIDEO_ID], errors="coerce")
    bad = np.flatnonzero(ids.isna().to_numpy() | (ids.fillna(0) % 1 != 0).to_numpy())
    if len(bad):
        rows = ", ".join(map(str, bad[:5]))
        raise DatasetError(f"videos frame has missing or non-integer video ids at rows {rows}")
    ids = ids.astype("int64")
    if ids.duplicated().any():
        shown = ", ".join(map(str, sorted(set(ids[ids.duplicated()]))[:5]))
        raise DatasetError(f"videos frame has duplicated video ids: {shown}")
    try:
        out = pd.DataFrame(
            {
                c.VIDEO_ID: ids,
                "genres": pd.Series([_genres(v) for v in frame["genres"]], dtype=object),
                "language": pd.Series([_language(v) for v in frame["language"]], dtype=object),
                "duration_s": pd.to_numeric(frame["duration_s"]).astype("float64"),
                "published_at": _timestamps(frame["published_at"]),
                "created_at": _timestamps(frame["created_at"]),
            }
        )
    except (TypeError, ValueError) as exc:
        raise DatasetError(f"videos frame has a malformed value: {exc}") from exc
    return out


def _genres(value: Any) -> list[str]:
    """A genre list: the distinct non-empty names in order; anything but a sequence is []."""
    import numpy as np

    if not isinstance(value, list | tuple | np.ndarray):
        return []
    names = (str(v) for v in value if v is not None and str(v) != "")
    return list(dict.fromkeys(names))


def _language(value: Any) -> str:
    """A language code; None and NaN are ""."""
    return value if isinstance(value, str) else ""


def _timestamps(values: pd.Series) -> pd.Series:
    """``values`` as microsecond UTC timestamps (naive means UTC)."""
    import pandas as pd
    from pandas.api.types import is_datetime64_any_dtype

    if is_datetime64_any_dtype(values):
        return pd.to_datetime(values, utc=True).dt.as_unit("us")
    return pd.to_datetime(values, utc=True, format="mixed").dt.as_unit("us")
