"""Search over the catalogue (title match for now)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import func, select

from core.db.models import Video
from core.errors import ReelRankError
from serving.deps import SessionDep
from serving.params import Limit, Offset
from serving.schemas import VideoOut, VideoPage
from serving.visibility import listed_videos

router = APIRouter(tags=["search"])


@router.get("/search", response_model=VideoPage)
def search(
    session: SessionDep,
    q: Annotated[str, Query(min_length=1, max_length=200, description="Words of the title.")],
    limit: Limit = 20,
    offset: Offset = 0,
) -> VideoPage:
    """Public, ready videos whose title contains every word of ``q`` (case-insensitive)."""
    words = q.split()
    if not words:
        raise ReelRankError("query must contain at least one word")
    query = listed_videos()
    for word in words:
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Video.title.ilike(f"%{escaped}%", escape="\\"))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(func.length(Video.title), Video.id).limit(limit).offset(offset)
    )
    return VideoPage(
        items=[VideoOut.model_validate(v) for v in rows], total=total, limit=limit, offset=offset
    )
