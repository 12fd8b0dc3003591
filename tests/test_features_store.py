"""The Feast repo on the real engines: apply, materialize, online vectors, point-in-time joins,
train/serve skew, push freshness, snapshot refresh, status, SQLite and Redis."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from core import columns as c
from core.errors import DatasetError
from core.eventlog import write_events
from core.settings import Settings
from features import schema as s
from features.build import build_tables
from features.historical import HistoricalFeatures, historical_rows, training_vectors
from features.online import OnlineFeatures
from features.push import push_user_events
from features.status import feature_status
from features.store import (
    FeatureStoreError,
    apply,
    materialize,
    redis_connection_string,
    sync_features,
    write_store_config,
)
from tests.event_rows import event_row

EVENTS = [
    event_row(1, 1, "play", "2024-05-01T10:00Z", watch=120),
    event_row(1, 1, "complete", "2024-05-01T10:05Z", watch=180),  # cumulative: 3 min
    event_row(1, 1, "rate", "2024-05-01T10:06Z", value=4),
    event_row(1, 2, "impression", "2024-05-01T10:07Z"),
    event_row(2, 1, "impression", "2024-05-02T09:00Z"),
    event_row(2, 1, "click", "2024-05-02T09:01Z"),
    event_row(2, 1, "play", "2024-05-02T09:02Z", watch=30),
    event_row(2, 1, "like", "2024-05-02T09:03Z"),
]
AS_OF = datetime(2024, 5, 2, 9, 3, tzinfo=UTC)


def videos_frame() -> pd.DataFrame:
    """Two catalogue videos: 1 a Drama in English, 2 a Comedy in French."""
    published = pd.to_datetime(["2024-04-01T00:00Z", "2024-04-15T00:00Z"], utc=True)
    return pd.DataFrame(
        {
            c.VIDEO_ID: [1, 2],
            "genres": [["Drama"], ["Comedy"]],
            "language": ["en", "fr"],
            "duration_s": [600.0, 1200.0],
            "published_at": published.as_unit("us"),
            "created_at": published.as_unit("us"),
        }
    )


def _repo(
    tmp: Path,
    events: list[dict[str, object]] = EVENTS,
    online: str = "sqlite",
    redis: str | None = None,
) -> Path:
    repo = tmp / "repo"
    tables = build_tables(pd.DataFrame(events), videos_frame(), repo / s.TABLES_DIR)
    write_store_config(repo, online, redis)  # type: ignore[arg-type]
    apply(repo)
    materialize(repo, end=tables.as_of)
    return repo


def _column(frame: pd.DataFrame, name: str) -> list[float]:
    return frame[name].tolist()


def _check_vectors(client: OnlineFeatures) -> None:
    """Values hand-computed from EVENTS at AS_OF (user 1, videos 1, 2 and unknown 999)."""
    frame = client.features_for(1, [1, 2, 999], at=AS_OF)
    assert frame[c.VIDEO_ID].tolist() == [1, 2, 999]
    # user 1: three events on 05-01 and one impression, all within 30 days
    assert _column(frame, s.USER_EVENTS_TOTAL) == [4, 4, 4]
    assert _column(frame, "user_events_1d") == [4, 4, 4]  # 05-01 10:00..10:07 > AS_OF - 1 day
    assert _column(frame, "user_events_7d") == [4, 4, 4]
    assert _column(frame, "user_watch_minutes_7d") == [3.0, 3.0, 3.0]
    assert _column(frame, s.USER_COMPLETION_RATE) == [1.0, 1.0, 1.0]
    assert _column(frame, s.USER_PREFERRED_HOUR) == [10, 10, 10]
    assert _column(frame, s.USER_MEAN_RATING) == [4.0, 4.0, 4.0]
    # video 1: played by both users, one like, one click of one impression
    v1 = frame.iloc[0]
    assert v1["video_plays_30d"] == 2
    assert v1["video_viewers_30d"] == 2
    assert v1[s.VIDEO_CTR] == 1.0
    assert v1[s.VIDEO_COMPLETION_RATE] == 0.5
    assert v1[s.VIDEO_LIKE_RATIO] == 0.5
    assert v1[s.VIDEO_DURATION_SECONDS] == 600.0
    # on-demand: user 1 engaged only with video 1 (a Drama in English)
    assert _column(frame, s.USER_VIDEO_GENRE_MATCH) == [1.0, 0.0, 0.0]
    assert _column(frame, s.USER_VIDEO_LANGUAGE_MATCH) == [1.0, 0.0, 0.0]
    assert math.isclose(
        v1[s.VIDEO_AGE_DAYS],
        (AS_OF - datetime(2024, 4, 1, tzinfo=UTC)).days + 9 / 24 + 3 / 1440,
        rel_tol=1e-6,
    )
    assert frame.iloc[0][s.USER_RECENCY_DAYS] == pytest.approx(
        (AS_OF - datetime(2024, 5, 1, 10, 7, tzinfo=UTC)).total_seconds() / 86400
    )
    # an unknown video gets every video default; an unknown user every user default
    unknown = frame.iloc[2]
    for name in s.VIDEO_RANKER_FEATURES:
        assert unknown[name] == s.RANKER_DEFAULTS[name], name
    stranger = client.features_for(77, [1], at=AS_OF).iloc[0]
    for name in s.USER_RANKER_FEATURES:
        assert stranger[name] == s.RANKER_DEFAULTS[name], name
    assert stranger["video_plays_30d"] == 2


@pytest.mark.slow
def test_sync_into_sqlite_serves_hand_computed_vectors(settings: Settings) -> None:
    paths = settings.paths
    events = write_events(pd.DataFrame(EVENTS), paths.events_file)
    report = sync_features(events, paths)

    assert (report.tables.users, report.tables.videos) == (2, 2)
    config = yaml.safe_load((paths.features / "feature_store.yaml").read_text())
    assert config["online_store"] == {
        "type": "sqlite",
        "path": str(paths.features / "online_store.db"),
    }
    assert Path(config["registry"]["path"]).is_relative_to(settings.data_root.resolve())
    client = OnlineFeatures(paths.features)
    # without a catalogue there are no genres or languages, but every count is there
    frame = client.features_for(1, [1], at=AS_OF)
    assert frame.loc[0, "video_plays_30d"] == 2
    assert frame.loc[0, s.USER_VIDEO_GENRE_MATCH] == 0.0
    status = feature_status(paths.features)
    assert status.healthy, status.lines()
    assert [v.name for v in status.views] == list(s.VIEWS)
    rows = {v.name: v.table_rows for v in status.views}
    assert rows[s.VIDEO_CONTENT] == 0  # no catalogue videos
    assert all(rows[view] for view in (s.USER_ACTIVITY, s.USER_TASTE, s.VIDEO_POPULARITY))


@pytest.mark.slow
def test_online_vectors_are_hand_computed_and_unknown_ids_get_defaults(tmp_path: Path) -> None:
    _check_vectors(OnlineFeatures(_repo(tmp_path)))


@pytest.mark.slow
@pytest.mark.redis
def test_the_redis_online_store_serves_the_same_vectors(tmp_path: Path, redis_url: str) -> None:
    repo = _repo(tmp_path, online="redis", redis=redis_url)
    config = yaml.safe_load((repo / "feature_store.yaml").read_text())
    assert config["online_store"] == {
        "type": "redis",
        "connection_string": redis_connection_string(redis_url),
    }
    assert not (repo / "online_store.db").exists()
    _check_vectors(OnlineFeatures(repo))


@pytest.mark.slow
def test_a_point_in_time_join_never_reads_a_value_stamped_after_the_label(
    tmp_path: Path,
) -> None:
    """User 1 plays video 1 on 05-01 and again on 05-10. A label on 05-05 must see one play;
    a label on 05-11 two; a label before any event sees the defaults."""
    events = [
        event_row(1, 1, "play", "2024-05-01T10:00Z", watch=60),
        event_row(1, 1, "play", "2024-05-10T10:00Z", watch=60),
        event_row(2, 1, "play", "2024-05-10T11:00Z", watch=60),
    ]
    repo = _repo(tmp_path, events)
    labels = pd.DataFrame(
        {
            c.USER_ID: [1, 1, 1, 1],
            c.VIDEO_ID: [1, 1, 1, 1],
            c.EVENT_TIMESTAMP: pd.to_datetime(
                [
                    "2024-04-30T00:00Z",
                    "2024-05-05T00:00Z",
                    "2024-05-10T10:30Z",
                    "2024-05-11T12:00Z",
                ],
                utc=True,
            ),
        }
    )
    rows = historical_rows(repo, labels)
    # the 05-10 10:00 play is the same day as the third label: the day's row lands at midnight
    assert rows[s.USER_EVENTS_TOTAL].tolist()[1:] == [1, 1, 2]
    assert pd.isna(rows[s.USER_EVENTS_TOTAL].iloc[0])
    assert rows["video_viewers_30d"].tolist()[1:] == [1, 1, 2]
    for stamp, last in zip(
        labels[c.EVENT_TIMESTAMP][1:], rows[s.USER_LAST_ACTIVE][1:], strict=True
    ):
        assert pd.Timestamp(last) <= stamp  # nothing from after the label
    vectors = training_vectors(repo, labels)
    first = dict(zip(s.RANKER_FEATURES, vectors[0], strict=True))
    assert all(first[n] == s.RANKER_DEFAULTS[n] for n in s.USER_RANKER_FEATURES)


@pytest.mark.slow
def test_training_and_serving_vectors_are_equal_for_the_same_user_video_and_moment(
    tmp_path: Path,
) -> None:
    repo = _repo(tmp_path)
    users = np.array([1, 2, 77])
    items = np.array([[1, 2, 999], [2, 1, -1], [1, 2, 3]])
    offline = HistoricalFeatures(repo, AS_OF).pair_features(users, items)
    client = OnlineFeatures(repo)
    for i, user in enumerate(users):
        online = client.vectors(int(user), items[i][items[i] >= 0], at=AS_OF)
        np.testing.assert_array_equal(offline[i][items[i] >= 0], online)
    # wide candidate rows are asked 500 at a time; an over-wide single call is refused
    wide = np.tile(np.array([1, 2, 999, -1]), 160)[None, :]
    rows = client.pair_features(np.array([1]), wide)
    assert rows.shape == (1, 640, len(s.RANKER_FEATURES))
    np.testing.assert_array_equal(rows[0, 4:8], rows[0, 600:604])
    with pytest.raises(ValueError, match="at most 500"):
        client.vectors(1, wide[0, :501], at=AS_OF)
    # the assembled vector is [user | video | on-demand], exactly RANKER_FEATURES
    assert (
        *s.USER_RANKER_FEATURES,
        *s.VIDEO_RANKER_FEATURES,
        *s.ON_DEMAND_FEATURES,
    ) == s.RANKER_FEATURES


@pytest.mark.slow
def test_pushed_events_update_the_users_online_features_within_seconds(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    log = write_events(pd.DataFrame(EVENTS), tmp_path / "events.parquet")
    client = OnlineFeatures(repo, check_every_s=0.0)
    at = datetime(2024, 5, 3, 12, 30, tzinfo=UTC)
    before = client.features_for(1, [2], at=at).iloc[0]
    assert before[s.USER_EVENTS_TOTAL] == 4
    assert before["user_plays_7d"] == 1  # windowed counts are stated at the row's time

    new = pd.DataFrame(
        [
            event_row(1, 2, "play", "2024-05-03T12:00Z", watch=90),
            event_row(1, 2, "complete", "2024-05-03T12:01Z", watch=120),  # cumulative
        ]
    )
    started = datetime.now(UTC)
    report = push_user_events(repo, new, log)
    after = client.features_for(1, [2], at=at).iloc[0]
    assert (datetime.now(UTC) - started).total_seconds() < 5
    assert report.users == 1
    assert after[s.USER_EVENTS_TOTAL] == 6
    assert after["user_plays_7d"] == 2
    assert after["user_plays_1d"] == 1  # the 05-01 play left the 1-day window
    assert after["user_watch_minutes_1d"] == 2.0
    assert after[s.USER_RECENCY_DAYS] == pytest.approx(29 / 1440)
    # the other user is untouched
    assert client.features_for(2, [1], at=at).iloc[0][s.USER_EVENTS_TOTAL] == 4
    # a malformed event is refused with its row number, and nothing is pushed
    bad = pd.DataFrame([event_row(1, 2, "play", "2024-05-03T13:00Z", watch=-5)])
    with pytest.raises(DatasetError, match="row 0"):
        push_user_events(repo, bad, log)
    assert client.features_for(1, [2], at=at).iloc[0][s.USER_EVENTS_TOTAL] == 6


@pytest.mark.slow
def test_the_video_snapshot_refreshes_when_a_materialization_lands(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    client = OnlineFeatures(repo, check_every_s=0.0)
    first = client.snapshot
    assert client.features_for(1, [2], at=AS_OF).iloc[0]["video_plays_30d"] == 0
    assert client.snapshot is first  # nothing landed: the same snapshot
    push_user_events(repo, pd.DataFrame([event_row(1, 2, "play", "2024-05-04T07:00Z")]))
    assert client.snapshot.values is first.values, "a push changes user rows only: no reload"

    more = [*EVENTS, event_row(2, 2, "play", "2024-05-04T08:00Z", watch=10)]
    tables = build_tables(pd.DataFrame(more), videos_frame(), repo / s.TABLES_DIR)
    materialize(repo, end=tables.as_of)
    at = datetime(2024, 5, 4, 9, tzinfo=UTC)
    assert client.features_for(1, [2], at=at).iloc[0]["video_plays_30d"] == 1
    assert client.snapshot is not first
    assert client.snapshot.version != first.version


def test_apply_names_the_feature_view_whose_source_is_missing(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    build_tables(pd.DataFrame(EVENTS), videos_frame(), repo / s.TABLES_DIR)
    (repo / s.table_file(s.VIDEO_CONTENT)).unlink()
    write_store_config(repo, "sqlite", None)
    with pytest.raises(FeatureStoreError, match="feature view 'video_content' has no source table"):
        apply(repo)


def test_status_of_a_missing_repo_says_what_to_run(tmp_path: Path) -> None:
    status = feature_status(tmp_path / "nowhere")
    assert not status.healthy
    assert "reelrank features build" in status.lines()[0]


def test_redis_urls_become_feast_connection_strings() -> None:
    assert redis_connection_string("redis://127.0.0.1:6379/15") == "127.0.0.1:6379,db=15"
    assert redis_connection_string("redis://localhost") == "localhost:6379"
    assert (
        redis_connection_string("rediss://:s3cret@cache:6380/2")
        == "cache:6380,db=2,password=s3cret,ssl=true"
    )
    assert redis_connection_string("10.0.0.5:6379,db=3") == "10.0.0.5:6379,db=3"
    with pytest.raises(FeatureStoreError, match="not a Redis URL"):
        redis_connection_string("http://127.0.0.1:6379/1")
    with pytest.raises(FeatureStoreError, match="must be a number, got 'x'"):
        redis_connection_string("redis://127.0.0.1:6379/x")


def test_setup_mistakes_raise_clear_errors(settings: Settings) -> None:
    repo = settings.paths.features
    with pytest.raises(DatasetError, match="no event log at"):
        sync_features(settings.paths.events_file, settings.paths)
    with pytest.raises(FeatureStoreError, match="needs a connection"):
        write_store_config(repo, "redis", None)
    with pytest.raises(FeatureStoreError, match="unknown online store 'memory'"):
        write_store_config(repo, "memory", None)  # type: ignore[arg-type]
    with pytest.raises(FeatureStoreError, match=r"no feature_store\.yaml"):
        OnlineFeatures(repo)
