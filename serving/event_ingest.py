"""The event pipeline of one app: the configured sink, the stream copier, the feature pusher."""

from __future__ import annotations

from dataclasses import dataclass

from core.settings import Settings
from serving.event_sink import DatabaseSink, EventSink
from serving.event_stream import RedisStreamSink, StreamCopier, redis_client
from serving.feature_pusher import FeaturePusher


@dataclass
class EventIngest:
    """What ``POST /events`` writes through, started and stopped together."""

    sink: EventSink
    pusher: FeaturePusher
    copier: StreamCopier | None = None

    @classmethod
    def start(cls, settings: Settings) -> EventIngest:
        """The sink ``settings.event_sink`` names, with its copier, and a running pusher."""
        url = settings.resolved_database_url
        pusher = FeaturePusher(url, settings.paths.features).start()
        if settings.event_sink == "database":
            return cls(DatabaseSink(url), pusher)
        sink = RedisStreamSink(redis_client(settings.redis_url))
        copier = StreamCopier(redis_client(settings.redis_url), DatabaseSink(url), pusher.submit)
        return cls(sink, pusher, copier.start())

    def close(self) -> None:
        """Stop copying and pushing (finishing what is in hand); close the sink."""
        if self.copier is not None:
            self.copier.stop()
        self.pusher.stop()
        self.sink.close()
