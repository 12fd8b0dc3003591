"""Personalized recommendations."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Path, Query
from sqlalchemy import select

from core.db.models import InteractionEvent, Video
from core.types import EventType
from serving.catalogue import unavailable_video_ids
from serving.deps import RecommenderDep, SessionDep
from serving.schemas import Recommendations, RecommendedVideo

router = APIRouter(tags=["recommendations"])

#: Event types that mean the user has already consumed the video.
CONSUMED = (EventType.PLAY, EventType.COMPLETE, EventType.LIKE, EventType.RATE)


@router.get("/users/{user_id}/recommendations", response_model=Recommendations)
def recommendations(
    user_id: Annotated[int, Path(ge=0)],
    session: SessionDep,
    recommender: RecommenderDep,
    k: Annotated[int, Query(ge=1, le=100, description="How many videos.")] = 10,
) -> Recommendations:
    """Top-k videos for a user: ALS via FAISS, popularity for unknown users; watched excluded."""
    pipeline = recommender.pipeline
    users = np.array([user_id], dtype=np.int64)
    watched = set(
        session.scalars(
            select(InteractionEvent.video_id).where(
                InteractionEvent.user_id == user_id, InteractionEvent.event_type.in_(CONSUMED)
            )
        )
    )
    seen = [pipeline.seen_items(users)[0] | watched]
    ids, scores = pipeline.recommend(
        users, k, seen=seen, unavailable=unavailable_video_ids(session)
    )
    personalized = bool(pipeline.personalized(users)[0])
    keep = ids[0] >= 0
    ranked = [int(i) for i in ids[0][keep]]
    titles = dict(session.execute(select(Video.id, Video.title).where(Video.id.in_(ranked))).all())
    items = [
        RecommendedVideo(
            video_id=video_id,
            title=titles.get(video_id, ""),
            score=float(score),
            source="als" if personalized else "popularity",
        )
        for video_id, score in zip(ranked, scores[0][keep], strict=True)
        if video_id in titles
    ]
    return Recommendations(
        user_id=user_id,
        model=recommender.model_label or "",
        cold_start=not personalized,
        items=items,
    )
