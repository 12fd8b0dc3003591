"""Per-request context as plain ASGI middleware: the request id, one access log line and the
latency observation of every HTTP request."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.logging import request_id_var
from serving.metrics import UNMATCHED_ROUTE, observe_request

REQUEST_ID_HEADER = b"x-request-id"
#: An incoming request id is kept when it is 1-128 characters of letters, digits and ``._-``.
_SANE_ID = re.compile(rb"[A-Za-z0-9._-]{1,128}")

access_log = logging.getLogger("reelrank.access")


def incoming_request_id(scope: Scope) -> str | None:
    """The caller's ``X-Request-ID`` when it is sane, else None."""
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER:
            return value.decode("ascii") if _SANE_ID.fullmatch(value) else None
    return None


def route_template(scope: Scope) -> str:
    """The path template of the route that served (or would serve) the request, such as
    ``/users/{user_id}/recommendations``; ``<unmatched>`` when no route matches."""
    route = scope.get("route")
    if route is None:  # answered before routing (rate limit, CORS preflight) or a 404
        app = scope.get("app")
        for candidate in getattr(getattr(app, "router", None), "routes", ()):
            if candidate.matches(scope)[0] is not Match.NONE:
                route = candidate
                break
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


class RequestContextMiddleware:
    """Gives each HTTP request an id (the caller's sane ``X-Request-ID`` or a new uuid4 hex),
    visible to logging through ``core.logging.request_id_var`` and echoed in the response's
    ``X-Request-ID``; logs one ``reelrank.access`` line (method, route template, status,
    duration in ms) and observes the latency histogram. A request that raises counts as 500
    and keeps its id in the context, for the server's log of the traceback.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection, wrapping HTTP requests."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = incoming_request_id(scope) or uuid.uuid4().hex
        token = request_id_var.set(request_id)
        echoed = (REQUEST_ID_HEADER, request_id.encode("ascii"))
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), echoed]
            await send(message)

        failed = True
        try:
            await self.app(scope, receive, send_with_id)
            failed = False
        finally:
            seconds = time.perf_counter() - started
            method, route = scope["method"], route_template(scope)
            observe_request(method, route, status, seconds)
            if access_log.isEnabledFor(logging.INFO):
                duration_ms = round(seconds * 1000, 3)
                access_log.info(
                    "%s %s %d %.1f ms",
                    method,
                    route,
                    status,
                    duration_ms,
                    extra={
                        "method": method,
                        "route": route,
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": duration_ms,
                    },
                )
            if not failed:  # else the server's traceback record, in this task, carries the id
                request_id_var.reset(token)
