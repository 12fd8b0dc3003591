"""A deterministic synthetic demo world: creators, a catalogue, taste-clustered users, sessions.

Everything is drawn with numpy from one seeded generator, so the same ``SynthConfig`` gives the
same database rows and the same parquet event log. Run ``python -m training.datasets.synth`` to
time the full-size world (100k users, 10k videos, about 5M events) on a scratch SQLite catalogue.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, func, select

from core import columns as c
from core.db.models import Channel, Comment, User, Video
from core.errors import DatasetError
from core.types import EventType, Role, VideoStatus, Visibility
from training.datasets import synth_vocabulary as vocab
from training.datasets.catalogue_writer import (
    bulk_insert,
    bulk_transaction,
    insert_events,
    insert_ratings,
    insert_returning_ids,
)
from training.datasets.event_log import export_event_log

SOURCE = "synth"
#: The world of seed ``s`` ends at this instant plus ``s % 365`` days.
REFERENCE_BASE = datetime(2025, 1, 6, tzinfo=UTC)
_US = 1_000_000
_DAY_US = 86_400 * _US
#: Event types in the order they happen within one impression (ties in time sort by this).
_TYPE_ORDER: tuple[EventType, ...] = (
    EventType.IMPRESSION,
    EventType.CLICK,
    EventType.PLAY,
    EventType.PROGRESS,
    EventType.COMPLETE,
    EventType.LIKE,
    EventType.RATE,
)
_MILESTONES = (0.25, 0.5, 0.75)


class SynthConfig(BaseModel):
    """Size and behaviour of a synthetic world; the same config always gives the same world."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    users: int = Field(1_000, ge=1, description="Viewer accounts.")
    videos: int = Field(500, ge=1, description="Catalogue size.")
    seed: int = Field(0, ge=0, description="Seed of every random draw and of the end time.")
    days: int = Field(28, ge=1, le=3650, description="Length of the activity window.")
    creators: int | None = Field(
        None, ge=1, description="Creator accounts, one channel each; default videos // 25."
    )
    clusters: int = Field(8, ge=1, le=len(vocab.GENRES), description="Taste clusters.")
    genres_per_cluster: int = Field(2, ge=1, le=4, description="Favourite genres per cluster.")
    taste_strength: float = Field(
        0.8, ge=0, le=1, description="Share of a user's impressions from the cluster's genres."
    )
    sessions_per_user: float = Field(3.0, gt=0, description="Mean sessions per user.")
    impressions_per_session: float = Field(9.0, ge=1, description="Mean impressions a session.")
    zipf_exponent: float = Field(1.0, gt=0, description="Power law of video popularity.")
    rating_rate: float = Field(0.12, ge=0, le=1, description="Share of plays that get rated.")
    comment_rate: float = Field(0.015, ge=0, le=1, description="Share of plays commented on.")
    reply_rate: float = Field(0.3, ge=0, le=1, description="Share of comments that are replies.")

    @property
    def creator_count(self) -> int:
        """Creators to make (the configured number, else one per 25 videos)."""
        return self.creators or max(1, self.videos // 25)

    @property
    def end(self) -> datetime:
        """The fixed instant the activity window ends (derived from the seed)."""
        return REFERENCE_BASE + timedelta(days=self.seed % 365)

    @property
    def start(self) -> datetime:
        """The instant the activity window starts."""
        return self.end - timedelta(days=self.days)


@dataclass(frozen=True)
class SynthReport:
    """What ``synthesize`` wrote, and the hidden taste structure for evaluation."""

    users: int
    creators: int
    videos: int
    events: int
    events_by_type: dict[str, int]
    ratings: int
    comments: int
    replies: int
    events_in_log: int
    start: datetime
    end: datetime
    seconds: float
    #: Favourite genres of each taste cluster.
    cluster_genres: tuple[tuple[str, ...], ...]
    #: DB user id -> taste cluster of every synthetic viewer.
    user_clusters: dict[int, int] = field(repr=False)

    def summary(self) -> str:
        """One human-readable line for the CLI."""
        return (
            f"synthesised {self.users} users, {self.creators} creators, {self.videos} videos, "
            f"{self.events} events, {self.ratings} ratings, {self.comments} comments "
            f"({self.start:%Y-%m-%d} to {self.end:%Y-%m-%d}) in {self.seconds:.1f} s"
        )


def synthesize(config: SynthConfig, database_url: str, events_path: Path) -> SynthReport:
    """Write the world of ``config`` into the catalogue (one transaction), then the event log.

    Refuses a catalogue that already holds a synthetic world.
    """
    started = time.perf_counter()
    world = _World(config)
    with bulk_transaction(database_url) as conn:
        existing = conn.execute(
            select(func.count()).select_from(User).where(User.source == SOURCE)
        ).scalar_one()
        if existing:
            raise DatasetError(
                f"the catalogue already holds a synthetic world ({existing} synthetic users); "
                "synthesise into a fresh database"
            )
        viewer_ids, creator_ids = _write_users(conn, world)
        channel_ids = _write_channels(conn, world, creator_ids)
        video_ids = _write_videos(conn, world, channel_ids)
        events = world.events(viewer_ids, video_ids)
        insert_events(conn, events)
        rates = events[events[c.EVENT_TYPE] == EventType.RATE.value]
        ratings = insert_ratings(
            conn,
            pd.DataFrame(
                {
                    c.USER_ID: rates[c.USER_ID],
                    c.VIDEO_ID: rates[c.VIDEO_ID],
                    "value": rates[c.VALUE],
                    "created_at": rates[c.EVENT_TIMESTAMP],
                }
            ),
        )
        comments, replies = _write_comments(conn, world, events)
    in_log = export_event_log(database_url, events_path)
    return SynthReport(
        users=config.users,
        creators=config.creator_count,
        videos=config.videos,
        events=len(events),
        events_by_type=events[c.EVENT_TYPE].value_counts().sort_index().to_dict(),
        ratings=ratings,
        comments=comments,
        replies=replies,
        events_in_log=in_log,
        start=config.start,
        end=config.end,
        seconds=time.perf_counter() - started,
        cluster_genres=tuple(
            tuple(vocab.GENRES[g] for g in genres) for genres in world.cluster_genres
        ),
        user_clusters=dict(zip(viewer_ids.tolist(), world.user_cluster.tolist(), strict=True)),
    )


class _World:
    """The drawn world, as numpy arrays indexed by position (not yet by database id)."""

    def __init__(self, config: SynthConfig) -> None:
        self.config = config
        self.rng = np.random.default_rng(config.seed)
        self.end_us = int(config.end.timestamp()) * _US
        self.start_us = self.end_us - config.days * _DAY_US
        self._draw_catalogue()
        self._draw_users()

    def _draw_catalogue(self) -> None:
        cfg, rng = self.config, self.rng
        n_genres, n_videos, n_creators = len(vocab.GENRES), cfg.videos, cfg.creator_count
        self.creator_genre = rng.integers(n_genres, size=n_creators)
        prolific = 1.0 / np.arange(1, n_creators + 1) ** 0.7
        self.video_creator = rng.choice(n_creators, size=n_videos, p=prolific / prolific.sum())
        own = rng.random(n_videos) < 0.75
        self.primary = np.where(
            own, self.creator_genre[self.video_creator], rng.integers(n_genres, size=n_videos)
        )
        secondary = rng.integers(n_genres, size=n_videos)
        self.secondary = np.where(
            (rng.random(n_videos) < 0.4) & (secondary != self.primary), secondary, -1
        )
        self.language = rng.choice(
            len(vocab.LANGUAGES), size=n_videos, p=np.array(vocab.LANGUAGE_WEIGHTS)
        )
        self.duration = np.round(np.clip(rng.lognormal(np.log(1500), 0.8, n_videos), 60, 10_800))
        self.release_year = cfg.end.year - np.minimum(rng.geometric(0.12, n_videos) - 1, 80)
        rank = rng.permutation(n_videos)
        self.popularity = 1.0 / (rank + 1.0) ** cfg.zipf_exponent
        fresh = rng.random(n_videos) < 0.15
        before = self.start_us - rng.integers(0, 730 * _DAY_US, size=n_videos)
        during = self.start_us + rng.integers(0, max(1, cfg.days - 1) * _DAY_US, size=n_videos)
        self.published_us = np.where(fresh, during, before)

    def _draw_users(self) -> None:
        cfg, rng = self.config, self.rng
        n_genres = len(vocab.GENRES)
        # Clusters get disjoint favourite genres while the genre list lasts.
        order = rng.permutation(n_genres)
        width = cfg.genres_per_cluster
        self.cluster_genres = [
            np.sort(order[(np.arange(width) + k * width) % n_genres]) for k in range(cfg.clusters)
        ]
        shares = rng.dirichlet(np.full(cfg.clusters, 4.0))
        self.user_cluster = rng.choice(cfg.clusters, size=cfg.users, p=shares)
        self.user_client = rng.choice(
            len(vocab.CLIENTS), size=cfg.users, p=np.array(vocab.CLIENT_WEIGHTS)
        )
        activity = rng.lognormal(0.0, 0.8, cfg.users)
        self.sessions = rng.poisson(activity / activity.mean() * cfg.sessions_per_user)
        self.user_created_us = self.start_us - rng.integers(_DAY_US, 900 * _DAY_US, cfg.users)

    def matches(self, cluster: int) -> np.ndarray:
        """Mask of the videos with a genre among ``cluster``'s favourites."""
        genres = self.cluster_genres[cluster]
        return np.isin(self.primary, genres) | np.isin(self.secondary, genres)

    def _video_cdfs(self, cluster: int) -> tuple[np.ndarray, np.ndarray]:
        """Cumulative impression weights of ``cluster`` over all videos and over old videos."""
        match = self.matches(cluster)
        strength = self.config.taste_strength if match.any() and (~match).any() else 0.5
        pop = self.popularity
        weights = np.where(match, strength * pop / max(pop[match].sum(), 1e-12), 0.0) + np.where(
            ~match, (1 - strength) * pop / max(pop[~match].sum(), 1e-12), 0.0
        )
        old = np.where(self.published_us < self.start_us, weights, 0.0)
        if old.sum() == 0:
            old = weights
        return np.cumsum(weights) / weights.sum(), np.cumsum(old) / old.sum()

    def events(self, user_ids: np.ndarray, video_ids: np.ndarray) -> pd.DataFrame:
        """Every interaction event, time-ordered, with database ids and sequential event ids."""
        cfg, rng = self.config, self.rng
        # Sessions: a start time with an evening peak, and a run of impressions.
        n_sessions = int(self.sessions.sum())
        session_user = np.repeat(np.arange(cfg.users), self.sessions)
        hours = np.array(vocab.HOURLY_ACTIVITY)
        session_start = (
            self.start_us
            + rng.integers(0, cfg.days, n_sessions) * _DAY_US
            + rng.choice(24, size=n_sessions, p=hours / hours.sum()) * 3_600 * _US
            + rng.integers(0, 3_600 * _US, n_sessions)
        )
        per_session = 1 + rng.poisson(cfg.impressions_per_session - 1, n_sessions)
        imp_session = np.repeat(np.arange(n_sessions), per_session)
        first = np.repeat(np.cumsum(per_session) - per_session, per_session)
        position = np.arange(len(imp_session)) - first
        imp_user = session_user[imp_session]
        gaps = np.cumsum(rng.integers(3 * _US, 40 * _US, len(imp_session)))
        imp_ts = session_start[imp_session] + gaps - gaps[first]
        imp_video = self._impression_videos(imp_user, imp_ts)
        cluster = self.user_cluster[imp_user]
        match = np.zeros(len(imp_user), dtype=bool)
        for k in range(cfg.clusters):
            rows = cluster == k
            match[rows] = self.matches(k)[imp_video[rows]]

        # Funnel: click -> play -> watch fraction -> progress / complete / like / rate.
        p_click = (0.04 + 0.26 * match) * (1.25 - 0.5 * np.minimum(position, 10) / 10)
        clicked = np.flatnonzero(rng.random(len(imp_user)) < p_click)
        played = clicked[rng.random(len(clicked)) < 0.9]
        m = match[played]
        raw = np.where(m, rng.beta(3.0, 1.5, len(played)), rng.beta(1.2, 3.0, len(played)))
        fraction = np.minimum(1.0, raw * 1.15)
        duration = self.duration[imp_video[played]]
        watched = np.round(fraction * duration, 1)
        # Browsing resumes after each play: later impressions of the session shift by its watch.
        pause = np.zeros(len(imp_user), dtype=np.int64)
        pause[played] = (watched * _US).astype(np.int64) + 30 * _US
        before = np.cumsum(pause) - pause
        imp_ts = imp_ts + before - before[first]
        click_ts = imp_ts[clicked] + rng.integers(1 * _US, 15 * _US, len(clicked))
        play_ts = imp_ts[played] + rng.integers(16 * _US, 20 * _US, len(played))

        parts: list[dict[str, np.ndarray]] = []

        def add(kind: EventType, rows: np.ndarray, ts: np.ndarray, **values: np.ndarray) -> None:
            n = len(rows)
            nan = np.full(n, np.nan)
            parts.append(
                {
                    "imp": rows,
                    "type": np.full(n, _TYPE_ORDER.index(kind), dtype=np.int8),
                    "ts": ts,
                    "value": values.get("value", nan),
                    "watch": values.get("watch", nan),
                }
            )

        add(EventType.IMPRESSION, np.arange(len(imp_user)), imp_ts, value=position.astype(float))
        add(EventType.CLICK, clicked, click_ts)
        add(EventType.PLAY, played, play_ts, value=np.round(fraction, 4), watch=watched)
        for milestone in _MILESTONES:
            hit = fraction >= milestone
            add(
                EventType.PROGRESS,
                played[hit],
                play_ts[hit] + (milestone * duration[hit] * _US).astype(np.int64),
                value=np.full(int(hit.sum()), milestone),
                watch=np.round(milestone * duration[hit], 1),
            )
        done = fraction >= 0.999
        add(
            EventType.COMPLETE,
            played[done],
            play_ts[done] + (duration[done] * _US).astype(np.int64),
            value=np.ones(int(done.sum())),
            watch=duration[done],
        )
        after = play_ts + (watched * _US).astype(np.int64)
        liked = rng.random(len(played)) < 0.02 + 0.3 * m * fraction
        add(
            EventType.LIKE,
            played[liked],
            after[liked] + rng.integers(1 * _US, 30 * _US, int(liked.sum())),
            value=np.ones(int(liked.sum())),
        )
        rated = rng.random(len(played)) < cfg.rating_rate
        stars = 1.0 + 3.5 * fraction + 0.5 * m + rng.normal(0.0, 0.6, len(played))
        add(
            EventType.RATE,
            played[rated],
            after[rated] + rng.integers(30 * _US, 120 * _US, int(rated.sum())),
            value=np.clip(np.round(stars[rated] * 2) / 2, 0.5, 5.0),
        )
        self.played = played
        self.play_ts = play_ts

        merged = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
        merged["ts"] = np.minimum(merged["ts"], self.end_us - 1)
        rows = merged["imp"]
        order = np.lexsort((rows, merged["type"], imp_user[rows], merged["ts"]))
        rows = rows[order]
        users = imp_user[rows]
        sessions = imp_session[rows]
        n = len(rows)
        prefix = f"syn{self.config.seed}-"
        session_names = np.strings.add(f"{prefix}s", np.arange(n_sessions).astype(np.str_)).astype(
            object
        )
        event_names = np.strings.add(
            prefix, np.strings.zfill(np.arange(n).astype(np.str_), 10)
        ).astype(object)
        type_names = np.array([t.value for t in _TYPE_ORDER], dtype=object)
        clients = np.array(vocab.CLIENTS, dtype=object)
        self.imp_user, self.imp_video = imp_user, imp_video
        return pd.DataFrame(
            {
                c.EVENT_ID: event_names,
                c.USER_ID: user_ids[users],
                c.VIDEO_ID: video_ids[imp_video[rows]],
                c.EVENT_TYPE: type_names[merged["type"][order]],
                c.VALUE: merged["value"][order],
                c.WATCH_SECONDS: merged["watch"][order],
                c.EVENT_TIMESTAMP: pd.to_datetime(merged["ts"][order], unit="us", utc=True),
                c.CLIENT_ID: clients[self.user_client[users]],
                c.SESSION_ID: session_names[sessions],
            }
        )

    def _impression_videos(self, imp_user: np.ndarray, imp_ts: np.ndarray) -> np.ndarray:
        """A video per impression: popular ones, mostly of the user's cluster's genres."""
        rng = self.rng
        videos = np.empty(len(imp_user), dtype=np.int64)
        cluster = self.user_cluster[imp_user]
        for k in range(self.config.clusters):
            rows = np.flatnonzero(cluster == k)
            every, old = self._video_cdfs(k)
            picks = np.minimum(np.searchsorted(every, rng.random(len(rows))), len(every) - 1)
            early = imp_ts[rows] < self.published_us[picks]
            replacement = np.searchsorted(old, rng.random(int(early.sum())))
            picks[early] = np.minimum(replacement, len(old) - 1)
            videos[rows] = picks
        return videos

    def usernames(self) -> list[str]:
        """Unique viewer usernames like ``maya.okafor42``."""
        rng = self.rng
        first = rng.integers(len(vocab.FIRST_NAMES), size=self.config.users)
        last = rng.integers(len(vocab.LAST_NAMES), size=self.config.users)
        return [
            f"{vocab.FIRST_NAMES[f]}.{vocab.LAST_NAMES[s]}{i}"
            for i, (f, s) in enumerate(zip(first.tolist(), last.tolist(), strict=True))
        ]

    def channel_names(self) -> list[str]:
        """A name per creator's channel."""
        rng = self.rng
        n = self.config.creator_count
        picks = zip(
            rng.integers(len(vocab.ADJECTIVES), size=n).tolist(),
            rng.integers(len(vocab.NOUNS), size=n).tolist(),
            rng.integers(len(vocab.CHANNEL_SUFFIXES), size=n).tolist(),
            strict=True,
        )
        return [
            f"{vocab.ADJECTIVES[a]} {vocab.NOUNS[b]} {vocab.CHANNEL_SUFFIXES[s]}"
            for a, b, s in picks
        ]

    def video_rows(self, channel_ids: np.ndarray) -> list[dict[str, Any]]:
        """The ``videos`` rows: titles, descriptions and tags made from the word lists."""
        rng, n = self.rng, self.config.videos
        adjective = rng.integers(len(vocab.ADJECTIVES), size=n).tolist()
        noun = rng.integers(len(vocab.NOUNS), size=n).tolist()
        other = rng.integers(len(vocab.NOUNS), size=n).tolist()
        pattern = rng.integers(3, size=n).tolist()
        kind = rng.integers(len(vocab.FORMATS), size=n).tolist()
        tag_pick = rng.integers(0, 5, size=(n, 3)).tolist()
        general = rng.integers(len(vocab.GENERAL_TAGS), size=n).tolist()
        rows = []
        for i in range(n):
            adj, noun_a, noun_b = (
                vocab.ADJECTIVES[adjective[i]],
                vocab.NOUNS[noun[i]],
                vocab.NOUNS[other[i]],
            )
            title = (
                f"The {adj} {noun_a}",
                f"{noun_a} of the {adj} {noun_b}",
                f"{adj} {noun_a}: Part {i % 4 + 1}",
            )[pattern[i]]
            genres = [vocab.GENRES[self.primary[i]]]
            if self.secondary[i] >= 0:
                genres.append(vocab.GENRES[self.secondary[i]])
            own_tags = vocab.GENRE_TAGS[self.primary[i]]
            tags = list(dict.fromkeys([own_tags[t] for t in tag_pick[i]]))
            tags.append(vocab.GENERAL_TAGS[general[i]])
            published = datetime.fromtimestamp(self.published_us[i] / _US, tz=UTC)
            rows.append(
                {
                    "channel_id": int(channel_ids[self.video_creator[i]]),
                    "title": title,
                    "description": (
                        f"A {adj.lower()} {genres[0].lower()} {vocab.FORMATS[kind[i]]} about "
                        f"a {noun_a.lower()} and a {noun_b.lower()}. Featuring "
                        f"{', '.join(tags[:-1])}."
                    ),
                    "tags": tags,
                    "genres": genres,
                    "language": vocab.LANGUAGES[self.language[i]],
                    "duration_s": float(self.duration[i]),
                    "release_year": int(min(self.release_year[i], published.year)),
                    "visibility": Visibility.PUBLIC,
                    "status": VideoStatus.READY,
                    "failure_reason": None,
                    "source": SOURCE,
                    "external_id": f"v{i}",
                    "created_at": published,
                    "published_at": published,
                }
            )
        return rows


def _write_users(conn: Connection, world: _World) -> tuple[np.ndarray, np.ndarray]:
    """Insert viewers and creators; return their database ids (by position)."""
    created = [datetime.fromtimestamp(t / _US, tz=UTC) for t in world.user_created_us.tolist()]
    viewers = [
        {
            "username": name,
            "email": None,
            "password_hash": None,
            "role": Role.VIEWER,
            "source": SOURCE,
            "external_id": f"u{i}",
            "created_at": created[i],
        }
        for i, name in enumerate(world.usernames())
    ]
    before = world.config.start - timedelta(days=1000)
    creators = [
        {
            "username": f"creator{i}",
            "email": None,
            "password_hash": None,
            "role": Role.CREATOR,
            "source": SOURCE,
            "external_id": f"c{i}",
            "created_at": before,
        }
        for i in range(world.config.creator_count)
    ]
    table = User.__table__
    viewer_ids = insert_returning_ids(conn, table, viewers)  # type: ignore[arg-type]
    creator_ids = insert_returning_ids(conn, table, creators)  # type: ignore[arg-type]
    return np.array(viewer_ids, dtype=np.int64), np.array(creator_ids, dtype=np.int64)


def _write_channels(conn: Connection, world: _World, creator_ids: np.ndarray) -> np.ndarray:
    """One channel per creator, named from the word lists; return the channel ids."""
    created = world.config.start - timedelta(days=999)
    rows = [
        {
            "owner_id": int(owner),
            "name": name,
            "description": f"{vocab.GENRES[genre]} from {name}.",
            "created_at": created,
        }
        for owner, name, genre in zip(
            creator_ids.tolist(),
            world.channel_names(),
            world.creator_genre.tolist(),
            strict=True,
        )
    ]
    ids = insert_returning_ids(conn, Channel.__table__, rows)  # type: ignore[arg-type]
    return np.array(ids, dtype=np.int64)


def _write_videos(conn: Connection, world: _World, channel_ids: np.ndarray) -> np.ndarray:
    """Insert the catalogue; return the video ids (by position)."""
    rows = world.video_rows(channel_ids)
    return np.array(
        insert_returning_ids(conn, Video.__table__, rows),  # type: ignore[arg-type]
        dtype=np.int64,
    )


def _write_comments(conn: Connection, world: _World, events: pd.DataFrame) -> tuple[int, int]:
    """Comments on some plays; a share are replies to an earlier comment on the same video."""
    rng, cfg = world.rng, world.config
    plays = events[events[c.EVENT_TYPE] == EventType.PLAY.value]
    chosen = plays[rng.random(len(plays)) < cfg.comment_rate]
    if chosen.empty:
        return 0, 0
    chosen = chosen.sort_values([c.VIDEO_ID, c.EVENT_TIMESTAMP, c.EVENT_ID], kind="stable")
    video = chosen[c.VIDEO_ID].to_numpy()
    group_start = np.flatnonzero(np.r_[True, video[1:] != video[:-1]])
    rank = np.arange(len(video)) - np.repeat(group_start, np.diff(np.r_[group_start, len(video)]))
    is_reply = (rank > 0) & (rng.random(len(video)) < cfg.reply_rate)
    opener = rng.integers(len(vocab.COMMENT_OPENERS), size=len(video))
    ending = rng.integers(len(vocab.COMMENT_ENDINGS), size=len(video))
    noun = rng.integers(len(vocab.NOUNS), size=len(video))
    reply_body = rng.integers(len(vocab.REPLY_BODIES), size=len(video))
    created = chosen[c.EVENT_TIMESTAMP] + pd.to_timedelta(
        rng.integers(60, 3_600, len(video)), unit="s"
    )
    created = created.clip(upper=pd.Timestamp(cfg.end) - pd.Timedelta(microseconds=1))
    frame = pd.DataFrame(
        {
            "video_id": video,
            "user_id": chosen[c.USER_ID].to_numpy(),
            "body": [
                vocab.REPLY_BODIES[reply_body[i]]
                if is_reply[i]
                else f"{vocab.COMMENT_OPENERS[opener[i]]} {vocab.NOUNS[noun[i]].lower()} "
                f"{vocab.COMMENT_ENDINGS[ending[i]]}"
                for i in range(len(video))
            ],
            "created_at": created.to_numpy(),
        }
    )
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    top = frame[~is_reply]
    top_ids = np.array(
        insert_returning_ids(
            conn,
            Comment.__table__,  # type: ignore[arg-type]
            [
                {**row, "parent_id": None, "created_at": row["created_at"].to_pydatetime()}
                for row in top.to_dict("records")
            ],
        ),
        dtype=np.int64,
    )
    # A reply answers a top-level comment on the same video made before it.
    top_position = np.cumsum(~is_reply) - 1
    replies = frame[is_reply].copy()
    reply_rows = np.flatnonzero(is_reply)
    first_top = top_position[group_start[np.searchsorted(group_start, reply_rows, "right") - 1]]
    last_top = top_position[reply_rows]
    parents = first_top + (rng.random(len(reply_rows)) * (last_top - first_top + 1)).astype(int)
    replies["parent_id"] = top_ids[parents]
    parent_created = top["created_at"].dt.tz_convert(None).to_numpy()[parents] + np.timedelta64(
        60, "s"
    )
    latest = np.datetime64(int(world.end_us) - 1, "us")
    own = replies["created_at"].dt.tz_convert(None).to_numpy()
    replies["created_at"] = pd.to_datetime(
        np.minimum(np.maximum(own, parent_created), latest), utc=True
    )
    bulk_insert(conn, Comment.__table__, replies)  # type: ignore[arg-type]
    return len(frame), len(replies)


def bench_synth(database_url: str | None = None, events_path: Path | None = None) -> SynthReport:
    """Time the full-size world (100k users, 10k videos, ~5M events); print and return the report.

    Without arguments it writes a scratch SQLite catalogue under a temporary folder.
    """
    import tempfile

    from core.db.migrate import upgrade

    scratch = Path(tempfile.mkdtemp(prefix="reelrank-bench-"))
    url = database_url or f"sqlite:///{scratch / 'reelrank.db'}"
    if database_url is None:
        upgrade(url)
    config = SynthConfig(users=100_000, videos=10_000, seed=7)
    report = synthesize(config, url, events_path or scratch / "events.parquet")
    print(report.summary())
    print(f"events by type: {report.events_by_type}")
    return report


if __name__ == "__main__":
    bench_synth()
