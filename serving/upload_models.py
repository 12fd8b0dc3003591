"""Request and response bodies of uploads, processing status and the creator's studio."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from core.types import JobState, VideoStatus, Visibility
from serving.params import storable_text

MAX_TITLE = 200
MAX_DESCRIPTION = 5000
MAX_LABELS = 20
MAX_LABEL = 40
MAX_FILENAME = 255
LANGUAGE = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,4})?$"

Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TITLE),
    AfterValidator(storable_text),
]
Description = Annotated[
    str, StringConstraints(max_length=MAX_DESCRIPTION), AfterValidator(storable_text)
]
Label = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_LABEL),
    AfterValidator(storable_text),
]
Labels = Annotated[list[Label], Field(max_length=MAX_LABELS)]
Language = Annotated[str, StringConstraints(pattern=LANGUAGE)]

UploadState = Literal["receiving", "processing", "ready", "failed"]


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


class VideoFields(BaseModel):
    """What a creator sets on a video (at upload, or later in the studio); unset fields are
    left as they are."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    description: Description | None = None
    tags: Labels | None = None
    genres: Labels | None = None
    language: Language | None = None
    visibility: Visibility | None = None
    premium: bool | None = None

    @field_validator("tags", "genres")
    @classmethod
    def _dedupe(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _unique(value)


class UploadOut(BaseModel):
    """A resumable upload as its creator sees it."""

    id: str
    state: UploadState
    offset: int = Field(description="Bytes received so far.")
    length: int = Field(description="Bytes the upload will have.")
    filename: str
    video_id: int | None
    error: str | None
    created_at: datetime
    expires_at: datetime | None = Field(description="When an unfinished upload is dropped.")


class StageOut(BaseModel):
    """One stage of a video's processing."""

    name: str
    state: Literal["pending", "running", "done", "failed", "skipped"]
    progress: float = Field(ge=0.0, le=1.0)
    detail: str | None = None


class RungOut(BaseModel):
    """One rung of the ladder: its state and share of chunks encoded."""

    name: str
    state: str
    progress: float = Field(ge=0.0, le=1.0)


class ProcessingOut(BaseModel):
    """Where a video is on its way from upload to ready, stage by stage."""

    video_id: int
    video_status: VideoStatus
    failure_reason: str | None
    upload_id: str | None
    job_id: int | None
    job_state: JobState | None
    progress: float = Field(ge=0.0, le=1.0, description="Transcoding progress (weighted units).")
    stages: list[StageOut]
    rungs: list[RungOut]
    manifest_url: str | None


class StudioVideo(BaseModel):
    """A video as its creator sees it: every state and field."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    description: str
    tags: list[str]
    genres: list[str]
    language: str | None
    duration_s: float | None
    visibility: Visibility
    status: VideoStatus
    failure_reason: str | None
    premium: bool
    channel_id: int | None
    created_at: datetime
    updated_at: datetime | None
    published_at: datetime | None
    manifest_url: str | None = None


class StudioPage(BaseModel):
    """One page of the creator's videos."""

    items: list[StudioVideo]
    total: int
    limit: int
    offset: int
