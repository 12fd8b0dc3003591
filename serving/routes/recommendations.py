"""Recommendation routes: a user's list and home feed, watch-next, similar, more from the
creator, and rerank of a caller's list. Each calls one ``RecommendationService`` method."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from serving.auth import ActingForPathUser, OptionalPrincipal, check_acts_for
from serving.deps import RecommendationsDep, SettingsDep
from serving.params import MAX_ID, UserId, VideoId
from serving.request_options import RequestOptions, RerankRequest, request_options
from serving.schemas import HomeFeed, UserRecommendations, VideoRecommendations

router = APIRouter(tags=["recommendations"])
# The handlers are coroutines on purpose: their work is CPU-bound numpy plus one short
# indexed read, so running it on the event loop avoids thread hand-offs and lock contention;
# throughput comes from worker processes (`reelrank serve --workers N`).

Options = Annotated[RequestOptions, Depends(request_options)]
ViewerId = Annotated[
    int | None, Query(ge=0, le=MAX_ID, description="The viewer, to order for them.")
]


@router.get("/users/{user_id}/recommendations", response_model=UserRecommendations)
async def recommendations(
    user_id: UserId, service: RecommendationsDep, options: Options, _caller: ActingForPathUser
) -> UserRecommendations:
    """Top-k videos for a user, each with why it was chosen.

    Videos the user consumed (in training data or logged since) and videos that are not
    public and ready are never returned; unknown users get trending videos (of their chosen
    genres first); without a model the list is trending with ``fallback`` set.
    """
    return service.user_list(user_id, options)


@router.get("/users/{user_id}/home", response_model=HomeFeed)
async def home(
    user_id: UserId, service: RecommendationsDep, options: Options, _caller: ActingForPathUser
) -> HomeFeed:
    """A user's home feed: for you; because you watched X; trending; new from channels the
    user follows (``k`` per row, each row without the rows above it)."""
    return service.home(user_id, options)


@router.get("/videos/{video_id}/watch-next", response_model=VideoRecommendations)
async def watch_next(
    video_id: VideoId,
    service: RecommendationsDep,
    options: Options,
    caller: OptionalPrincipal,
    settings: SettingsDep,
    user_id: ViewerId = None,
) -> VideoRecommendations:
    """What to play after a video, ordered for ``user_id`` when given."""
    if user_id is not None:
        check_acts_for(caller, user_id, settings)
    return service.watch_next(video_id, user_id, options)


@router.get("/videos/{video_id}/similar", response_model=VideoRecommendations)
async def similar(
    video_id: VideoId, service: RecommendationsDep, options: Options
) -> VideoRecommendations:
    """Videos like this one."""
    return service.similar(video_id, options)


@router.get("/videos/{video_id}/more-from-creator", response_model=VideoRecommendations)
async def more_from_creator(
    video_id: VideoId, service: RecommendationsDep, options: Options
) -> VideoRecommendations:
    """The creator's other videos, newest first."""
    return service.more_from_creator(video_id, options)


@router.post("/rerank", response_model=UserRecommendations)
async def rerank(
    body: RerankRequest,
    service: RecommendationsDep,
    caller: OptionalPrincipal,
    settings: SettingsDep,
) -> UserRecommendations:
    """The caller's own ``video_ids`` ordered for ``user_id``: none dropped or added."""
    check_acts_for(caller, body.user_id, settings)
    options = RequestOptions(
        k=len(body.video_ids), context=body.context, fields=tuple(dict.fromkeys(body.fields))
    )
    return service.rerank(body.user_id, body.video_ids, options)
