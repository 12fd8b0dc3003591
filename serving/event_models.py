"""Request and response bodies of ``POST /events``: a batch of client events and its outcome.

Shape rules live here (ids, types, bounds, the time window, one id once per batch); whether the
users and videos exist is checked against the catalogue by ``serving.event_refs``, and the batch
size limit of the running settings by the route (the model's own cap is the settings' ceiling).
A batch naming one event id twice is refused: the two copies may differ, and no rule says which
one a client meant.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from core.types import CLIENT_EVENT_TYPES, EventType
from serving.params import MAX_ID

#: Furthest an event may lie in the future (clock skew between a device and the server).
MAX_FUTURE = timedelta(minutes=5)
#: Oldest event accepted (offline devices flush late; older history is an import, not a batch).
MAX_AGE = timedelta(days=30)
#: Largest batch the model parses; the running limit is ``settings.max_event_batch`` (<= this).
BATCH_CEILING = 10_000
#: Bounds of an event's ``properties``: keys, key length, string value length.
MAX_PROPERTIES = 16
MAX_PROPERTY_KEY = 64
MAX_PROPERTY_TEXT = 256
#: Longest watch time one event may report (a day).
MAX_WATCH_SECONDS = 86_400.0

EventId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{8,64}$")]
RecommendationId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=64)]
PropertyKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
PropertyValue = (
    Annotated[str, StringConstraints(max_length=MAX_PROPERTY_TEXT)]
    | bool
    | int
    | Annotated[float, Field(allow_inf_nan=False)]
    | None
)


def _client_type(value: EventType) -> EventType:
    if value not in CLIENT_EVENT_TYPES:
        allowed = ", ".join(sorted(CLIENT_EVENT_TYPES))
        raise ValueError(f"{value.value!r} is not sent through /events (one of: {allowed})")
    return value


def _finite(value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


class ClientEvent(BaseModel):
    """One thing a viewer did, as an app reports it."""

    model_config = ConfigDict(extra="forbid")

    event_id: EventId = Field(description="The client's id of this event (a retry reuses it).")
    type: Annotated[EventType, AfterValidator(_client_type)] = Field(description="What happened.")
    user_id: int = Field(ge=1, le=MAX_ID)
    video_id: int = Field(ge=1, le=MAX_ID)
    timestamp: AwareDatetime = Field(description="When it happened, with a timezone.")
    value: Annotated[float | None, AfterValidator(_finite)] = None
    watch_seconds: float | None = Field(None, ge=0, le=MAX_WATCH_SECONDS)
    session_id: ShortText | None = None
    client_id: ShortText | None = None
    recommendation_id: RecommendationId | None = Field(
        None, description="The id of the served list this event answers (32 hex chars)."
    )
    properties: dict[PropertyKey, PropertyValue] | None = Field(
        None,
        max_length=MAX_PROPERTIES,
        description="Player details, e.g. quality_change from/to/reason, rebuffer "
        "duration_ms, seek from/to.",
    )


class EventBatch(BaseModel):
    """A batch of events; stored all together or not at all."""

    model_config = ConfigDict(extra="forbid")

    events: list[ClientEvent] = Field(min_length=1, max_length=BATCH_CEILING)

    @model_validator(mode="after")
    def _one_id_once_and_recent(self) -> EventBatch:
        now = datetime.now(UTC)
        seen: dict[str, int] = {}
        for index, event in enumerate(self.events):
            first = seen.setdefault(event.event_id, index)
            if first != index:
                raise ValueError(
                    f"events[{index}].event_id {event.event_id!r} repeats events[{first}]"
                )
            if event.timestamp > now + MAX_FUTURE:
                raise ValueError(
                    f"events[{index}].timestamp {event.timestamp.isoformat()} is more than "
                    f"{int(MAX_FUTURE.total_seconds())} s in the future"
                )
            if event.timestamp < now - MAX_AGE:
                raise ValueError(
                    f"events[{index}].timestamp {event.timestamp.isoformat()} is older than "
                    f"{MAX_AGE.days} days"
                )
        return self


class EventsAccepted(BaseModel):
    """What a batch changed: events newly stored, and events already stored (a retry)."""

    accepted: int
    duplicates: int
