"""Event ingestion: ``POST /events``."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from sqlalchemy.orm import Session

from serving import metrics
from serving.auth import OptionalPrincipal, check_acts_for
from serving.deps import EventSinkDep, FeaturePusherDep, SessionDep, SettingsDep
from serving.event_models import EventBatch, EventsAccepted
from serving.event_refs import UnknownReferencesError, unknown_references
from serving.event_sink import DatabaseSink, EventSink, SinkResult

router = APIRouter(tags=["events"])


@router.post(
    "/events",
    response_model=EventsAccepted,
    responses={
        413: {"description": "More events than the batch limit."},
        422: {"description": "A malformed event, or unknown users or videos; nothing stored."},
        403: {"description": "An event of another user than the signed-in caller."},
    },
)
def post_events(
    batch: EventBatch,
    session: SessionDep,
    settings: SettingsDep,
    sink: EventSinkDep,
    pusher: FeaturePusherDep,
    caller: OptionalPrincipal,
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
    for user_id in {event.user_id for event in batch.events}:
        check_acts_for(caller, user_id, settings)
    try:
        result = _write_known(batch, session, sink)
    except UnknownReferencesError as exc:
        raise HTTPException(422, str(exc)) from exc
    pusher.submit({event.user_id for event in batch.events})
    metrics.observe_events(result.accepted, result.duplicates)
    return EventsAccepted(accepted=result.accepted, duplicates=result.duplicates)


def _write_known(batch: EventBatch, session: Session, sink: EventSink) -> SinkResult:
    """Check the batch's users and videos and write it: in the write's own transaction when the
    sink is the catalogue database, else through ``session`` first."""
    if isinstance(sink, DatabaseSink):
        return sink.write_known(batch.events)
    problem = unknown_references(session, batch.events)
    session.close()
    if problem:
        raise UnknownReferencesError(problem)
    return sink.write(batch.events)
