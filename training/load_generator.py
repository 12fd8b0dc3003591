"""HTTP load generator of ``reelrank bench serve``, run in its own process:
``python -m training.load_generator SPEC.json OUT.json``.

The spec names the base URL, the endpoints (name, method, path template, body builder), the
user and video ids to draw from, and the phases. For each endpoint in turn:

- closed loop: ``concurrency`` workers share one ``httpx.AsyncClient`` (a pool of that many
  connections, at least 64) and each sends its next request when the last one answered, for
  ``seconds`` after a short unrecorded warm-up; the throughput ceiling.
- fixed rate: requests are due every ``1 / rate`` s whatever the server does (open loop), each
  sent as its own task; latency runs from the time it was due, not the time it went out, so a
  stalled server is charged for the queue it causes (no coordinated omission). A request
  that could not even be sent within ``timeout_s`` of its due time is an error (``not_sent``).

Every non-2xx answer and every transport error counts as an error. ``rps`` is 2xx answers per
second; latencies are of the 2xx answers. Event batches carry fresh unique ``event_id``\\ s,
returned per phase so the caller can count what was stored.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import httpx
import numpy as np

#: Event types an event batch cycles through.
EVENT_TYPES: tuple[str, ...] = ("impression", "click", "play", "progress", "complete")
#: Items in a rerank request and events in an event batch.
RERANK_ITEMS = 100
EVENT_BATCH = 100
#: Idle connections are dropped by the client after this long, before uvicorn's 5 s keep-alive
#: timeout can close one under a request being sent on it (a ReadError that is no server fault).
KEEPALIVE_S = 2.0
#: The phases, in the order they run.
PHASES: tuple[str, ...] = ("closed_loop", "fixed_rate")


@dataclass(frozen=True)
class Endpoint:
    """One route under load: ``path`` is a template over ``{user_id}`` and ``{video_id}``;
    ``body`` names a builder in ``BODIES`` (None: no body); ``rate`` overrides the spec's
    fixed rate (requests per second) for this route."""

    name: str
    method: Literal["GET", "POST"]
    path: str
    body: str | None = None
    rate: float | None = None


#: The issue's routes (the lead's home, watch-next and rerank; the events helper's batches of
#: 100, at a fixed 50 batches = 5,000 events per second, the issue's target).
DEFAULT_ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("home_recs", "GET", "/users/{user_id}/home"),
    Endpoint("watch_next", "GET", "/videos/{video_id}/watch-next?user_id={user_id}"),
    Endpoint("rerank", "POST", "/rerank", body="rerank"),
    Endpoint("events", "POST", "/events", body="events", rate=50.0),
)


def parse_endpoint(text: str) -> Endpoint:
    """An endpoint from ``NAME=METHOD PATH [BODY] [rate=N]``, e.g.
    ``events=POST /events events rate=50``."""
    name, _, rest = text.partition("=")
    parts = rest.split()
    rate = None
    if parts and parts[-1].startswith("rate="):
        try:
            rate = float(parts.pop()[len("rate=") :])
        except ValueError:
            raise ValueError(f"{text!r}: rate is not a number") from None
    if not name.strip() or len(parts) not in (2, 3):
        raise ValueError(f"{text!r}: expected NAME=METHOD PATH [BODY] [rate=N]")
    method = parts[0].upper()
    if method not in ("GET", "POST"):
        raise ValueError(f"{text!r}: method {parts[0]!r} is not GET or POST")
    body = parts[2] if len(parts) == 3 else None
    if body is not None and body not in BODIES:
        raise ValueError(f"{text!r}: body {body!r} is not one of {', '.join(BODIES)}")
    return Endpoint(name.strip(), "GET" if method == "GET" else "POST", parts[1], body, rate)


@dataclass(frozen=True)
class LoadSpec:
    """Everything one load-generator run needs (written as JSON by the orchestrator)."""

    base_url: str
    endpoints: tuple[Endpoint, ...]
    user_ids: tuple[int, ...]
    video_ids: tuple[int, ...]
    seconds: float = 20.0
    concurrency: int = 32
    rate: float = 500.0
    warmup_s: float = 2.0
    phases: tuple[str, ...] = PHASES
    seed: int = 0
    timeout_s: float = 30.0
    #: The server's process; its CPU time (and its children's) is read around each phase.
    server_pid: int | None = None

    def to_json(self) -> str:
        """The spec as JSON (``from_json`` reads it back)."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> LoadSpec:
        """A spec from ``to_json``'s text."""
        raw = json.loads(text)
        return cls(
            **{
                **raw,
                "endpoints": tuple(Endpoint(**e) for e in raw["endpoints"]),
                "user_ids": tuple(raw["user_ids"]),
                "video_ids": tuple(raw["video_ids"]),
                "phases": tuple(raw["phases"]),
            }
        )


@dataclass
class RequestMaker:
    """Draws users and videos for requests and builds bodies; keeps the event ids it sent."""

    user_ids: np.ndarray
    video_ids: np.ndarray
    rng: np.random.Generator
    event_prefix: str = field(default_factory=lambda: f"bench-{uuid.uuid4().hex[:12]}")
    sent_event_ids: list[str] = field(default_factory=list)
    _counter: itertools.count[int] = field(default_factory=itertools.count)

    def user(self) -> int:
        return int(self.user_ids[self.rng.integers(self.user_ids.size)])

    def video(self) -> int:
        return int(self.video_ids[self.rng.integers(self.video_ids.size)])

    def request(self, endpoint: Endpoint) -> tuple[str, dict[str, Any] | None]:
        """The path and JSON body (or None) of the next request to ``endpoint``."""
        path = endpoint.path.format(user_id=self.user(), video_id=self.video())
        body = BODIES[endpoint.body](self) if endpoint.body else None
        return path, body

    def next_event_id(self) -> str:
        event_id = f"{self.event_prefix}-{next(self._counter)}"
        self.sent_event_ids.append(event_id)
        return event_id


def rerank_body(maker: RequestMaker) -> dict[str, Any]:
    """A user and ``RERANK_ITEMS`` distinct videos of the catalogue."""
    size = min(RERANK_ITEMS, maker.video_ids.size)
    videos = maker.rng.choice(maker.video_ids, size=size, replace=False)
    return {"user_id": maker.user(), "video_ids": [int(v) for v in videos]}


def events_body(maker: RequestMaker) -> dict[str, Any]:
    """``EVENT_BATCH`` events of one user, stamped now, types cycling through EVENT_TYPES."""
    user = maker.user()
    now = datetime.now(UTC).isoformat()
    return {
        "events": [
            {
                "event_id": maker.next_event_id(),
                "type": EVENT_TYPES[i % len(EVENT_TYPES)],
                "user_id": user,
                "video_id": maker.video(),
                "timestamp": now,
            }
            for i in range(EVENT_BATCH)
        ]
    }


#: Body builders by the name an ``Endpoint`` gives.
BODIES: dict[str, Callable[[RequestMaker], dict[str, Any]]] = {
    "rerank": rerank_body,
    "events": events_body,
}


def process_tree_cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system) used so far by ``pid`` and its live descendants, from
    ``/proc``; None where that cannot be read (not Linux, the process gone)."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = entry.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        # fields[1] is the parent pid; fields[11], fields[12] are utime, stime (in ticks).
        stats[int(entry.parent.name)] = (
            int(fields[1]),
            (int(fields[11]) + int(fields[12])) / ticks,
        )
    if pid not in stats:
        return None
    tree, total, frontier = {pid}, 0.0, [pid]
    while frontier:
        current = frontier.pop()
        total += stats[current][1]
        children = [p for p, (parent, _) in stats.items() if parent == current and p not in tree]
        tree.update(children)
        frontier.extend(children)
    return total


@dataclass
class Tally:
    """Latencies of 2xx answers and counts of errors by kind, over one phase of one endpoint."""

    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    elapsed_s: float = 0.0
    client_cpu_s: float | None = None
    server_cpu_s: float | None = None
    #: Requests answered during the warm-up (counted in the CPU per request only).
    warmup_requests: int = 0

    def add(self, started: float, status: int | None, error: str | None = None) -> None:
        if status is not None and 200 <= status < 300:
            self.latencies.append(time.perf_counter() - started)
        else:
            self.errors[error or f"http_{status}"] += 1

    def summary(self) -> dict[str, Any]:
        """``rps`` (2xx per second), ``p50_ms``/``p99_ms`` (None without a 2xx), ``errors``,
        and the CPU the client and server spent per request sent (warm-up included)."""
        ms = np.asarray(self.latencies) * 1000
        ok = len(self.latencies)
        errors = sum(self.errors.values())
        sent = ok + errors - self.errors["not_sent"] + self.warmup_requests

        def per_request(seconds: float | None) -> float | None:
            return round(seconds * 1000 / sent, 3) if seconds and sent else None

        return {
            "rps": round(ok / self.elapsed_s, 1) if self.elapsed_s else 0.0,
            "p50_ms": round(float(np.percentile(ms, 50)), 2) if ok else None,
            "p99_ms": round(float(np.percentile(ms, 99)), 2) if ok else None,
            "errors": errors,
            "requests": ok + errors,
            "error_kinds": dict(self.errors),
            "seconds": round(self.elapsed_s, 2),
            "client_cpu_ms_per_request": per_request(self.client_cpu_s),
            "server_cpu_ms_per_request": per_request(self.server_cpu_s),
        }


async def _send(
    client: httpx.AsyncClient,
    maker: RequestMaker,
    endpoint: Endpoint,
    tally: Tally,
    due: float,
) -> None:
    """One request; its latency counts from ``due``."""
    path, body = maker.request(endpoint)
    try:
        response = await client.request(endpoint.method, path, json=body)
    except httpx.HTTPError as exc:
        tally.add(due, None, type(exc).__name__)
        return
    tally.add(due, response.status_code)


async def closed_loop(
    client: httpx.AsyncClient, maker: RequestMaker, endpoint: Endpoint, spec: LoadSpec
) -> Tally:
    """``spec.concurrency`` workers back to back for ``spec.seconds`` (after the warm-up)."""
    warm = Tally()
    tally = Tally()
    started = time.perf_counter()
    recording = started + spec.warmup_s
    deadline = recording + spec.seconds

    async def worker() -> None:
        while (now := time.perf_counter()) < deadline:
            await _send(client, maker, endpoint, tally if now >= recording else warm, now)

    await asyncio.gather(*(worker() for _ in range(spec.concurrency)))
    tally.elapsed_s = time.perf_counter() - recording
    tally.warmup_requests = len(warm.latencies) + sum(warm.errors.values())
    return tally


async def fixed_rate(
    client: httpx.AsyncClient, maker: RequestMaker, endpoint: Endpoint, spec: LoadSpec
) -> Tally:
    """A request due every ``1 / rate`` s for ``spec.seconds`` (the endpoint's rate, else the
    spec's), each timed from when it was due: one worker per pooled connection takes the next
    due request, waits for its time and sends it (a stalled server makes the later ones late,
    and their latency counts that). One still unsent ``spec.timeout_s`` after it was due is an
    error, not sent."""
    rate = endpoint.rate or spec.rate
    tally = Tally()
    total = int(spec.seconds * rate)
    start = time.perf_counter()
    turns = iter(range(total))

    async def worker() -> None:
        for i in turns:
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            elif -delay > spec.timeout_s:
                tally.add(due, None, "not_sent")
                continue
            await _send(client, maker, endpoint, tally, due)

    await asyncio.gather(*(worker() for _ in range(connections(spec))))
    tally.elapsed_s = max(time.perf_counter() - start, spec.seconds)
    return tally


def connections(spec: LoadSpec) -> int:
    """Size of the client's connection pool and of the fixed rate's workers: the closed
    loop's concurrency (httpx's pool costs more CPU per request the more connections it
    holds, and that CPU is taken from the server on a small machine)."""
    return spec.concurrency


async def run_load(spec: LoadSpec) -> dict[str, Any]:
    """Each phase of ``spec.phases`` over each endpoint; ``{phase: {endpoint: summary}}`` plus
    ``sent_event_ids`` (``{phase: [ids]}``)."""
    maker = RequestMaker(
        np.asarray(spec.user_ids, dtype=np.int64),
        np.asarray(spec.video_ids, dtype=np.int64),
        np.random.default_rng(spec.seed),
    )
    runners = {"closed_loop": closed_loop, "fixed_rate": fixed_rate}
    pool = connections(spec)
    limits = httpx.Limits(
        max_connections=pool, max_keepalive_connections=pool, keepalive_expiry=KEEPALIVE_S
    )
    result: dict[str, Any] = {phase: {} for phase in spec.phases}
    event_ids: dict[str, list[str]] = {phase: [] for phase in spec.phases}
    async with httpx.AsyncClient(
        base_url=spec.base_url, limits=limits, timeout=spec.timeout_s
    ) as client:
        for phase in spec.phases:
            for endpoint in spec.endpoints:
                maker.sent_event_ids = []
                client_cpu = time.process_time()
                server_cpu = process_tree_cpu_s(spec.server_pid) if spec.server_pid else None
                tally = await runners[phase](client, maker, endpoint, spec)
                tally.client_cpu_s = time.process_time() - client_cpu
                if server_cpu is not None and spec.server_pid:
                    after = process_tree_cpu_s(spec.server_pid)
                    tally.server_cpu_s = after - server_cpu if after is not None else None
                result[phase][endpoint.name] = tally.summary()
                event_ids[phase].extend(maker.sent_event_ids)
                print(f"{phase} {endpoint.name}: {json.dumps(tally.summary())}", flush=True)
    result["sent_event_ids"] = event_ids
    return result


def main(argv: list[str] | None = None) -> int:
    """``python -m training.load_generator SPEC OUT``: run SPEC's load, write the result to OUT."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m training.load_generator SPEC.json OUT.json", file=sys.stderr)
        return 2
    spec = LoadSpec.from_json(Path(args[0]).read_text())
    result = asyncio.run(run_load(spec))
    Path(args[1]).write_text(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
