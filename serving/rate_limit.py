"""Rate limiting per client key as plain ASGI middleware: a token bucket per key, 429 when
it is empty.

The buckets live in the process: with N server workers each worker has its own, so a client
spread over the workers by the kernel gets up to N times the limit, and a restart forgets
them. A shared limiter (a Lua token bucket in Redis, keyed the same way) would hold one
bucket per key for all workers and restarts, at the price of a Redis round trip (about
0.1 ms on loopback) on every request and a decision about what to do while Redis is down.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

API_KEY_HEADER = b"x-api-key"
#: Paths never limited: probes and the metrics scrape.
EXEMPT_PATHS = frozenset({"/health", "/ready", "/metrics"})
#: Buckets idle this long are full again and are forgotten on the next sweep.
_SWEEP_EVERY_S = 60.0


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """One bucket per key, ``per_minute`` tokens deep, refilled at ``per_minute / 60`` a
    second; a request takes one token. Not thread-safe: the event loop is its only caller."""

    def __init__(self, per_minute: int) -> None:
        if per_minute < 1:
            raise ValueError("a token bucket needs at least one request per minute")
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._buckets: dict[str, _Bucket] = {}
        self._swept = float("-inf")

    def take(self, key: str, now: float | None = None) -> float:
        """Take a token for ``key``: 0.0 when granted, else the seconds until one is due."""
        now = time.monotonic() if now is None else now
        if now - self._swept > _SWEEP_EVERY_S:
            self._sweep(now)
        bucket = self._buckets.get(key)
        if bucket is None:
            self._buckets[key] = _Bucket(self.capacity - 1.0, now)
            return 0.0
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate

    def _sweep(self, now: float) -> None:
        """Forget buckets that have refilled completely (they equal a new bucket)."""
        full_after = self.capacity / self.rate
        self._buckets = {
            key: bucket
            for key, bucket in self._buckets.items()
            if now - bucket.updated < full_after
        }
        self._swept = now


def client_key(scope: Scope) -> str:
    """``key:<X-API-Key>`` when the header is present, else ``addr:<client address>``."""
    for name, value in scope["headers"]:
        if name == API_KEY_HEADER:
            return "key:" + value.decode("latin-1")
    client = scope.get("client")
    return "addr:" + (client[0] if client else "unknown")


class RateLimitMiddleware:
    """Answers 429 with a JSON ``detail`` and ``Retry-After`` (whole seconds) once a client key
    has spent its bucket of ``per_minute`` requests; /health, /ready and /metrics are exempt."""

    def __init__(self, app: ASGIApp, per_minute: int) -> None:
        self.app = app
        self.per_minute = per_minute
        self.buckets = TokenBuckets(per_minute)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection, refusing HTTP requests over the limit."""
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        wait_s = self.buckets.take(client_key(scope))
        if wait_s == 0.0:
            await self.app(scope, receive, send)
            return
        retry_after = max(1, math.ceil(wait_s))
        body = json.dumps(
            {
                "detail": f"rate limit of {self.per_minute} requests per minute exceeded for "
                f"this client key; retry after {retry_after} s"
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(retry_after).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
