"""Response bodies of the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.types import VideoStatus, Visibility


class VideoOut(BaseModel):
    """A catalogue entry as apps see it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    description: str
    tags: list[str]
    genres: list[str]
    language: str | None
    duration_s: float | None
    release_year: int | None
    visibility: Visibility
    status: VideoStatus
    channel_id: int | None
    published_at: datetime | None
    manifest_url: str | None = None
    premium: bool = Field(False, description="Playback needs a premium plan.")


class VideoPage(BaseModel):
    """One page of videos."""

    items: list[VideoOut]
    total: int
    limit: int
    offset: int
    next_cursor: str | None = Field(
        None, description="Pass as ``cursor`` for the next page; null on the last page."
    )


class Health(BaseModel):
    """Liveness and what the service has loaded."""

    status: str
    database: str
    model: str | None


class Readiness(BaseModel):
    """Whether the service serves recommendations as trained, and what is missing if not."""

    ready: bool
    model: str | None
    ranking: str
    features: str
    feature_staleness_s: float | None
    problems: list[str]


class RecommendedItem(BaseModel):
    """One recommended video: its place, score, the source that proposed it and why."""

    video_id: int
    position: int
    title: str
    score: float
    source: str
    reason: str
    anchor_video_id: int | None = None
    promoted: bool = False
    metadata: dict[str, Any] | None = None


class Served(BaseModel):
    """What every recommendation response says about how it was made."""

    recommendation_id: str = Field(description="Send it back with the events of these items.")
    model: str
    model_version: str | None
    experiment: str | None
    variant: str | None
    fallback: bool = Field(description="True when models were unavailable: trending instead.")


class UserRecommendations(Served):
    """A ranked list for one user."""

    user_id: int
    cold_start: bool
    items: list[RecommendedItem]


class HomeRow(BaseModel):
    """One row of the home feed."""

    kind: Literal["for_you", "because_you_watched", "trending", "new_from_followed"]
    title: str
    anchor_video_id: int | None = None
    items: list[RecommendedItem]


class HomeFeed(Served):
    """A user's home feed: rows of videos."""

    user_id: int
    cold_start: bool
    rows: list[HomeRow]


class VideoRecommendations(Served):
    """Videos recommended next to one video (watch-next, similar, more from the creator)."""

    video_id: int
    user_id: int | None
    items: list[RecommendedItem]
