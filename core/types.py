"""Domain enums shared by every layer."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What an account may do."""

    VIEWER = "viewer"
    CREATOR = "creator"
    ADMIN = "admin"


class Visibility(StrEnum):
    """Who may see a video."""

    PUBLIC = "public"
    UNLISTED = "unlisted"
    PRIVATE = "private"


class VideoStatus(StrEnum):
    """Processing state of a video; see ``VIDEO_TRANSITIONS``."""

    UPLOADED = "uploaded"
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


#: Allowed status changes: uploaded -> processing -> ready | failed; a failed video may be retried.
VIDEO_TRANSITIONS: dict[VideoStatus, frozenset[VideoStatus]] = {
    VideoStatus.UPLOADED: frozenset({VideoStatus.PROCESSING, VideoStatus.FAILED}),
    VideoStatus.PROCESSING: frozenset({VideoStatus.READY, VideoStatus.FAILED}),
    VideoStatus.READY: frozenset(),
    VideoStatus.FAILED: frozenset({VideoStatus.PROCESSING}),
}


class JobState(StrEnum):
    """State of a processing job."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class EventType(StrEnum):
    """Kinds of interaction event in the append-only log."""

    IMPRESSION = "impression"
    CLICK = "click"
    PLAY = "play"
    PROGRESS = "progress"
    COMPLETE = "complete"
    LIKE = "like"
    RATE = "rate"
    PAUSE = "pause"
    SEEK = "seek"
    QUALITY_CHANGE = "quality_change"
    REBUFFER = "rebuffer"


#: Event types a player or app sends through ``POST /events`` (likes and ratings come from the
#: product API's own routes).
CLIENT_EVENT_TYPES: frozenset[EventType] = frozenset(
    {
        EventType.IMPRESSION,
        EventType.CLICK,
        EventType.PLAY,
        EventType.PROGRESS,
        EventType.PAUSE,
        EventType.SEEK,
        EventType.QUALITY_CHANGE,
        EventType.REBUFFER,
        EventType.COMPLETE,
    }
)


class ExperimentStatus(StrEnum):
    """Lifecycle of an A/B experiment: draft -> running -> stopped."""

    DRAFT = "draft"
    RUNNING = "running"
    STOPPED = "stopped"


class SubscriptionStatus(StrEnum):
    """Billing state of a subscription."""

    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    CANCELED = "canceled"


class InvalidTransitionError(ValueError):
    """A status change that the state machine does not allow."""
