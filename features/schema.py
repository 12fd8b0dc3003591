"""Names shared by the feature tables, the Feast definitions and the online client.

Pure constants (no Feast import), so the table builder and the serving client agree on
file locations and column names without loading Feast.
"""

from __future__ import annotations

#: Feast project name used unless a caller picks another.
PROJECT = "reelrank"

#: Folder, relative to the generated Feast repo, that holds the feature parquet tables.
TABLES_DIR = "data"

#: Feature view names.
USER_STATS = "user_stats"
VIDEO_STATS = "video_stats"

#: Feature service the recommender reads.
RECOMMENDER_SERVICE = "recommender_v1"

#: Parquet files of the two views, relative to the Feast repo (FileSource paths).
USER_STATS_FILE = f"{TABLES_DIR}/{USER_STATS}.parquet"
VIDEO_STATS_FILE = f"{TABLES_DIR}/{VIDEO_STATS}.parquet"

# user_stats features (prefixed so user and video features never share a name).
USER_EVENTS_7D = "user_events_7d"
USER_EVENTS_TOTAL = "user_events_total"
USER_PLAYS = "user_plays"
USER_WATCH_SECONDS = "user_watch_seconds"
USER_DISTINCT_VIDEOS = "user_distinct_videos"
USER_MEAN_RATING = "user_mean_rating"
USER_LAST_ACTIVE = "user_last_active"

# video_stats features.
VIDEO_PLAYS = "video_plays"
VIDEO_IMPRESSIONS = "video_impressions"
VIDEO_CLICKS = "video_clicks"
VIDEO_CTR = "video_ctr"
VIDEO_COMPLETION_RATE = "video_completion_rate"
VIDEO_MEAN_WATCH_SECONDS = "video_mean_watch_seconds"
VIDEO_LIKES = "video_likes"
VIDEO_MEAN_RATING = "video_mean_rating"
VIDEO_POPULARITY_RANK = "video_popularity_rank"

#: user_stats feature columns, in table order.
USER_FEATURES: tuple[str, ...] = (
    USER_EVENTS_7D,
    USER_EVENTS_TOTAL,
    USER_PLAYS,
    USER_WATCH_SECONDS,
    USER_DISTINCT_VIDEOS,
    USER_MEAN_RATING,
    USER_LAST_ACTIVE,
)

#: video_stats feature columns, in table order.
VIDEO_FEATURES: tuple[str, ...] = (
    VIDEO_PLAYS,
    VIDEO_IMPRESSIONS,
    VIDEO_CLICKS,
    VIDEO_CTR,
    VIDEO_COMPLETION_RATE,
    VIDEO_MEAN_WATCH_SECONDS,
    VIDEO_LIKES,
    VIDEO_MEAN_RATING,
    VIDEO_POPULARITY_RANK,
)

#: Timestamp-valued features (everything else is numeric).
TIMESTAMP_FEATURES: frozenset[str] = frozenset({USER_LAST_ACTIVE})

#: Days covered by the ``*_7d`` window features.
WINDOW_DAYS = 7
