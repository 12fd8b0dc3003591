"""Feast definitions of ReelRank's user and video features (``feast init`` style).

Only module-level definitions live here: Feast imports every ``.py`` file of a repo. The
FileSource paths are relative; Feast resolves them against the repo folder that holds
``feature_store.yaml``, which ``features.store.write_store_config`` generates under the data
root (``get_settings().paths.features``), so the parquet tables live there and never in git.
Column meanings are documented once, in ``features.schema``; ``features.build`` computes them.
"""

from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, FileSource, PushSource, ValueType
from feast.types import Array, Float64, Int64, String, UnixTimestamp

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


def _source(view: str, description: str) -> FileSource:
    return FileSource(
        name=f"{view}_source",
        path=s.table_file(view),
        timestamp_field=c.EVENT_TIMESTAMP,
        created_timestamp_column=c.CREATED,
        description=description,
    )


def _dtype(name: str) -> object:
    if name in s.TIMESTAMP_FEATURES:
        return UnixTimestamp
    if name == s.USER_GENRE_WEIGHTS:
        return Array(Float64)
    if name in s.LIST_FEATURES:
        return Array(String)
    if name in s.STRING_FEATURES:
        return String
    return Int64 if name in s.INT_FEATURES else Float64


def _fields(view: str) -> list[Field]:
    return [Field(name=name, dtype=_dtype(name)) for name in s.VIEW_FEATURES[view]]  # type: ignore[arg-type]


user_activity_source = _source(s.USER_ACTIVITY, "Per-user activity snapshots (features.build).")
user_taste_source = _source(s.USER_TASTE, "Per-user taste snapshots (features.build).")
video_popularity_source = _source(s.VIDEO_POPULARITY, "Per-video engagement snapshots.")
video_content_source = _source(s.VIDEO_CONTENT, "Per-video catalogue facts.")

# Fresh user activity, recomputed from a user's events when they arrive, written online only;
# its batch source is the built table, so training reads the same definition.
user_activity_push = PushSource(
    name=s.USER_ACTIVITY_PUSH,
    batch_source=user_activity_source,
    description="User activity rows recomputed when new events arrive.",
)


def _view(name: str, entity: Entity, source: FileSource | PushSource) -> FeatureView:
    # Snapshots are cumulative: an entity's latest row never expires (ttl 0 = no limit);
    # windowed counts decay through the builder's decay rows.
    return FeatureView(
        name=name,
        entities=[entity],
        ttl=timedelta(0),
        schema=_fields(name),
        online=True,
        source=source,
        tags={"owner": "features", "entity": entity.name},
    )


# What a user has done lately and overall.
user_activity = _view(s.USER_ACTIVITY, user, user_activity_push)
# What a user likes: genre affinity, language, typical video length.
user_taste = _view(s.USER_TASTE, user, user_taste_source)
# How a video performs: reach, engagement and a decayed trending mass.
video_popularity = _view(s.VIDEO_POPULARITY, video, video_popularity_source)
# What a video is: duration, language, genres, publication time, content vector reference.
video_content = _view(s.VIDEO_CONTENT, video, video_content_source)

# Everything the ranker learns from and is served with (plus features.on_demand).
ranker_v1 = FeatureService(
    name=s.RANKER_SERVICE,
    features=[user_activity, user_taste, video_popularity, video_content],
    description="Features of the ranker: user activity and taste, video popularity and content.",
)
