"""The synthetic demo world: determinism, consistency with the catalogue, taste clusters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from sqlalchemy import select

from core import columns as c
from core.db.migrate import upgrade
from core.db.models import Channel, Comment, InteractionEvent, Rating, User, Video
from core.db.session import get_engine
from core.errors import DatasetError
from core.eventlog import conform, read_events
from core.types import EventType, Role
from training.datasets.synth import SynthConfig, simulate
from training.datasets.synth_vocabulary import GENRES, LANGUAGES
from training.datasets.synth_writer import synthesize

SMALL = SynthConfig(users=400, videos=150, seed=11, days=14)


def fresh_sqlite(path: Path) -> str:
    url = f"sqlite:///{path}"
    upgrade(url)
    return url


def db_events(url: str) -> pd.DataFrame:
    table = InteractionEvent.__table__
    with get_engine(url).connect() as conn:
        rows = conn.execute(select(table).order_by(table.c.event_id)).mappings().all()
    return conform(pd.DataFrame([dict(r) for r in rows], columns=list(c.EVENT_COLUMNS)))


def test_same_seed_gives_identical_parquet(tmp_path: Path) -> None:
    paths = []
    for name in ("a", "b"):
        url = fresh_sqlite(tmp_path / f"{name}.db")
        synthesize(SMALL, url, tmp_path / f"{name}.parquet")
        paths.append(tmp_path / f"{name}.parquet")
    assert paths[0].read_bytes() == paths[1].read_bytes()
    other = tmp_path / "c.parquet"
    synthesize(SMALL.model_copy(update={"seed": 12}), fresh_sqlite(tmp_path / "c.db"), other)
    assert not read_events(other).equals(read_events(paths[0]))


def test_simulation_is_pure_frames_with_positional_references() -> None:
    world = simulate(SMALL)
    again = simulate(SMALL)
    for name in ("viewers", "creators", "channels", "videos", "events", "comments"):
        pd.testing.assert_frame_equal(getattr(world, name), getattr(again, name))
    assert len(world.viewers) == SMALL.users and len(world.videos) == SMALL.videos
    assert world.events[c.USER_ID].between(0, SMALL.users - 1).all()
    assert world.events[c.VIDEO_ID].between(0, SMALL.videos - 1).all()
    assert world.videos["channel"].between(0, len(world.channels) - 1).all()
    replies = world.comments[world.comments["parent"] >= 0]
    assert replies["parent"].max() < (world.comments["parent"] < 0).sum()
    with_ids = world.events_with_ids(np.arange(SMALL.users) + 1000, np.arange(SMALL.videos) + 5)
    assert with_ids[c.USER_ID].min() >= 1000 and with_ids[c.VIDEO_ID].min() >= 5
    assert world.events[c.USER_ID].min() == 0  # the world itself is left untouched


def test_world_is_consistent_with_the_catalogue(tmp_path: Path, database_url: str) -> None:
    events_path = tmp_path / "events.parquet"
    report = synthesize(SMALL, database_url, events_path)
    log = read_events(events_path)
    pd.testing.assert_frame_equal(log, db_events(database_url))
    assert report.events == report.events_in_log == len(log)
    player_only = {EventType.PAUSE, EventType.SEEK, EventType.QUALITY_CHANGE, EventType.REBUFFER}
    assert set(log[c.EVENT_TYPE]) == {e.value for e in EventType} - player_only
    assert log[c.EVENT_TIMESTAMP].min() >= pd.Timestamp(SMALL.start)
    assert log[c.EVENT_TIMESTAMP].max() < pd.Timestamp(SMALL.end)
    assert log[c.EVENT_ID].is_unique
    with get_engine(database_url).connect() as conn:
        users = conn.execute(select(User)).all()
        channels = conn.execute(select(Channel)).all()
        videos = {v.id: v for v in conn.execute(select(Video))}
        ratings = conn.execute(select(Rating)).all()
        comments = {x.id: x for x in conn.execute(select(Comment))}
    roles = pd.Series([u.role for u in users]).value_counts()
    assert (roles[Role.VIEWER], roles[Role.CREATOR]) == (400, SMALL.creator_count)
    assert {ch.owner_id for ch in channels} == {u.id for u in users if u.role == Role.CREATOR}
    assert all(set(v.genres) <= set(GENRES) and v.genres for v in videos.values())
    assert {v.language for v in videos.values()} <= set(LANGUAGES)
    assert all(v.tags and v.description and v.duration_s > 0 for v in videos.values())
    plays = log[log[c.EVENT_TYPE] == EventType.PLAY.value]
    durations = plays[c.VIDEO_ID].map({k: v.duration_s for k, v in videos.items()})
    assert (plays[c.WATCH_SECONDS] <= durations + 1e-6).all()
    rates = log[log[c.EVENT_TYPE] == EventType.RATE.value]
    assert len(ratings) == report.ratings == len(rates.drop_duplicates([c.USER_ID, c.VIDEO_ID]))
    assert rates[c.VALUE].between(0.5, 5.0).all()
    replies = [x for x in comments.values() if x.parent_id is not None]
    assert len(comments) == report.comments and len(replies) == report.replies > 0
    for reply in replies:
        parent = comments[reply.parent_id]
        assert parent.video_id == reply.video_id and parent.parent_id is None
        assert parent.created_at <= reply.created_at


def test_users_play_their_clusters_genres(tmp_path: Path, sqlite_url: str) -> None:
    report = synthesize(SMALL, sqlite_url, tmp_path / "events.parquet")
    plays = read_events(tmp_path / "events.parquet", [EventType.PLAY.value])
    with get_engine(sqlite_url).connect() as conn:
        genres = {v.id: set(v.genres) for v in conn.execute(select(Video.id, Video.genres))}
    cluster = plays[c.USER_ID].map(report.user_clusters)
    for k, favourites in enumerate(report.cluster_genres):
        hits = plays[c.VIDEO_ID].map(lambda v, f=set(favourites): bool(genres[v] & f))
        inside, outside = hits[cluster == k].mean(), hits[cluster != k].mean()
        if np.isnan(inside):
            continue  # an empty cluster
        assert inside > 2 * outside, (k, favourites, inside, outside)


def test_second_world_in_one_catalogue_is_refused(tmp_path: Path, sqlite_url: str) -> None:
    small = SynthConfig(users=20, videos=10, seed=1)
    synthesize(small, sqlite_url, tmp_path / "events.parquet")
    with pytest.raises(
        DatasetError, match=r"already holds a synthetic world \(21 synthetic users\)"
    ):
        synthesize(small, sqlite_url, tmp_path / "events.parquet")


def test_benchmark_writes_a_scratch_catalogue_and_prints_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import tempfile

    from training.datasets import synth_bench

    monkeypatch.setattr(synth_bench, "BENCH_CONFIG", SynthConfig(users=30, videos=12, seed=2))
    monkeypatch.setattr(tempfile, "mkdtemp", lambda prefix: str(tmp_path / prefix))
    (tmp_path / "reelrank-bench-").mkdir()
    report = synth_bench.bench_synth()  # no arguments: a scratch SQLite catalogue
    out = capsys.readouterr().out
    assert (tmp_path / "reelrank-bench-" / "events.parquet").is_file()
    assert report.users == 30 and report.events == report.events_in_log > 0
    assert out.startswith("synthesised 30 users") and "events by type" in out


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValidationError, match="users"):
        SynthConfig(users=0)
    with pytest.raises(ValidationError, match="taste_strength"):
        SynthConfig(taste_strength=1.5)
    assert SynthConfig(seed=3).end == SynthConfig(seed=3).end != SynthConfig(seed=4).end
