"""Hybrid search over the listed catalogue: tantivy (lexical) and MiniLM vectors in FAISS
(semantic) fused by reciprocal rank fusion, filtered, then lifted by small boosts; title and
channel-name completion; a background refresher that keeps both indexes on the catalogue.

Scores: ``rrf = 1 / (60 + lexical rank) + w / (60 + semantic rank)`` over the lists a video
is in (ranks from 1; ``w`` is ``semantic_weight``), then
``score = rrf * (1 + 0.01 recency + 0.01 popularity + 0.015 affinity)``, where recency halves
every 30 days since publication, popularity is ``log(1 + plays) / log(1 + most plays)``
over the last 7 days' plays and completions (recounted every minute), and affinity is the
viewer's share in the video's genres (the caller passes it: the feature store's
``user_taste``, or ``viewer_affinity`` over their recent plays). Equal scores share a rank, so
boosts order equal matches; otherwise they move a result by about two ranks at most near
the top (RRF scores of neighbouring ranks differ by under 2 %).
Semantic candidates below a cosine of 0.25 are dropped (unrelated text).
"""

from __future__ import annotations

import bisect
import logging
import math
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db.models import Channel, InteractionEvent, Video
from core.db.session import session_factory
from core.types import EventType
from media.enrich.text import video_text
from serving.search_index import LexicalIndex, SearchDocument
from serving.search_semantic import SemanticIndex, encode
from serving.visibility import listed_videos

log = logging.getLogger(__name__)

RRF_K = 60
#: Weight of the semantic list in the fusion (the lexical one weighs 1); kept at 1 after a
#: sweep on a validation world (docs/benchmarks.md, "Search quality").
SEMANTIC_WEIGHT = 1.0
#: Candidates taken from each list before fusion.
CANDIDATES = 200
MIN_COSINE = 0.25
RECENCY_HALF_LIFE_DAYS = 30.0
BOOST_RECENCY, BOOST_POPULARITY, BOOST_AFFINITY = 0.01, 0.01, 0.015
#: Plays counted for popularity, and how often they are recounted.
POPULARITY_WINDOW = timedelta(days=7)
POPULARITY_EVERY_S = 60.0
#: Videos re-read and re-encoded per round of the refresher.
BATCH = 256
#: The viewer's recent plays read for genre affinity.
AFFINITY_EVENTS = 50

Mode = Literal["hybrid", "lexical"]


@dataclass(frozen=True)
class VideoMeta:
    """What search shows and filters of one listed video."""

    video_id: int
    title: str
    channel: str
    duration_s: float | None
    genres: tuple[str, ...]
    premium: bool
    published_at: datetime | None


@dataclass(frozen=True)
class SearchFilters:
    """Bounds on the results."""

    genre: str | None = None
    min_duration_s: float | None = None
    max_duration_s: float | None = None
    published_after: datetime | None = None
    published_before: datetime | None = None

    def allows(self, meta: VideoMeta) -> bool:
        if self.genre and self.genre.lower() not in {g.lower() for g in meta.genres}:
            return False
        duration = meta.duration_s
        if self.min_duration_s is not None and (duration is None or duration < self.min_duration_s):
            return False
        if self.max_duration_s is not None and (duration is None or duration > self.max_duration_s):
            return False
        published = meta.published_at
        if self.published_after is not None and (
            published is None or published < self.published_after
        ):
            return False
        return not (
            self.published_before is not None
            and (published is None or published >= self.published_before)
        )


@dataclass(frozen=True)
class Hit:
    """One result with where it came from."""

    meta: VideoMeta
    score: float
    lexical_rank: int | None
    semantic_rank: int | None


@dataclass(frozen=True)
class SearchResult:
    """A page of results."""

    hits: list[Hit]
    total: int
    mode: Mode


@dataclass
class _State:
    stamps: dict[int, datetime] = field(default_factory=dict)
    meta: dict[int, VideoMeta] = field(default_factory=dict)
    texts: dict[int, str] = field(default_factory=dict)
    encoded: dict[int, str] = field(default_factory=dict)


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


_CUE_TIMING = re.compile(r"^\d{2}:\d{2}")


def transcript_of(packages: Path, video_id: int) -> str:
    """The text of the package's ``captions.vtt`` (cue text only), or empty."""
    path = packages / str(video_id) / "captions.vtt"
    if not path.is_file():
        return ""
    lines = path.read_text(errors="replace").splitlines()
    keep = [
        line.strip()
        for line in lines
        if line.strip()
        and line.strip() != "WEBVTT"
        and not _CUE_TIMING.match(line)
        and "-->" not in line
        and not line.strip().isdigit()
    ]
    return " ".join(keep)[:20_000]


class SearchService:
    """Both indexes of the listed catalogue, refreshed in the background every
    ``interval_s`` seconds; without ``semantic`` only the lexical one."""

    def __init__(
        self,
        database_url: str,
        packages: Path,
        interval_s: float = 2.0,
        semantic: bool = True,
        semantic_weight: float = SEMANTIC_WEIGHT,
    ) -> None:
        if not 0.0 <= semantic_weight <= 1.0:
            raise ValueError(f"semantic_weight must lie in [0, 1], not {semantic_weight}")
        self.database_url = database_url
        self.semantic_enabled = semantic
        self.semantic_weight = semantic_weight
        self.packages = packages
        self.interval_s = interval_s
        self.lexical = LexicalIndex()
        self.semantic = SemanticIndex()
        self._state = _State()
        self._suggestions: list[tuple[str, str]] = []
        self._refresh_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loaded = False
        self._popularity: dict[int, float] = {}
        self._popularity_at = 0.0

    # -- keeping up with the catalogue ----------------------------------------------------

    def start(self) -> None:
        """Refresh now, in the background, and then every ``interval_s``."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="search-refresh", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh()
            except Exception:  # keep serving the last index; say why
                log.exception("search index refresh failed")
            self._stop.wait(self.interval_s)

    def ensure_loaded(self) -> None:
        """Index the catalogue's text once if nothing has been (first request before the
        refresher ran); semantic vectors follow in the background."""
        if not self._loaded:
            self.refresh(encode_limit=0)

    def refresh(self, encode_limit: int | None = None) -> None:
        """Index new and changed listed videos, drop the ones no longer listed, then encode
        up to ``encode_limit`` texts (all by default) for the semantic index."""
        with self._refresh_lock:
            state = self._state
            with session_factory(self.database_url)() as session:
                stamp = func.coalesce(Video.updated_at, Video.published_at, Video.created_at)
                rows = session.execute(listed_videos().with_only_columns(Video.id, stamp))
                stamps = {int(i): _aware(s) or datetime.min.replace(tzinfo=UTC) for i, s in rows}
                removed = [i for i in state.stamps if i not in stamps]
                changed = [i for i, s in stamps.items() if state.stamps.get(i) != s]
                for start in range(0, len(changed), 2_000):
                    self._index_rows(session, changed[start : start + 2_000], stamps)
            if removed:
                self.lexical.upsert([], removed)
                self.semantic.update({}, removed)
                for video_id in removed:
                    state.stamps.pop(video_id, None)
                    state.meta.pop(video_id, None)
                    state.texts.pop(video_id, None)
                    state.encoded.pop(video_id, None)
            if removed or changed or not self._loaded:
                self._suggestions = sorted(
                    {(m.title.lower(), m.title) for m in state.meta.values()}
                    | {(m.channel.lower(), m.channel) for m in state.meta.values() if m.channel}
                )
            self._loaded = True
            if time.monotonic() - self._popularity_at > POPULARITY_EVERY_S:
                self._popularity = self._count_plays()
                self._popularity_at = time.monotonic()
            self._encode(encode_limit)

    def _count_plays(self) -> dict[int, float]:
        since = datetime.now(UTC) - POPULARITY_WINDOW
        with session_factory(self.database_url)() as session:
            rows = session.execute(
                select(InteractionEvent.video_id, func.count())
                .where(
                    InteractionEvent.event_timestamp >= since,
                    InteractionEvent.event_type.in_((EventType.PLAY, EventType.COMPLETE)),
                )
                .group_by(InteractionEvent.video_id)
            ).all()
        counts = {int(v): int(n) for v, n in rows if int(v) in self._state.meta}
        top = max(counts.values(), default=0)
        if not top:
            return {}
        return {v: math.log1p(n) / math.log1p(top) for v, n in counts.items()}

    def _index_rows(self, session: Session, ids: list[int], stamps: dict[int, datetime]) -> None:
        rows = session.execute(
            select(Video, Channel.name)
            .outerjoin(Channel, Channel.id == Video.channel_id)
            .where(Video.id.in_(ids))
        ).all()
        documents = []
        for video, channel in rows:
            tags = " ".join(video.tags or [])
            documents.append(
                SearchDocument(
                    video_id=video.id,
                    title=video.title,
                    description=video.description or "",
                    tags=tags,
                    creator=channel or "",
                    transcript=transcript_of(self.packages, video.id),
                )
            )
            self._state.meta[video.id] = VideoMeta(
                video_id=video.id,
                title=video.title,
                channel=channel or "",
                duration_s=video.duration_s,
                genres=tuple(video.genres or ()),
                premium=bool(video.premium),
                published_at=_aware(video.published_at),
            )
            self._state.texts[video.id] = (
                video_text(video.title, video.description, video.tags, video.genres)
                or video.title
                or str(video.id)
            )
            self._state.stamps[video.id] = stamps[video.id]
        self.lexical.upsert(documents, [])

    def _encode(self, limit: int | None) -> None:
        if not self.semantic_enabled:
            return
        state = self._state
        pending = [i for i, text in state.texts.items() if state.encoded.get(i) != text]
        if limit is not None:
            pending = pending[:limit]
        for start in range(0, len(pending), BATCH):
            if self._stop.is_set():
                return
            ids = pending[start : start + BATCH]
            texts = [state.texts[i] for i in ids]
            vectors = encode(texts)
            self.semantic.update(dict(zip(ids, vectors, strict=True)), [])
            for video_id, text in zip(ids, texts, strict=True):
                state.encoded[video_id] = text

    @property
    def semantic_ready(self) -> bool:
        """Whether every indexed video has its current text vector."""
        state = self._state
        return (
            self.semantic_enabled
            and bool(state.texts)
            and all(state.encoded.get(i) == t for i, t in state.texts.items())
        )

    # -- answering ------------------------------------------------------------------------

    def search(
        self,
        text: str,
        filters: SearchFilters,
        limit: int,
        offset: int,
        mode: Mode = "hybrid",
        affinity: dict[str, float] | None = None,
        now: datetime | None = None,
    ) -> SearchResult:
        """Results ``offset`` to ``offset + limit`` for ``text``; ``mode`` says whether the
        semantic half took part (it is skipped until every video is encoded)."""
        self.ensure_loaded()
        meta = self._state.meta
        lexical = [(i, s) for i, s in self.lexical.search(text, CANDIDATES) if i in meta]
        used: Mode = "lexical"
        semantic: list[tuple[int, float]] = []
        if mode == "hybrid" and self.semantic_ready:
            vector = encode([text])[0]
            semantic = [
                (i, s) for i, s in self.semantic.search(vector, CANDIDATES) if s >= MIN_COSINE
            ]
            used = "hybrid"
        lexical = [(i, s) for i, s in lexical if filters.allows(meta[i])]
        semantic = [(i, s) for i, s in semantic if i in meta and filters.allows(meta[i])]
        fused: dict[int, float] = {}
        lexical_rank = _ranks(lexical)
        semantic_rank = _ranks(semantic)
        for ranks, weight in ((lexical_rank, 1.0), (semantic_rank, self.semantic_weight)):
            for video_id, rank in ranks.items():
                fused[video_id] = fused.get(video_id, 0.0) + weight / (RRF_K + rank)
        popularity = self._popularity
        moment = now or datetime.now(UTC)
        scored = [
            (rrf * _boost(meta[i], popularity, affinity or {}, moment), i)
            for i, rrf in fused.items()
        ]
        scored.sort(key=lambda pair: (-pair[0], pair[1]))
        page = scored[offset : offset + limit]
        hits = [Hit(meta[i], score, lexical_rank.get(i), semantic_rank.get(i)) for score, i in page]
        return SearchResult(hits=hits, total=len(scored), mode=used)

    def suggest(self, prefix: str, limit: int) -> list[str]:
        """Titles and channel names starting with ``prefix`` (case-insensitive), shortest
        first; when none does (a typo), the titles of the best lexical matches, which
        tolerate typos, in their order."""
        self.ensure_loaded()
        key = prefix.strip().lower()
        if not key:
            return []
        items = self._suggestions
        start = bisect.bisect_left(items, (key, ""))
        found: list[str] = []
        for lowered, shown in items[start:]:
            if not lowered.startswith(key) or len(found) >= 500:
                break
            found.append(shown)
        if found:
            return sorted(dict.fromkeys(found), key=lambda s: (len(s), s))[:limit]
        meta = self._state.meta
        matches = self.lexical.search(key, limit * 4)
        return list(dict.fromkeys(meta[i].title for i, _ in matches if i in meta))[:limit]

    def viewer_affinity(self, session: Session, user_id: int) -> dict[str, float]:
        """The share of each genre among the viewer's latest plays and completions."""
        rows = session.scalars(
            select(InteractionEvent.video_id)
            .where(
                InteractionEvent.user_id == user_id,
                InteractionEvent.event_type.in_((EventType.PLAY, EventType.COMPLETE)),
            )
            .order_by(InteractionEvent.event_timestamp.desc())
            .limit(AFFINITY_EVENTS)
        ).all()
        counts: Counter[str] = Counter()
        meta = self._state.meta
        for video_id in rows:
            item = meta.get(int(video_id))
            if item is not None:
                counts.update(g.lower() for g in item.genres)
        total = sum(counts.values())
        return {genre: n / total for genre, n in counts.items()} if total else {}


def _ranks(scored: list[tuple[int, float]]) -> dict[int, int]:
    """Ranks from 1 in list order; equal scores share the first one's rank."""
    ranks: dict[int, int] = {}
    previous: float | None = None
    rank = 0
    for position, (video_id, score) in enumerate(scored, 1):
        if previous is None or not math.isclose(score, previous, rel_tol=1e-6):
            rank = position
        ranks[video_id] = rank
        previous = score
    return ranks


def _boost(
    meta: VideoMeta, popularity: dict[int, float], affinity: dict[str, float], now: datetime
) -> float:
    recency = 0.0
    if meta.published_at is not None:
        age_days = max(0.0, (now - meta.published_at).total_seconds() / 86_400)
        recency = math.pow(0.5, age_days / RECENCY_HALF_LIFE_DAYS)
    liked = min(1.0, sum(affinity.get(g.lower(), 0.0) for g in meta.genres))
    return (
        1.0
        + BOOST_RECENCY * recency
        + BOOST_POPULARITY * popularity.get(meta.video_id, 0.0)
        + BOOST_AFFINITY * liked
    )
