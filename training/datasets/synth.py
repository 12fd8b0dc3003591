"""The synthetic demo world, simulated: creators, a catalogue, taste-clustered users, sessions.

Pure: ``simulate(config)`` draws everything with numpy from one seeded generator and returns
frames, so the same ``SynthConfig`` always gives the same world. Rows refer to each other by
position (0-based), not by database id; ``training.datasets.synth_writer`` writes a world into
the catalogue and the parquet event log, ``training.datasets.synth_bench`` times the full size.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from core import columns as c
from core.types import EventType, Role, VideoStatus, Visibility
from training.datasets import synth_vocabulary as vocab

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
class SynthWorld:
    """A simulated world as frames whose rows refer to each other by position.

    ``viewers``, ``creators`` and ``channels`` are rows of the ``users`` and ``channels``
    tables (channel ``i`` belongs to creator ``i``); ``videos`` rows name their channel by
    position in ``channel``; ``events`` has the event-log columns with ``user_id`` and
    ``video_id`` holding positions in ``viewers`` and ``videos`` (see ``events_with_ids``);
    ``comments`` name video and user by position, and a reply's ``parent`` is the position of
    the top-level comment it answers among the top-level comments (-1 for those).
    """

    config: SynthConfig
    viewers: pd.DataFrame
    creators: pd.DataFrame
    channels: pd.DataFrame
    videos: pd.DataFrame
    events: pd.DataFrame
    comments: pd.DataFrame
    #: Favourite genres of each taste cluster.
    cluster_genres: tuple[tuple[str, ...], ...]
    #: Taste cluster of each viewer, by position.
    user_cluster: np.ndarray

    def events_with_ids(self, viewer_ids: np.ndarray, video_ids: np.ndarray) -> pd.DataFrame:
        """``events`` with database ids: ``viewer_ids[i]`` for viewer ``i``, likewise videos."""
        return self.events.assign(
            **{
                c.USER_ID: viewer_ids[self.events[c.USER_ID].to_numpy()],
                c.VIDEO_ID: video_ids[self.events[c.VIDEO_ID].to_numpy()],
            }
        )


def simulate(config: SynthConfig) -> SynthWorld:
    """Draw the world of ``config`` (every random draw in a fixed order, from its seed)."""
    world = _World(config)
    viewers = world.viewer_rows()
    creators = world.creator_rows()
    channels = world.channel_rows()
    videos = world.video_rows()
    events = world.events()
    comments = world.comments(events)
    return SynthWorld(
        config=config,
        viewers=viewers,
        creators=creators,
        channels=channels,
        videos=videos,
        events=events,
        comments=comments,
        cluster_genres=tuple(
            tuple(vocab.GENRES[g] for g in genres) for genres in world.cluster_genres
        ),
        user_cluster=world.user_cluster,
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

    def events(self) -> pd.DataFrame:
        """Every interaction event, time-ordered, with sequential event ids; ``user_id`` and
        ``video_id`` are viewer and video positions."""
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
                c.USER_ID: users.astype(np.int64),
                c.VIDEO_ID: imp_video[rows].astype(np.int64),
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

    def viewer_rows(self) -> pd.DataFrame:
        """The viewers' ``users`` rows, named like ``maya.okafor42``."""
        created = [datetime.fromtimestamp(t / _US, tz=UTC) for t in self.user_created_us.tolist()]
        return pd.DataFrame(
            [
                {
                    "username": name,
                    "email": None,
                    "password_hash": None,
                    "role": Role.VIEWER,
                    "source": SOURCE,
                    "external_id": f"u{i}",
                    "created_at": created[i],
                }
                for i, name in enumerate(self.usernames())
            ]
        )

    def creator_rows(self) -> pd.DataFrame:
        """The creators' ``users`` rows."""
        before = self.config.start - timedelta(days=1000)
        return pd.DataFrame(
            [
                {
                    "username": f"creator{i}",
                    "email": None,
                    "password_hash": None,
                    "role": Role.CREATOR,
                    "source": SOURCE,
                    "external_id": f"c{i}",
                    "created_at": before,
                }
                for i in range(self.config.creator_count)
            ]
        )

    def channel_rows(self) -> pd.DataFrame:
        """One ``channels`` row per creator (``creator``: the owner's position), named from the
        word lists."""
        created = self.config.start - timedelta(days=999)
        return pd.DataFrame(
            [
                {
                    "creator": owner,
                    "name": name,
                    "description": f"{vocab.GENRES[genre]} from {name}.",
                    "created_at": created,
                }
                for owner, (name, genre) in enumerate(
                    zip(self.channel_names(), self.creator_genre.tolist(), strict=True)
                )
            ]
        )

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

    def video_rows(self) -> pd.DataFrame:
        """The ``videos`` rows (``channel``: the channel's position): titles, descriptions and
        tags made from the word lists."""
        rng, n = self.rng, self.config.videos
        adjective = rng.integers(len(vocab.ADJECTIVES), size=n).tolist()
        noun = rng.integers(len(vocab.NOUNS), size=n).tolist()
        other = rng.integers(len(vocab.NOUNS), size=n).tolist()
        pattern = rng.integers(3, size=n).tolist()
        kind = rng.integers(len(vocab.FORMATS), size=n).tolist()
        tag_pick = rng.integers(0, 5, size=(n, 3)).tolist()
        general = rng.integers(len(vocab.GENERAL_TAGS), size=n).tolist()
        rows: list[dict[str, Any]] = []
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
                    "channel": int(self.video_creator[i]),
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
        return pd.DataFrame(rows)

    def comments(self, events: pd.DataFrame) -> pd.DataFrame:
        """Comments on some plays of ``events``; a share are replies to an earlier top-level
        comment on the same video (``parent``: its position among the top-level comments)."""
        rng, cfg = self.rng, self.config
        columns = [c.VIDEO_ID, c.USER_ID, "body", "created_at", "parent"]
        plays = events[events[c.EVENT_TYPE] == EventType.PLAY.value]
        chosen = plays[rng.random(len(plays)) < cfg.comment_rate]
        if chosen.empty:
            return pd.DataFrame({name: [] for name in columns})
        chosen = chosen.sort_values([c.VIDEO_ID, c.EVENT_TIMESTAMP, c.EVENT_ID], kind="stable")
        video = chosen[c.VIDEO_ID].to_numpy()
        group_start = np.flatnonzero(np.r_[True, video[1:] != video[:-1]])
        sizes = np.diff(np.r_[group_start, len(video)])
        rank = np.arange(len(video)) - np.repeat(group_start, sizes)
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
                c.VIDEO_ID: video,
                c.USER_ID: chosen[c.USER_ID].to_numpy(),
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
        frame["parent"] = np.int64(-1)
        # A reply answers a top-level comment on the same video made before it.
        top_position = np.cumsum(~is_reply) - 1
        reply_rows = np.flatnonzero(is_reply)
        first_top = top_position[group_start[np.searchsorted(group_start, reply_rows, "right") - 1]]
        last_top = top_position[reply_rows]
        parents = first_top + (rng.random(len(reply_rows)) * (last_top - first_top + 1)).astype(int)
        top_created = frame.loc[~is_reply, "created_at"].dt.tz_convert(None).to_numpy()
        parent_created = top_created[parents] + np.timedelta64(60, "s")
        latest = np.datetime64(int(self.end_us) - 1, "us")
        own = frame.loc[is_reply, "created_at"].dt.tz_convert(None).to_numpy()
        frame.loc[is_reply, "parent"] = parents
        frame.loc[is_reply, "created_at"] = pd.to_datetime(
            np.minimum(np.maximum(own, parent_created), latest), utc=True
        )
        return frame[columns]


if __name__ == "__main__":  # the documented ``python -m training.datasets.synth``
    from training.datasets.synth_bench import bench_synth

    bench_synth()
