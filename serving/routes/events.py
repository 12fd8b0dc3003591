"""Event ingestion: ``POST /events``."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from serving import metrics
from serving.deps import EventSinkDep, FeaturePusherDep, SessionDep, SettingsDep
from serving.event_models import EventBatch, EventsAccepted
from serving.event_refs import unknown_references

router = APIRouter(tags=["events"])


@router.post(
    "/events",
    response_model=EventsAccepted,
    responses={
        413: {"description": "More events than the batch limit."},
        422: {"description": "A malformed event, or unknown users or videos; nothing stored."},
    },
)
def post_events(
    batch: EventBatch,
    session: SessionDep,
    settings: SettingsDep,
    sink: EventSinkDep,
    pusher: FeaturePusherDep,
) -> EventsAccepted:
    """Store a batch of client events (all or none), durable before the answer.

    An event whose ``event_id`` is already stored is counted as a duplicate and not stored
    again, so a client retries a batch that got no answer as it was.
    """
    if len(batch.events) > settings.max_event_batch:
        raise HTTPException(
            413,
            f"a batch holds at most {settings.max_event_batch} events; got {len(batch.events)}",
        )
    problem = unknown_references(session, batch.events)
    session.close()
    if problem:
        raise HTTPException(422, problem)
    result = sink.write(batch.events)
    pusher.submit({event.user_id for event in batch.events})
    metrics.observe_events(result.accepted, result.duplicates)
    return EventsAccepted(accepted=result.accepted, duplicates=result.duplicates)
