"""Personalized recommendations."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Query
from pydantic import StringConstraints
from sqlalchemy import select

from core.db.models import InteractionEvent, Video
from core.types import EventType
from serving.deps import RecommenderDep, SessionDep
from serving.params import UserId
from serving.schemas import Recommendations, RecommendedVideo
from serving.visibility import unavailable_video_ids

router = APIRouter(tags=["recommendations"])

#: Event types that mean the user has already consumed the video.
CONSUMED = (EventType.PLAY, EventType.COMPLETE, EventType.LIKE, EventType.RATE)
#: Most genres a request may name, and the longest genre name.
MAX_GENRES = 20
MAX_GENRE_LENGTH = 64


@router.get("/users/{user_id}/recommendations", response_model=Recommendations)
def recommendations(
    user_id: UserId,
    session: SessionDep,
    recommender: RecommenderDep,
    k: Annotated[int, Query(ge=1, le=100, description="How many videos.")] = 10,
    genre: Annotated[
        list[Annotated[str, StringConstraints(min_length=1, max_length=MAX_GENRE_LENGTH)]] | None,
        Query(max_length=MAX_GENRES, description="Genres a new user chose (used for cold start)."),
    ] = None,
) -> Recommendations:
    """Top-k videos for a user through the served pipeline, each with why it was chosen.

    Videos the user already consumed (in training data or logged since) and videos that are
    not public and ready are never returned; unknown users get trending videos (of their
    chosen genres first).
    """
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
    explained = pipeline.recommend_explained(
        users,
        k,
        seen=seen,
        unavailable=unavailable_video_ids(session),
        genres=[genre] if genre else None,
    )[0]
    wanted = {item.video_id for item in explained} | {
        item.anchor_id for item in explained if item.anchor_id is not None
    }
    titles = dict(session.execute(select(Video.id, Video.title).where(Video.id.in_(wanted))).all())
    items = [
        RecommendedVideo(
            video_id=item.video_id,
            title=titles[item.video_id],
            score=float(item.score),
            source=item.source,
            reason=(
                f"because you watched {titles[item.anchor_id]}"
                if item.anchor_id in titles
                else item.reason
            ),
            anchor_video_id=item.anchor_id,
        )
        for item in explained
        if item.video_id in titles
    ]
    return Recommendations(
        user_id=user_id,
        model=recommender.model_label or "",
        cold_start=not bool(pipeline.personalized(users)[0]),
        items=items,
    )
