"""Events the product API writes itself (ratings, likes) into the event log."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from core.types import EventType
from serving.event_models import ClientEvent
from serving.event_sink import EventSink


def server_event(
    user_id: int, video_id: int, kind: EventType, value: float | None = None
) -> ClientEvent:
    """An event made by the server, with a fresh random id (128 bits, so ids never clash).
    Built without the client checks, which refuse the server-only types (``rate``, ``like``)."""
    return ClientEvent.model_construct(
        event_id=f"srv_{secrets.token_hex(16)}",
        type=kind,
        user_id=user_id,
        video_id=video_id,
        timestamp=datetime.now(UTC),
        value=value,
        watch_seconds=None,
        session_id=None,
        client_id="reelrank-api",
        recommendation_id=None,
        properties=None,
    )


def record(sink: EventSink, event: ClientEvent) -> None:
    """Write ``event`` durably through ``sink``."""
    sink.write([event])
