"""The request-context middleware: request ids (kept when sane, made otherwise), JSON log lines
that carry them, and what it costs per request."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import time
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.types import ASGIApp, Message

from core.logging import JsonFormatter, request_id_var
from core.settings import Settings
from serving.app import create_app
from serving.middleware import RequestContextMiddleware
from serving.rate_limit import RateLimitMiddleware

HEX32 = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def json_log(caplog: pytest.LogCaptureFixture) -> Iterator[io.StringIO]:
    """JSON lines written by the access logger and the ``tests.endpoint`` logger at INFO."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    loggers = [logging.getLogger(name) for name in ("reelrank.access", "tests.endpoint")]
    for logger in loggers:
        caplog.set_level(logging.INFO, logger=logger.name)
        logger.addHandler(handler)
    yield stream
    for logger in loggers:
        logger.removeHandler(handler)


@pytest.fixture
def client(settings: Settings, sqlite_url: str) -> TestClient:
    """The real app, plus a route that logs from the worker thread sync routes run on."""
    app = create_app(settings)

    @app.get("/_test/log")
    def log_something() -> dict[str, str | None]:
        logging.getLogger("tests.endpoint").info("inside the route")
        return {"request_id": request_id_var.get()}

    return TestClient(app)


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_sane_incoming_request_id_is_echoed_and_visible_to_the_route(
    client: TestClient,
) -> None:
    response = client.get("/_test/log", headers={"X-Request-ID": "app-7f3a.retry_2"})
    assert response.headers["x-request-id"] == "app-7f3a.retry_2"
    assert response.json() == {"request_id": "app-7f3a.retry_2"}


@pytest.mark.parametrize("incoming", [None, "", "two words", "x" * 129, "semi;colon"])
def test_a_missing_or_odd_request_id_is_replaced_by_a_new_one(
    client: TestClient, incoming: str | None
) -> None:
    headers = {} if incoming is None else {"X-Request-ID": incoming}
    first = client.get("/_test/log", headers=headers)
    second = client.get("/_test/log", headers=headers)
    ids = [first.headers["x-request-id"], second.headers["x-request-id"]]
    assert all(HEX32.fullmatch(i) for i in ids) and ids[0] != ids[1]
    assert first.json() == {"request_id": ids[0]}


def test_log_lines_are_json_with_the_request_id_and_one_access_line(
    client: TestClient, json_log: io.StringIO
) -> None:
    client.get("/_test/log", headers={"X-Request-ID": "req-1"})
    client.get("/videos/424242", headers={"X-Request-ID": "req-2"})
    lines = _lines(json_log)
    inside = [line for line in lines if line["logger"] == "tests.endpoint"]
    assert [(line["message"], line["request_id"]) for line in inside] == [
        ("inside the route", "req-1")
    ]
    access = [line for line in lines if line["logger"] == "reelrank.access"]
    assert [
        (line["request_id"], line["method"], line["route"], line["path"], line["status"])
        for line in access
    ] == [
        ("req-1", "GET", "/_test/log", "/_test/log", 200),
        ("req-2", "GET", "/videos/{video_id}", "/videos/424242", 404),
    ]
    for line in access:
        assert isinstance(line["duration_ms"], float) and 0 < line["duration_ms"] < 5_000
        assert line["level"] == "INFO" and str(line["time"]).endswith("+00:00")
    assert request_id_var.get() is None  # nothing leaks out of a request


def _bare_app() -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    return app


async def _per_request_s(app: ASGIApp, n: int) -> float:
    """Seconds per request of ``n`` GETs sent straight into the ASGI app (no network)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/items/7",
        "raw_path": b"/items/7",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"user-agent", b"bench")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            assert message["status"] == 200

    started = time.perf_counter()
    for _ in range(n):
        await app(dict(scope), receive, send)
    return (time.perf_counter() - started) / n


@pytest.fixture
def access_log_only(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> io.StringIO:
    """Access lines as JSON into a buffer, at INFO, not passed on to pytest's capture."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("reelrank.access")
    monkeypatch.setattr(logger, "handlers", [handler])
    monkeypatch.setattr(logger, "propagate", False)
    caplog.set_level(logging.INFO, logger=logger.name)
    return stream


def test_middleware_overhead_per_request_is_well_under_half_a_millisecond(
    access_log_only: io.StringIO,
) -> None:
    """The request context (with its JSON access line) and the rate limiter, against the same
    app without them; the fastest of interleaved rounds (the least disturbed by other load)."""
    bare = _bare_app()
    context = _bare_app()
    context.add_middleware(RequestContextMiddleware)
    full = _bare_app()
    full.add_middleware(RateLimitMiddleware, per_minute=10**9)
    full.add_middleware(RequestContextMiddleware)

    async def measure() -> dict[str, float]:
        rounds: dict[str, list[float]] = {"bare": [], "context": [], "full": []}
        for app in (bare, context, full):
            await _per_request_s(app, 300)  # warm up
        for _ in range(9):
            for name, app in (("bare", bare), ("context", context), ("full", full)):
                rounds[name].append(await _per_request_s(app, 1_000))
        return {name: min(values) for name, values in rounds.items()}

    medians = asyncio.run(measure())
    context_ms = (medians["context"] - medians["bare"]) * 1000
    full_ms = (medians["full"] - medians["bare"]) * 1000
    print(
        f"bare app {medians['bare'] * 1e6:.0f} us/request; request context +{context_ms * 1000:.0f}"
        f" us; with the rate limiter +{full_ms * 1000:.0f} us"
    )
    assert access_log_only.getvalue().count("\n") >= 2 * 9_300  # the access lines were written
    assert full_ms < 0.5
