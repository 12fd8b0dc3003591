"""The videos frame the feature tables read, from the catalogue database and hand-made frames."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pandas as pd
import pytest

from core import columns as c
from core.db.models import Video
from core.db.session import session_scope
from core.errors import DatasetError
from features.videos import VIDEO_COLUMNS, conform_videos, empty_videos, load_videos


def test_load_videos_reads_lists_languages_durations_and_utc_times(sqlite_url: str) -> None:
    with session_scope(sqlite_url) as session:
        session.add_all(
            [
                Video(
                    title="a",
                    genres=["Drama", "Comedy"],
                    language="en",
                    duration_s=600.0,
                    created_at=datetime(2024, 1, 1, tzinfo=UTC),
                    published_at=datetime(2024, 1, 2, 8, 30, tzinfo=UTC),
                ),
                Video(title="b", created_at=datetime(2024, 2, 1, tzinfo=UTC)),
            ]
        )
    videos = load_videos(sqlite_url)
    assert list(videos.columns) == list(VIDEO_COLUMNS)
    assert videos[c.VIDEO_ID].dtype == "int64"
    assert list(videos["genres"]) == [["Drama", "Comedy"], []]
    assert list(videos["language"]) == ["en", ""]
    assert videos["duration_s"].iloc[0] == 600.0 and math.isnan(videos["duration_s"].iloc[1])
    for col in ("published_at", "created_at"):
        assert str(videos[col].dtype) == "datetime64[us, UTC]"
    assert videos["published_at"].iloc[0] == pd.Timestamp("2024-01-02T08:30Z")
    assert pd.isna(videos["published_at"].iloc[1])
    assert videos["created_at"].iloc[1] == pd.Timestamp("2024-02-01T00:00Z")


def test_empty_and_malformed_video_frames() -> None:
    empty = empty_videos()
    assert empty.empty and list(empty.columns) == list(VIDEO_COLUMNS)
    assert str(empty["published_at"].dtype) == "datetime64[us, UTC]"
    row = {"video_id": 1, "genres": ("a", "a", ""), "language": None, "duration_s": None}
    frame = pd.DataFrame([{**row, "published_at": "2024-01-01", "created_at": None}])
    assert conform_videos(frame)["genres"].iloc[0] == ["a"]  # distinct, non-empty
    with pytest.raises(DatasetError, match="lacks columns: created_at"):
        conform_videos(frame.drop(columns="created_at"))
    with pytest.raises(DatasetError, match="non-integer video ids at rows 1"):
        conform_videos(pd.concat([frame, frame.assign(video_id=None)], ignore_index=True))
    with pytest.raises(DatasetError, match="malformed value"):
        conform_videos(frame.assign(published_at="not a date"))
