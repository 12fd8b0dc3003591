"""Ratings of a video: the caller's own, the average, setting and removing."""

from __future__ import annotations

from fastapi import APIRouter, Response

from serving import ratings
from serving.auth import CurrentPrincipal, OptionalPrincipal
from serving.deps import EventSinkDep, FeaturePusherDep, SessionDep
from serving.params import VideoId
from serving.social_models import RatingIn, RatingOut

router = APIRouter(prefix="/videos/{video_id}/rating", tags=["ratings"])


@router.get("", response_model=RatingOut)
def get_rating(video_id: VideoId, session: SessionDep, principal: OptionalPrincipal) -> RatingOut:
    """The caller's rating (null when anonymous or unrated), the average and count."""
    user_id = principal.user_id if principal is not None else None
    return ratings.rating_of(session, user_id, video_id)


@router.put("", response_model=RatingOut)
def put_rating(
    video_id: VideoId,
    body: RatingIn,
    session: SessionDep,
    sink: EventSinkDep,
    pusher: FeaturePusherDep,
    principal: CurrentPrincipal,
) -> RatingOut:
    """Rate a video 0.5 to 5 (steps of 0.5); rating again changes it."""
    out = ratings.rate(session, sink, principal.user_id, video_id, body.value)
    pusher.submit({principal.user_id})
    return out


@router.delete("", status_code=204)
def delete_rating(video_id: VideoId, session: SessionDep, principal: CurrentPrincipal) -> Response:
    """Remove your rating (again is a no-op)."""
    ratings.unrate(session, principal.user_id, video_id)
    return Response(status_code=204)
