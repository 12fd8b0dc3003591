"""Prometheus scrape endpoint (``/metrics``)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from serving.metrics import render

router = APIRouter(tags=["operations"])


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    """Every metric in the Prometheus text format (all workers' when there are several)."""
    body, content_type = render()
    return Response(content=body, media_type=content_type)
