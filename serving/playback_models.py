"""Request and response bodies of the playback-session routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class PlaybackStart(BaseModel):
    """Start playing on a device."""

    model_config = ConfigDict(extra="forbid")

    device_id: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="The client's stable name for this device (letters, digits, ._:-).",
    )


class PlaybackOut(BaseModel):
    """A live playback session and the tokenised URLs to play it."""

    session_id: str
    video_id: int
    device_id: str
    manifest_url: str
    token_expires_at: datetime
    lease_expires_at: datetime
    lease_s: int
    plan: str
    device_limit: int
    resume_position_s: float | None = Field(
        None, description="Where this viewer stopped the video last time (any device)."
    )
    poster_url: str | None = None
    storyboard_url: str | None = None
    download_url: str | None = None


class StreamOut(BaseModel):
    """Tokenised URLs of a video that plays without a playback session."""

    video_id: int
    manifest_url: str
    token_expires_at: datetime
    poster_url: str | None = None
    storyboard_url: str | None = None
    download_url: str | None = None


class LeaseOut(BaseModel):
    """A renewed lease."""

    session_id: str
    lease_expires_at: datetime


class SessionOut(BaseModel):
    """One of the caller's live sessions (end one to free its device)."""

    session_id: str
    video_id: int
    device_id: str
    started_at: datetime
    lease_expires_at: datetime
