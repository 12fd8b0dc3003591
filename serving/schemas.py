"""Response bodies of the API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

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


class VideoPage(BaseModel):
    """One page of videos."""

    items: list[VideoOut]
    total: int
    limit: int
    offset: int


class RecommendedVideo(BaseModel):
    """One recommended video with its score, the source that proposed it, and why."""

    video_id: int
    title: str
    score: float
    source: str
    reason: str
    anchor_video_id: int | None = None


class Recommendations(BaseModel):
    """A ranked list for one user."""

    user_id: int
    model: str
    cold_start: bool
    items: list[RecommendedVideo]


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
