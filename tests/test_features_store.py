"""The generated Feast repo with real Feast: apply, materialize, online lookups (SQLite, Redis)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
import yaml

from core import columns as c
from core.errors import DatasetError, NotFoundError
from core.eventlog import write_events
from core.settings import Settings
from features import schema as s
from features.store import (
    FeatureClient,
    FeatureStoreError,
    materialize,
    open_store,
    redis_connection_string,
    sync_features,
    write_store_config,
)
from tests.event_rows import event_row

EVENTS = [
    event_row(1, 1, "play", "2024-05-01T10:00Z", watch=100),
    event_row(1, 1, "complete", "2024-05-01T10:05Z", watch=20),
    event_row(1, 1, "rate", "2024-05-01T10:06Z", value=4),
    event_row(1, 2, "impression", "2024-05-01T10:07Z"),
    event_row(2, 1, "impression", "2024-05-02T09:00Z"),
    event_row(2, 1, "click", "2024-05-02T09:01Z"),
    event_row(2, 1, "play", "2024-05-02T09:02Z", watch=50),
    event_row(2, 1, "like", "2024-05-02T09:03Z"),
]

LATER = [event_row(1, 2, "play", "2024-05-03T12:00Z", watch=10)]


def _check_first_sync(client: FeatureClient) -> None:
    """Values hand-computed from EVENTS (as of the latest event, 2024-05-02 09:03)."""
    frame = client.features_for(1, [2, 1, 999])
    assert frame[c.VIDEO_ID].tolist() == [2, 1, 999]
    assert (frame[c.USER_ID] == 1).all()
    v2, v1, unknown = (frame.iloc[i] for i in range(3))
    assert v1[s.VIDEO_PLAYS] == 2
    assert v1[s.VIDEO_IMPRESSIONS] == 1
    assert v1[s.VIDEO_CTR] == 1.0
    assert v1[s.VIDEO_COMPLETION_RATE] == 0.5
    assert v1[s.VIDEO_MEAN_WATCH_SECONDS] == 85.0
    assert v1[s.VIDEO_LIKES] == 1
    assert v1[s.VIDEO_MEAN_RATING] == 4.0
    assert v1[s.VIDEO_POPULARITY_RANK] == 1
    assert (v2[s.VIDEO_PLAYS], v2[s.VIDEO_IMPRESSIONS], v2[s.VIDEO_CTR]) == (0, 1, 0.0)
    assert math.isnan(v2[s.VIDEO_COMPLETION_RATE])
    assert math.isnan(v2[s.VIDEO_MEAN_RATING])
    assert v2[s.VIDEO_POPULARITY_RANK] == 2
    assert all(math.isnan(unknown[name]) for name in s.VIDEO_FEATURES)
    for row in (v2, v1, unknown):
        assert row[s.USER_EVENTS_7D] == 4
        assert row[s.USER_EVENTS_TOTAL] == 4
        assert row[s.USER_PLAYS] == 1
        assert row[s.USER_WATCH_SECONDS] == 120.0
        assert row[s.USER_DISTINCT_VIDEOS] == 2
        assert row[s.USER_MEAN_RATING] == 4.0
        assert row[s.USER_LAST_ACTIVE] == pd.Timestamp("2024-05-01T10:07Z")

    stranger = client.features_for(77, [1])
    assert stranger.loc[0, s.VIDEO_PLAYS] == 2
    numeric = [name for name in s.USER_FEATURES if name not in s.TIMESTAMP_FEATURES]
    assert all(math.isnan(stranger.loc[0, name]) for name in numeric)
    assert pd.isna(stranger.loc[0, s.USER_LAST_ACTIVE])

    empty = client.features_for(1, [])
    assert empty.empty
    assert list(empty.columns) == [c.USER_ID, c.VIDEO_ID, *s.VIDEO_FEATURES, *s.USER_FEATURES]


def _check_after_more_events(client: FeatureClient) -> None:
    """After LATER (user 1 plays video 2 on 2024-05-03) and a second sync."""
    frame = client.features_for(1, [2])
    row = frame.iloc[0]
    assert row[s.VIDEO_PLAYS] == 1
    assert row[s.VIDEO_MEAN_WATCH_SECONDS] == 10.0
    assert row[s.VIDEO_COMPLETION_RATE] == 0.0
    assert row[s.VIDEO_POPULARITY_RANK] == 2
    assert (row[s.USER_EVENTS_TOTAL], row[s.USER_PLAYS], row[s.USER_EVENTS_7D]) == (5, 2, 5)
    assert row[s.USER_WATCH_SECONDS] == 130.0
    assert row[s.USER_LAST_ACTIVE] == pd.Timestamp("2024-05-03T12:00Z")


@pytest.mark.slow
def test_sync_into_sqlite_serves_hand_computed_features(settings: Settings) -> None:
    paths = settings.paths
    events = write_events(pd.DataFrame(EVENTS), paths.events_file)
    report = sync_features(events, paths)

    assert report.repo_dir == paths.features
    assert report.tables.user_stats == paths.features / s.USER_STATS_FILE
    assert (report.tables.users, report.tables.videos) == (2, 2)
    config = yaml.safe_load((paths.features / "feature_store.yaml").read_text())
    assert config["online_store"] == {
        "type": "sqlite",
        "path": str(paths.features / "online_store.db"),
    }
    assert Path(config["registry"]["path"]).is_relative_to(settings.data_root.resolve())
    assert (paths.features / "definitions.py").is_file()
    # The registered source keeps the relative path; Feast resolves it under the data root.
    source = open_store(paths.features).get_data_source("user_stats_source")
    assert source.path == s.USER_STATS_FILE

    client = FeatureClient(paths.features)
    _check_first_sync(client)

    write_events(pd.DataFrame(EVENTS + LATER), paths.events_file)
    sync_features(events, paths)
    _check_after_more_events(FeatureClient(paths.features))


@pytest.mark.slow
@pytest.mark.redis
def test_sync_into_redis_serves_hand_computed_features(settings: Settings, redis_url: str) -> None:
    paths = settings.paths
    events = write_events(pd.DataFrame(EVENTS), paths.events_file)
    report = sync_features(events, paths, online="redis", redis_connection=redis_url)

    config = yaml.safe_load((paths.features / "feature_store.yaml").read_text())
    assert config["online_store"] == {
        "type": "redis",
        "connection_string": redis_connection_string(redis_url),
    }
    assert report.online == "redis"
    assert not (paths.features / "online_store.db").exists()
    _check_first_sync(FeatureClient(paths.features))


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
        FeatureClient(repo)


@pytest.mark.slow
def test_an_unapplied_or_empty_repo_is_explained(settings: Settings) -> None:
    repo = settings.paths.features
    write_store_config(repo, "sqlite", None)
    with pytest.raises(NotFoundError, match="'recommender_v1' is not registered"):
        FeatureClient(repo)
    with pytest.raises(FeatureStoreError, match="no feature table at"):
        materialize(repo, end=datetime(2024, 1, 1, tzinfo=UTC))
