"""Freshness probes of ``reelrank bench serve``, against a running service and its catalogue.

- event to effect: a warm viewer's home feed, a ``complete`` event for its top item, then the
  feed polled until that item is gone.
- upload to recommendable: a new public video goes through the ingest's status path (uploaded,
  processing, a published rendition makes it ready) on a channel the viewer follows, in the
  viewer's favourite genres; then the viewer's home feed and the watch-next of a similar video
  are polled until it is listed. The video (and a follow the probe added) is removed after.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import delete, func, select

from core.db.models import Follow, InteractionEvent, Video
from core.db.session import session_scope
from core.types import EventType, Visibility

HOME_PATH = "/users/{user_id}/home"
WATCH_NEXT_PATH = "/videos/{video_id}/watch-next?user_id={user_id}"


@dataclass(frozen=True)
class Probe:
    """Seconds until the effect was seen (None: never), and what happened."""

    seconds: float | None
    note: str


def listed_video_ids(body: Any) -> list[int]:
    """Video ids of a recommendation response, in order: its ``items`` and every row's."""
    if not isinstance(body, dict):
        return []
    lists = [body.get("items") or []] + [row.get("items") or [] for row in body.get("rows") or []]
    return [int(item["video_id"]) for items in lists for item in items if "video_id" in item]


def warm_user(database_url: str) -> int:
    """The viewer with the most completed videos."""
    with session_scope(database_url) as session:
        user = session.scalar(
            select(InteractionEvent.user_id)
            .where(InteractionEvent.event_type == EventType.COMPLETE)
            .group_by(InteractionEvent.user_id)
            .order_by(func.count().desc())
            .limit(1)
        )
    if user is None:
        raise ValueError("no viewer has completed a video")
    return int(user)


def _poll(
    fetch: Callable[[], Iterable[int]],
    done: Callable[[list[int]], bool],
    timeout_s: float,
    interval_s: float,
) -> float | None:
    """Seconds until ``done(fetch())`` held, or None after ``timeout_s``."""
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < timeout_s:
        if done(list(fetch())):
            return elapsed
        time.sleep(interval_s)
    return None


def _failure(exc: httpx.HTTPError) -> str:
    """A short account of a failed request."""
    if isinstance(exc, httpx.HTTPStatusError):
        request = exc.request
        return f"{request.method} {request.url.path} answered {exc.response.status_code}"
    return f"{type(exc).__name__}: {exc}"


def _get_ids(client: httpx.Client, path: str) -> list[int]:
    response = client.get(path)
    response.raise_for_status()
    return listed_video_ids(response.json())


def event_to_effect(
    client: httpx.Client,
    user_id: int,
    home_path: str = HOME_PATH,
    timeout_s: float = 30.0,
    interval_s: float = 0.1,
) -> Probe:
    """Seconds from a ``complete`` event for the top item of the user's feed to a feed
    without it."""
    path = home_path.format(user_id=user_id)
    try:
        before = _get_ids(client, path)
    except httpx.HTTPError as exc:
        return Probe(None, _failure(exc))
    if not before:
        return Probe(None, f"GET {path} listed no items for user {user_id}")
    top = before[0]
    event = {
        "event_id": f"fresh-{uuid.uuid4().hex}",
        "type": EventType.COMPLETE.value,
        "user_id": user_id,
        "video_id": top,
        "timestamp": datetime.now(UTC).isoformat(),
    }
    started = time.perf_counter()
    response = client.post("/events", json={"events": [event]})
    if response.status_code >= 300:
        return Probe(None, f"POST /events answered {response.status_code}: {response.text[:200]}")
    try:
        waited = _poll(
            lambda: _get_ids(client, path), lambda ids: top not in ids, timeout_s, interval_s
        )
    except httpx.HTTPError as exc:
        return Probe(None, f"while polling: {_failure(exc)}")
    if waited is None:
        return Probe(None, f"video {top} still in user {user_id}'s feed after {timeout_s:.0f} s")
    seconds = time.perf_counter() - started
    return Probe(round(seconds, 3), f"user {user_id}, completed video {top}")


@dataclass(frozen=True)
class _Upload:
    video_id: int
    similar_id: int
    added_follow: bool
    channel_id: int


def _upload(database_url: str, data_root: Path, user_id: int) -> _Upload:
    """A new public ready video on a channel the user follows, in the user's favourite genres."""
    from media.video_records import mark_processing, record_rendition

    with session_scope(database_url) as session:
        watched = session.execute(
            select(Video.id, Video.channel_id, Video.genres)
            .join(InteractionEvent, InteractionEvent.video_id == Video.id)
            .where(
                InteractionEvent.user_id == user_id,
                InteractionEvent.event_type.in_((EventType.PLAY, EventType.COMPLETE)),
            )
        ).all()
        if not watched:
            raise ValueError(f"user {user_id} has played nothing")
        genres = Counter(g for _, _, gs in watched for g in gs or [])
        taste = [g for g, _ in genres.most_common(2)]
        followed = session.scalar(select(Follow.channel_id).where(Follow.user_id == user_id))
        channels = Counter(ch for _, ch, _ in watched if ch is not None)
        channel_id = followed if followed is not None else channels.most_common(1)[0][0]
        added_follow = followed is None
        if added_follow:
            session.add(Follow(user_id=user_id, channel_id=channel_id))
        similar = max(
            (vid for vid, ch, gs in watched if ch == channel_id and set(taste) & set(gs or [])),
            default=watched[0][0],
        )
        video = Video(
            title=f"Benchmark upload {uuid.uuid4().hex[:8]}",
            description="A new video published by the serve benchmark.",
            tags=["benchmark"],
            genres=taste,
            language="en",
            duration_s=300.0,
            channel_id=channel_id,
            visibility=Visibility.PUBLIC,
            source="bench",
            external_id=uuid.uuid4().hex,
        )
        session.add(video)
        session.flush()
        video_id = video.id
    mark_processing(database_url, video_id)
    playlist = data_root / "media" / "hls" / str(video_id) / "360p" / "index.m3u8"
    playlist.parent.mkdir(parents=True, exist_ok=True)
    playlist.write_text("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n")
    record_rendition(
        database_url,
        video_id,
        name="360p",
        width=640,
        height=360,
        bitrate=800_000,
        codecs="avc1.4d401e,mp4a.40.2",
        playlist=playlist,
        data_root=data_root,
    )
    return _Upload(video_id, int(similar), added_follow, int(channel_id))


def _remove(database_url: str, data_root: Path, user_id: int, upload: _Upload) -> None:
    """Delete the uploaded video, its rendition folder and a follow the probe added."""
    shutil.rmtree(data_root / "media" / "hls" / str(upload.video_id), ignore_errors=True)
    with session_scope(database_url) as session:
        video = session.get(Video, upload.video_id)
        if video is not None:
            session.delete(video)
        if upload.added_follow:
            session.execute(
                delete(Follow).where(
                    Follow.user_id == user_id, Follow.channel_id == upload.channel_id
                )
            )


def upload_to_recommendable(
    client: httpx.Client,
    database_url: str,
    data_root: Path,
    user_id: int,
    home_path: str = HOME_PATH,
    watch_next_path: str = WATCH_NEXT_PATH,
    timeout_s: float = 120.0,
    interval_s: float = 0.5,
) -> Probe:
    """Seconds from a new video becoming ready to its first listing in the user's home feed or
    the watch-next of a similar video."""
    try:
        upload = _upload(database_url, data_root, user_id)
    except ValueError as exc:
        return Probe(None, str(exc))
    started = time.perf_counter()
    paths = {
        "home": home_path.format(user_id=user_id),
        "watch-next": watch_next_path.format(video_id=upload.similar_id, user_id=user_id),
    }
    seen_in: list[str] = []

    def fetch() -> list[int]:
        for surface, path in paths.items():
            if upload.video_id in _get_ids(client, path):
                seen_in.append(surface)
                return [upload.video_id]
        return []

    try:
        waited = _poll(fetch, lambda ids: upload.video_id in ids, timeout_s, interval_s)
    except httpx.HTTPError as exc:
        return Probe(None, f"while polling: {_failure(exc)}")
    finally:
        _remove(database_url, data_root, user_id, upload)
    if waited is None:
        return Probe(
            None,
            f"video {upload.video_id} not in {' or '.join(paths.values())} after {timeout_s:.0f} s",
        )
    seconds = time.perf_counter() - started
    return Probe(round(seconds, 3), f"video {upload.video_id} listed in {seen_in[0]}")
