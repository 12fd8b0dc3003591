"""A Redis stream in front of the event table: ``RedisStreamSink`` and its database copier.

``write`` runs one Lua script per batch (atomic in Redis): for each event, ``SET NX`` of a
per-event-id key (kept ``DEDUP_TTL_S``, longer than the oldest event accepted) and, only when
the key is new, ``XADD`` of the event to the stream. The response counts the new keys as
accepted. ``StreamCopier`` reads the stream as a consumer group and writes the entries into
the catalogue with ``DatabaseSink.write_rows`` (idempotent by event id), acknowledging and
deleting them afterwards, so a copier killed mid-way re-reads its pending entries.

Durability is Redis's: a write is on disk before the reply only with ``appendonly yes`` and
``appendfsync always``; the sink logs a warning at start when the server is set up otherwise.
The per-id keys are touched outside the script's declared keys, so the script suits a single
Redis server, not a cluster.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import redis

from serving.event_models import MAX_AGE, ClientEvent
from serving.event_sink import DatabaseSink, SinkResult, event_row

log = logging.getLogger(__name__)

STREAM = "reelrank:events"
GROUP = "catalogue"
ID_PREFIX = "reelrank:event-id:"
#: How long an event id is remembered: longer than the oldest timestamp accepted.
DEDUP_TTL_S = int(MAX_AGE.total_seconds()) + 86_400

_WRITE = """
local accepted = 0
for i = 2, #ARGV, 2 do
  if redis.call('SET', KEYS[2] .. ARGV[i], '1', 'NX', 'EX', ARGV[1]) then
    redis.call('XADD', KEYS[1], '*', 'row', ARGV[i + 1])
    accepted = accepted + 1
  end
end
return accepted
"""


def redis_client(url: str) -> redis.Redis:
    """A client for ``url`` (``redis://host:port/db``, or Feast's bare ``host:port``)."""
    return redis.Redis.from_url(url if "://" in url else f"redis://{url}")


def _encode(row: dict[str, Any]) -> str:
    return json.dumps(
        {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()},
        separators=(",", ":"),
    )


def _decode(payload: bytes) -> dict[str, Any]:
    row: dict[str, Any] = json.loads(payload)
    for key in ("event_timestamp", "received_at"):
        row[key] = datetime.fromisoformat(row[key])
    return row


class RedisStreamSink:
    """Accepts batches into a Redis stream; a ``StreamCopier`` moves them to the catalogue."""

    def __init__(self, client: redis.Redis, stream: str = STREAM) -> None:
        self._client = client
        self._stream = stream
        self._script = client.register_script(_WRITE)
        self._warn_if_volatile()

    def write(self, events: Sequence[ClientEvent]) -> SinkResult:
        """Add the batch's new events to the stream in one atomic script."""
        received_at = datetime.now(UTC)
        args: list[Any] = [DEDUP_TTL_S]
        for event in events:
            args += [event.event_id, _encode(event_row(event, received_at))]
        accepted = int(self._script(keys=[self._stream, ID_PREFIX], args=args))
        return SinkResult(accepted=accepted, duplicates=len(events) - accepted)

    def close(self) -> None:
        """Close the Redis connections."""
        self._client.close()

    def _warn_if_volatile(self) -> None:
        try:
            appendonly: Any = self._client.config_get("appendonly")
            appendfsync: Any = self._client.config_get("appendfsync")
            config = {**appendonly, **appendfsync}
        except redis.ResponseError:
            return  # CONFIG is disabled on managed servers
        if config.get("appendonly") != "yes" or config.get("appendfsync") != "always":
            log.warning(
                "Redis runs with appendonly=%s appendfsync=%s: accepted events can be lost "
                "if it stops before they are copied to the catalogue",
                config.get("appendonly"),
                config.get("appendfsync"),
            )


class StreamCopier:
    """A thread that copies stream entries into the catalogue, then acknowledges them."""

    def __init__(
        self,
        client: redis.Redis,
        database: DatabaseSink,
        on_copied: Callable[[list[int]], None] | None = None,
        stream: str = STREAM,
        consumer: str = "copier-1",
    ) -> None:
        self._client = client
        self._database = database
        self._on_copied = on_copied
        self._stream = stream
        self._consumer = consumer
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="event-copier", daemon=True)

    def start(self) -> StreamCopier:
        """Create the consumer group if needed and start copying; return self."""
        try:
            self._client.xgroup_create(self._stream, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the entries in hand are copied; join the thread."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def copy_once(self, block_ms: int = 1000, count: int = 1000) -> int:
        """Copy this consumer's pending entries, else new ones; return how many were copied."""
        for start in ("0", ">"):
            answer: Any = self._client.xreadgroup(
                GROUP,
                self._consumer,
                {self._stream: start},
                count=count,
                block=None if start == "0" else block_ms,
            )
            entries = answer[0][1] if answer else []
            if entries:
                rows = [_decode(fields[b"row"]) for _, fields in entries]
                self._database.write_rows(rows)
                ids = [entry_id for entry_id, _ in entries]
                self._client.xack(self._stream, GROUP, *ids)
                self._client.xdel(self._stream, *ids)
                if self._on_copied is not None:
                    self._on_copied(sorted({row["user_id"] for row in rows}))
                return len(entries)
        return 0

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.copy_once()
            except Exception:
                log.exception("copying events from Redis failed; retrying")
                self._stopping.wait(1.0)
