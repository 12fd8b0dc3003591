"""A tiny real app for the serve benchmark's tests: ``uvicorn tests.serve_bench_app:app``.

Event batches are stored in the SQLite catalogue named by ``SERVE_BENCH_TEST_DB``; the home
feed lists videos 1-5 minus those the user completed (so the event-to-effect probe sees an
effect), then the newest ready video of the ``bench`` source (so the upload probe sees one);
rerank echoes the ids; nothing else exists (a 404).
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from fastapi import FastAPI
from sqlalchemy import create_engine, insert, select

from core.db.models import InteractionEvent, Video
from core.types import EventType, VideoStatus

app = FastAPI()
_engine = create_engine(os.environ.get("SERVE_BENCH_TEST_DB", "sqlite://"))


@app.get("/users/{user_id}/home")
async def home(user_id: int) -> dict[str, Any]:
    with _engine.connect() as conn:
        done = set(
            conn.scalars(
                select(InteractionEvent.video_id).where(
                    InteractionEvent.user_id == user_id,
                    InteractionEvent.event_type == EventType.COMPLETE,
                )
            )
        )
        uploaded = conn.scalar(
            select(Video.id)
            .where(Video.source == "bench", Video.status == VideoStatus.READY)
            .order_by(Video.id.desc())
            .limit(1)
        )
    items = [{"video_id": v} for v in range(1, 6) if v not in done]
    items += [{"video_id": uploaded}] if uploaded is not None else []
    return {"user_id": user_id, "rows": [{"kind": "for_you", "items": items}]}


@app.post("/rerank")
async def rerank(body: dict[str, Any]) -> dict[str, Any]:
    return {"items": [{"video_id": v} for v in body["video_ids"]]}


@app.post("/events")
async def events(body: dict[str, Any]) -> dict[str, int]:
    rows = [
        {
            "event_id": e["event_id"],
            "user_id": e["user_id"],
            "video_id": e["video_id"],
            "event_type": EventType(e["type"]),
            "event_timestamp": datetime.fromisoformat(e["timestamp"]),
        }
        for e in body["events"]
    ]
    with _engine.begin() as conn:
        conn.execute(insert(InteractionEvent), rows)
    return {"accepted": len(rows), "duplicates": 0}
