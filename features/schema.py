"""Names shared by the feature tables, the Feast definitions and the feature clients.

Pure constants (no Feast import), so the table builder, the Feast repo and the clients agree
on file locations, column names and defaults without loading Feast. Each feature is computed
by one function: the four views' columns by ``features.build``, the on-demand ones by
``features.on_demand``.
"""

from __future__ import annotations

#: Feast project name used unless a caller picks another.
PROJECT = "reelrank"

#: Folder, relative to the generated Feast repo, that holds the feature parquet tables.
TABLES_DIR = "data"

#: Windows (days) of the windowed counts.
WINDOWS: tuple[int, ...] = (1, 7, 30)
#: Half-life (days) of the video trending score.
TRENDING_HALF_LIFE_DAYS = 7.0

# -- feature views ------------------------------------------------------------------------------
USER_ACTIVITY = "user_activity"
USER_TASTE = "user_taste"
VIDEO_POPULARITY = "video_popularity"
VIDEO_CONTENT = "video_content"
#: Every view, in build order.
VIEWS: tuple[str, ...] = (USER_ACTIVITY, USER_TASTE, VIDEO_POPULARITY, VIDEO_CONTENT)
#: Views keyed by user (the rest are keyed by video).
USER_VIEWS: tuple[str, ...] = (USER_ACTIVITY, USER_TASTE)
VIDEO_VIEWS: tuple[str, ...] = (VIDEO_POPULARITY, VIDEO_CONTENT)

#: Feature service that the ranker's training and serving both name.
RANKER_SERVICE = "ranker_v1"
#: Push source that fresh user activity is written to (online store only).
USER_ACTIVITY_PUSH = "user_activity_push"


def table_file(view: str) -> str:
    """The parquet file of ``view``, relative to the Feast repo (its FileSource path)."""
    return f"{TABLES_DIR}/{view}.parquet"


def _windowed(stem: str) -> tuple[str, ...]:
    return tuple(f"{stem}_{days}d" for days in WINDOWS)


# -- user_activity: what a user did, from the event log ------------------------------------------
USER_EVENTS = _windowed("user_events")  # any event in (T - w, T]
USER_PLAYS = _windowed("user_plays")  # play events
USER_COMPLETES = _windowed("user_completes")  # complete events
USER_WATCH_MINUTES = _windowed("user_watch_minutes")  # sum of watch_seconds / 60
USER_EVENTS_TOTAL = "user_events_total"  # events ever
USER_ACTIVE_DAYS_30D = "user_active_days_30d"  # distinct UTC days with an event, last 30 days
USER_SESSIONS_30D = "user_sessions_30d"  # distinct non-null session ids, last 30 days
USER_COMPLETION_RATE = "user_completion_rate"  # completion_rate(completes, plays) ever
USER_PREFERRED_HOUR = "user_preferred_hour"  # UTC hour with most events ever (ties: earliest)
USER_MEAN_RATING = "user_mean_rating"  # mean value of rate events ever (NaN: none)
USER_LAST_ACTIVE = "user_last_active"  # latest event time (timestamp)
USER_ACTIVITY_FEATURES: tuple[str, ...] = (
    *USER_EVENTS,
    *USER_PLAYS,
    *USER_COMPLETES,
    *USER_WATCH_MINUTES,
    USER_EVENTS_TOTAL,
    USER_ACTIVE_DAYS_30D,
    USER_SESSIONS_30D,
    USER_COMPLETION_RATE,
    USER_PREFERRED_HOUR,
    USER_MEAN_RATING,
    USER_LAST_ACTIVE,
)

# -- user_taste: what a user likes, from the videos they engaged with ----------------------------
# "Engaged": any event but an impression. Each engaged video counts once; its genres share
# weight 1 equally; the weights are normalised to sum to 1 over the user's genres.
USER_GENRES = "user_genres"  # list[str], by weight descending (ties: name)
USER_GENRE_WEIGHTS = "user_genre_weights"  # list[float], aligned with user_genres, sum 1
USER_LANGUAGE = "user_language"  # most frequent language of engaged videos ("" unknown)
USER_MEAN_VIDEO_MINUTES = "user_mean_video_minutes"  # mean duration of engaged videos (NaN)
USER_TASTE_FEATURES: tuple[str, ...] = (
    USER_GENRES,
    USER_GENRE_WEIGHTS,
    USER_LANGUAGE,
    USER_MEAN_VIDEO_MINUTES,
)

# -- video_popularity: how a video performs -------------------------------------------------------
VIDEO_IMPRESSIONS = _windowed("video_impressions")
VIDEO_PLAYS = _windowed("video_plays")
VIDEO_VIEWERS = _windowed("video_viewers")  # distinct users with a non-impression event
VIDEO_EVENTS_TOTAL = "video_events_total"  # non-impression events ever
VIDEO_VIEWERS_TOTAL = "video_viewers_total"  # distinct users with a non-impression event ever
VIDEO_CTR = "video_ctr"  # clicks / impressions ever (NaN: no impressions)
VIDEO_COMPLETION_RATE = "video_completion_rate"  # completion_rate(completes, plays) ever
VIDEO_LIKE_RATIO = "video_like_ratio"  # like events / viewers ever (NaN: no viewers)
VIDEO_MEAN_RATING = "video_mean_rating"  # mean value of rate events ever (NaN: none)
# Decayed count of non-impression events: sum of 2 ** -(T - t) / half-life, stated at
# VIDEO_TRENDING_AT (the row's own time); the on-demand trending score decays it to "now".
VIDEO_TRENDING_MASS = "video_trending_mass"
VIDEO_TRENDING_AT = "video_trending_at"  # timestamp
VIDEO_POPULARITY_FEATURES: tuple[str, ...] = (
    *VIDEO_IMPRESSIONS,
    *VIDEO_PLAYS,
    *VIDEO_VIEWERS,
    VIDEO_EVENTS_TOTAL,
    VIDEO_VIEWERS_TOTAL,
    VIDEO_CTR,
    VIDEO_COMPLETION_RATE,
    VIDEO_LIKE_RATIO,
    VIDEO_MEAN_RATING,
    VIDEO_TRENDING_MASS,
    VIDEO_TRENDING_AT,
)

# -- video_content: what a video is, from the catalogue -------------------------------------------
VIDEO_DURATION_SECONDS = "video_duration_seconds"  # NaN: unknown
VIDEO_LANGUAGE = "video_language"  # "" unknown
VIDEO_GENRES = "video_genres"  # list[str]
VIDEO_PUBLISHED_AT = "video_published_at"  # timestamp
VIDEO_EMBEDDING_REF = "video_embedding_ref"  # "<file name>#<video_id>" or "" (no vector)
VIDEO_CONTENT_FEATURES: tuple[str, ...] = (
    VIDEO_DURATION_SECONDS,
    VIDEO_LANGUAGE,
    VIDEO_GENRES,
    VIDEO_PUBLISHED_AT,
    VIDEO_EMBEDDING_REF,
)

#: Columns of each view's table besides the entity key, event_timestamp and created.
VIEW_FEATURES: dict[str, tuple[str, ...]] = {
    USER_ACTIVITY: USER_ACTIVITY_FEATURES,
    USER_TASTE: USER_TASTE_FEATURES,
    VIDEO_POPULARITY: VIDEO_POPULARITY_FEATURES,
    VIDEO_CONTENT: VIDEO_CONTENT_FEATURES,
}

# -- on-demand: computed per request from the rows above and the request time --------------------
USER_RECENCY_DAYS = "user_recency_days"  # days since user_last_active
VIDEO_AGE_DAYS = "video_age_days"  # days since video_published_at
VIDEO_TRENDING_SCORE = "video_trending_score"  # trending mass decayed to the request time
USER_VIDEO_GENRE_MATCH = "user_video_genre_match"  # sum of the user's weights of its genres
USER_VIDEO_LANGUAGE_MATCH = "user_video_language_match"  # 1 when both languages known, equal
ON_DEMAND_FEATURES: tuple[str, ...] = (
    USER_RECENCY_DAYS,
    VIDEO_AGE_DAYS,
    VIDEO_TRENDING_SCORE,
    USER_VIDEO_GENRE_MATCH,
    USER_VIDEO_LANGUAGE_MATCH,
)

#: Timestamp-valued columns, list-valued columns and string-valued columns; the rest numeric.
TIMESTAMP_FEATURES: frozenset[str] = frozenset(
    {USER_LAST_ACTIVE, VIDEO_TRENDING_AT, VIDEO_PUBLISHED_AT}
)
LIST_FEATURES: frozenset[str] = frozenset({USER_GENRES, USER_GENRE_WEIGHTS, VIDEO_GENRES})
STRING_FEATURES: frozenset[str] = frozenset({USER_LANGUAGE, VIDEO_LANGUAGE, VIDEO_EMBEDDING_REF})
#: Integer-valued columns (Int64 in Feast); the other numeric ones are float64.
INT_FEATURES: frozenset[str] = frozenset(
    {
        *USER_EVENTS,
        *USER_PLAYS,
        *USER_COMPLETES,
        USER_EVENTS_TOTAL,
        USER_ACTIVE_DAYS_30D,
        USER_SESSIONS_30D,
        USER_PREFERRED_HOUR,
        *VIDEO_IMPRESSIONS,
        *VIDEO_PLAYS,
        *VIDEO_VIEWERS,
        VIDEO_EVENTS_TOTAL,
        VIDEO_VIEWERS_TOTAL,
    }
)
_NON_NUMERIC = TIMESTAMP_FEATURES | LIST_FEATURES | STRING_FEATURES

#: The numeric vector the ranker learns from and is served with, in order.
RANKER_FEATURES: tuple[str, ...] = tuple(
    name
    for name in (
        *USER_ACTIVITY_FEATURES,
        *USER_TASTE_FEATURES,
        *VIDEO_POPULARITY_FEATURES,
        *VIDEO_CONTENT_FEATURES,
        *ON_DEMAND_FEATURES,
    )
    if name not in _NON_NUMERIC
)

#: Value of a ranker feature that is missing (unknown id, no row yet, undefined ratio).
#: -1 marks "unknown" where 0 would be a real value (an hour, a recency, an age).
RANKER_DEFAULTS: dict[str, float] = {
    name: (-1.0 if name in {USER_PREFERRED_HOUR, USER_RECENCY_DAYS, VIDEO_AGE_DAYS} else 0.0)
    for name in RANKER_FEATURES
}

#: The ranker's user columns, video columns and on-demand columns: RANKER_FEATURES is exactly
#: their concatenation, in this order.
USER_RANKER_FEATURES: tuple[str, ...] = tuple(
    name for name in (*USER_ACTIVITY_FEATURES, *USER_TASTE_FEATURES) if name in RANKER_FEATURES
)
VIDEO_RANKER_FEATURES: tuple[str, ...] = tuple(
    name
    for name in (*VIDEO_POPULARITY_FEATURES, *VIDEO_CONTENT_FEATURES)
    if name in RANKER_FEATURES
)
