"""Search: hybrid results with filters and boosts, and completion while typing."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime
from sqlalchemy.orm import Session

from core.errors import ReelRankError
from serving.auth import OptionalPrincipal
from serving.deps import SessionDep
from serving.params import Limit
from serving.search_index import query_words
from serving.search_models import SearchItem, SearchPage, Suggestions
from serving.search_service import SearchFilters, SearchService

log = logging.getLogger(__name__)

router = APIRouter(prefix="/search", tags=["search"])

#: Deepest result reachable (the fused list holds at most 400 candidates).
MAX_SEARCH_OFFSET = 400
MAX_DURATION_S = 10 * 86_400.0


def _service(request: Request) -> SearchService:
    service: SearchService = request.app.state.search
    return service


@router.get("", response_model=SearchPage)
def search(
    request: Request,
    session: SessionDep,
    viewer: OptionalPrincipal,
    q: Annotated[
        str, Query(min_length=1, max_length=200, description="Words to look for; typos are ok.")
    ],
    genre: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    min_duration_s: Annotated[float | None, Query(ge=0, le=MAX_DURATION_S)] = None,
    max_duration_s: Annotated[float | None, Query(ge=0, le=MAX_DURATION_S)] = None,
    published_after: Annotated[AwareDatetime | None, Query()] = None,
    published_before: Annotated[AwareDatetime | None, Query()] = None,
    mode: Annotated[Literal["hybrid", "lexical"], Query()] = "hybrid",
    limit: Limit = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_SEARCH_OFFSET)] = 0,
) -> SearchPage:
    """Public, ready videos matching ``q`` in title, description, tags, creator or
    transcript (lexical) or in meaning (semantic), fused, filtered and boosted by recency,
    popularity and the signed-in viewer's genre affinity (from the feature store)."""
    if not query_words(q):
        raise ReelRankError("query must contain at least one word")
    low, high = min_duration_s, max_duration_s
    if low is not None and high is not None and low > high:
        raise ReelRankError("min_duration_s is above max_duration_s")
    service = _service(request)
    affinity = _affinity(request, session, service, viewer.user_id) if viewer else None
    session.close()
    result = service.search(
        q,
        SearchFilters(
            genre=genre,
            min_duration_s=min_duration_s,
            max_duration_s=max_duration_s,
            published_after=_utc(published_after),
            published_before=_utc(published_before),
        ),
        limit=limit,
        offset=offset,
        mode=mode,
        affinity=affinity,
    )
    items = [
        SearchItem(
            id=hit.meta.video_id,
            title=hit.meta.title,
            channel=hit.meta.channel,
            duration_s=hit.meta.duration_s,
            genres=list(hit.meta.genres),
            premium=hit.meta.premium,
            score=hit.score,
            lexical_rank=hit.lexical_rank,
            semantic_rank=hit.semantic_rank,
        )
        for hit in result.hits
    ]
    return SearchPage(items=items, total=result.total, limit=limit, offset=offset, mode=result.mode)


def _affinity(
    request: Request, session: Session, service: SearchService, user_id: int
) -> dict[str, float]:
    """The viewer's genre shares: from the feature store's ``user_taste`` view; when the
    store is not set up, cannot be read or has no row for the viewer yet (a new account),
    from their latest plays in the catalogue."""
    features = request.app.state.recommender.online_features()
    if features is not None:
        try:
            taste = features.genre_affinity(user_id)
        except Exception as exc:  # an unreadable store must not fail search
            log.warning("search without the feature store's genre affinity: %s", exc)
            taste = None
        if taste:
            return taste
    return service.viewer_affinity(session, user_id)


def _utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC) if moment is not None else None


@router.get("/suggest", response_model=Suggestions)
def suggest(
    request: Request,
    q: Annotated[str, Query(min_length=1, max_length=100, description="What is typed so far.")],
    limit: Annotated[int, Query(ge=1, le=20)] = 8,
) -> Suggestions:
    """Titles and channel names that start with ``q``; when none does, the titles that
    search matches best (typos tolerated)."""
    return Suggestions(suggestions=_service(request).suggest(q, limit))
