"""Feast definitions of ReelRank's user and video features (``feast init`` style).

Only module-level definitions live here: Feast imports every ``.py`` file of a repo. The
FileSource paths are relative; Feast resolves them against the repo folder that holds
``feature_store.yaml``, which ``features.store.write_store_config`` generates under the data
root (``get_settings().paths.features``), so the parquet tables live there and never in git.
"""

from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.types import Float64, Int64, UnixTimestamp

from core import columns as c
from features import schema as s

# A viewer; its features are keyed by the catalogue's user id.
user = Entity(
    name="user",
    join_keys=[c.USER_ID],
    value_type=ValueType.INT64,
    description="A viewer of the streaming service.",
)

# A video of the catalogue; its features are keyed by the catalogue's video id.
video = Entity(
    name="video",
    join_keys=[c.VIDEO_ID],
    value_type=ValueType.INT64,
    description="A video in the catalogue.",
)

# Daily snapshots of each user's cumulative activity, written by features.build.
user_stats_source = FileSource(
    name="user_stats_source",
    path=s.USER_STATS_FILE,
    timestamp_field=c.EVENT_TIMESTAMP,
    created_timestamp_column=c.CREATED,
    description="Per-user activity snapshots built from the event log.",
)

# Daily snapshots of each video's cumulative engagement, written by features.build.
video_stats_source = FileSource(
    name="video_stats_source",
    path=s.VIDEO_STATS_FILE,
    timestamp_field=c.EVENT_TIMESTAMP,
    created_timestamp_column=c.CREATED,
    description="Per-video engagement snapshots built from the event log.",
)

# What a user has done: volume, recency, breadth and taste. Snapshots are cumulative, so a
# user's latest row never expires (ttl 0 = no limit).
user_stats = FeatureView(
    name=s.USER_STATS,
    entities=[user],
    ttl=timedelta(0),
    schema=[
        Field(name=c.USER_ID, dtype=Int64),
        Field(name=s.USER_EVENTS_7D, dtype=Int64, description="Events in the last 7 days."),
        Field(name=s.USER_EVENTS_TOTAL, dtype=Int64, description="Events ever."),
        Field(name=s.USER_PLAYS, dtype=Int64, description="Play events ever."),
        Field(name=s.USER_WATCH_SECONDS, dtype=Float64, description="Seconds watched ever."),
        Field(name=s.USER_DISTINCT_VIDEOS, dtype=Int64, description="Videos interacted with."),
        Field(name=s.USER_MEAN_RATING, dtype=Float64, description="Mean rating given."),
        Field(name=s.USER_LAST_ACTIVE, dtype=UnixTimestamp, description="Latest event time."),
    ],
    online=True,
    source=user_stats_source,
    tags={"owner": "features", "entity": "user"},
)

# How a video performs: reach, engagement, quality and its popularity rank among all videos.
video_stats = FeatureView(
    name=s.VIDEO_STATS,
    entities=[video],
    ttl=timedelta(0),
    schema=[
        Field(name=c.VIDEO_ID, dtype=Int64),
        Field(name=s.VIDEO_PLAYS, dtype=Int64, description="Play events ever."),
        Field(name=s.VIDEO_IMPRESSIONS, dtype=Int64, description="Impression events ever."),
        Field(name=s.VIDEO_CLICKS, dtype=Int64, description="Click events ever."),
        Field(name=s.VIDEO_CTR, dtype=Float64, description="Clicks per impression."),
        Field(name=s.VIDEO_COMPLETION_RATE, dtype=Float64, description="Completes per play."),
        Field(name=s.VIDEO_MEAN_WATCH_SECONDS, dtype=Float64, description="Seconds per play."),
        Field(name=s.VIDEO_LIKES, dtype=Int64, description="Like events ever."),
        Field(name=s.VIDEO_MEAN_RATING, dtype=Float64, description="Mean rating received."),
        Field(name=s.VIDEO_POPULARITY_RANK, dtype=Int64, description="1 = most plays."),
    ],
    online=True,
    source=video_stats_source,
    tags={"owner": "features", "entity": "video"},
)

# Everything the first recommender ranks with: the video's and the viewer's stats.
recommender_v1 = FeatureService(
    name=s.RECOMMENDER_SERVICE,
    features=[video_stats, user_stats],
    description="Features of the v1 ranking model: video stats plus the viewer's stats.",
)
