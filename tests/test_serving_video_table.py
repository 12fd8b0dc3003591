"""The in-memory video table: columns from catalogue rows, unknowns, row lookup by id."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from core.db.models import Channel, User, Video
from serving.video_table import VIDEO_TABLE_COLUMNS, VideoTable


def _videos() -> list[Video]:
    return [
        Video(
            id=30,
            channel_id=7,
            title="Thirty",
            genres=["Drama", "Comedy"],
            language="en",
            duration_s=1800.0,
            release_year=2021,
            published_at=datetime(2024, 1, 2, tzinfo=UTC),
        ),
        Video(
            id=10,
            channel_id=None,
            title="Ten",
            genres=[],
            language=None,
            duration_s=None,
            release_year=None,
            published_at=None,
        ),
        Video(
            id=20,
            channel_id=3,
            title="Twenty",
            genres=None,
            language="",
            duration_s=95.5,
            release_year=1999,
            published_at=datetime(2024, 1, 1, 12, 0),
        ),
    ]


def test_from_videos_sorts_by_id_and_fills_every_column() -> None:
    table = VideoTable.from_videos(_videos())
    assert len(table) == 3
    assert table.ids.dtype == np.int64
    assert table.ids.tolist() == [10, 20, 30]
    assert table.channel_id.dtype == np.int64
    assert table.channel_id.tolist() == [-1, 3, 7]
    assert table.duration_s.dtype == np.float64
    assert math.isnan(table.duration_s[0])
    assert table.duration_s[1:].tolist() == [95.5, 1800.0]
    assert math.isnan(table.release_year[0])
    assert table.release_year[1:].tolist() == [1999.0, 2021.0]
    assert table.language.dtype == object
    assert table.language.tolist() == [None, None, "en"]
    assert table.genres == (frozenset(), frozenset(), frozenset({"Drama", "Comedy"}))
    assert table.titles.tolist() == ["Ten", "Twenty", "Thirty"]


def test_published_at_is_epoch_seconds_and_naive_datetimes_are_utc() -> None:
    table = VideoTable.from_videos(_videos())
    assert math.isnan(table.published_at[0])
    assert table.published_at[1] == datetime(2024, 1, 1, 12, tzinfo=UTC).timestamp()
    assert table.published_at[2] == datetime(2024, 1, 2, tzinfo=UTC).timestamp()


def test_published_at_keeps_the_offset_of_aware_datetimes() -> None:
    plus_two = timezone(timedelta(hours=2))
    video = Video(id=1, title="x", published_at=datetime(2024, 1, 1, 2, tzinfo=plus_two))
    table = VideoTable.from_videos([video])
    assert table.published_at[0] == datetime(2024, 1, 1, tzinfo=UTC).timestamp()


def test_rows_maps_ids_to_rows_and_unknown_ids_to_minus_one() -> None:
    table = VideoTable.from_videos(_videos())
    got = table.rows(np.array([30, 10, 5, 20, 25, 31, 10]))
    assert got.dtype == np.int64
    assert got.tolist() == [2, 0, -1, 1, -1, -1, 0]


def test_rows_accepts_lists_and_empty_input() -> None:
    table = VideoTable.from_videos(_videos())
    assert table.rows(np.array([], dtype=np.int64)).tolist() == []
    assert table.rows([20]).tolist() == [1]


def test_empty_table_answers_minus_one_for_everything() -> None:
    table = VideoTable.empty()
    assert len(table) == 0
    assert table.genres == ()
    assert table.rows(np.array([1, 2, 3])).tolist() == [-1, -1, -1]
    assert VideoTable.from_videos([]).rows(np.array([4])).tolist() == [-1]


def test_columns_are_read_only() -> None:
    table = VideoTable.from_videos(_videos())
    with pytest.raises(ValueError, match="read-only"):
        table.duration_s[0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        table.ids[0] = 99


def test_repeated_ids_are_refused() -> None:
    videos = [Video(id=4, title="a"), Video(id=4, title="b"), Video(id=5, title="c")]
    with pytest.raises(ValueError, match=r"repeated video ids \[4\]"):
        VideoTable.from_videos(videos)


def test_misaligned_or_unsorted_columns_are_refused() -> None:
    base = VideoTable.from_videos(_videos())
    columns = {
        "ids": base.ids.copy(),
        "channel_id": base.channel_id.copy(),
        "duration_s": base.duration_s.copy(),
        "release_year": base.release_year.copy(),
        "published_at": base.published_at.copy(),
        "language": base.language.copy(),
        "genres": base.genres,
        "titles": base.titles.copy(),
    }
    with pytest.raises(ValueError, match="duration_s has 2 rows, not 3"):
        VideoTable(**{**columns, "duration_s": columns["duration_s"][:2]})
    with pytest.raises(ValueError, match="genres and titles need 3 rows"):
        VideoTable(**{**columns, "genres": base.genres[:1]})
    with pytest.raises(ValueError, match="strictly increasing"):
        VideoTable(**{**columns, "ids": np.array([10, 30, 20], dtype=np.int64)})


def test_rows_matches_a_dictionary_lookup_on_random_ids() -> None:
    rng = np.random.default_rng(7)
    ids = np.unique(rng.integers(0, 10_000, size=2_000))
    videos = [Video(id=int(i), title=str(i)) for i in rng.permutation(ids)]
    table = VideoTable.from_videos(videos)
    position = {int(i): row for row, i in enumerate(table.ids)}
    wanted = rng.integers(-5, 10_010, size=5_000)
    expected = [position.get(int(i), -1) for i in wanted]
    assert table.rows(wanted).tolist() == expected


def test_orm_videos_and_column_rows_from_the_catalogue_build_the_same_table(
    database_url: str,
) -> None:
    """On SQLite and PostgreSQL: stored datetimes come back naive and still mean UTC."""
    from core.db.session import session_scope
    from core.types import VideoStatus
    from serving.visibility import listed_videos

    with session_scope(database_url) as session:
        owner = User(id=1, username="owner")
        session.add_all(
            [Channel(id=3, owner=owner, name="c3"), Channel(id=7, owner=owner, name="c7")]
        )
        session.flush()
        for video in _videos():
            video.status = VideoStatus.READY
            session.add(video)
        session.add(Video(id=40, title="draft", status=VideoStatus.UPLOADED))
    with session_scope(database_url) as session:
        from_orm = VideoTable.from_videos(session.scalars(listed_videos()))
        query = listed_videos().with_only_columns(*VIDEO_TABLE_COLUMNS)
        from_rows = VideoTable.from_videos(session.execute(query))
    expected = VideoTable.from_videos(_videos())
    for table in (from_orm, from_rows):
        assert table.ids.tolist() == [10, 20, 30]
        for name in ("channel_id", "duration_s", "release_year", "published_at"):
            np.testing.assert_array_equal(getattr(table, name), getattr(expected, name))
        assert table.language.tolist() == expected.language.tolist()
        assert table.genres == expected.genres
        assert table.titles.tolist() == expected.titles.tolist()
