"""Serving ranks with features from the Feast online store, and falls back when it is gone.

A real Feast repo (SQLite online store) under the data root, a real LightGBM ranker trained on
point-in-time vectors of that repo, and the real API: ``/ready`` and the recommendations route.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from core import columns as c
from core.db.models import Video
from core.db.session import session_scope
from core.settings import Settings
from core.types import VideoStatus
from features import schema as s
from features.build import build_tables
from features.historical import HistoricalFeatures
from features.online import OnlineFeatures
from features.store import apply, materialize, write_store_config
from models.base import PAD_ID
from models.interactions import Interactions
from models.lambdarank import LambdaRankConfig, LambdaRanker
from models.pair_features import ranker_feature_names, ranker_inputs
from models.pipeline import PipelineConfig, RecommendationPipeline
from serving.app import create_app
from serving.deps import get_recommender
from serving.recommender import RecommenderService

pytestmark = pytest.mark.slow

START = pd.Timestamp("2024-01-01", tz="UTC")
VIDEOS = list(range(1, 13))


def _events() -> pd.DataFrame:
    """Users 1-20 play four of videos 1-6, users 21-40 four of videos 7-12."""
    rng = np.random.default_rng(0)
    rows = []
    for user in range(1, 41):
        cluster = VIDEOS[:6] if user <= 20 else VIDEOS[6:]
        for hour, video in enumerate(rng.choice(cluster, size=4, replace=False)):
            rows.append((user, int(video), "play", START + pd.Timedelta(hours=hour), 60.0))
    return pd.DataFrame(
        rows, columns=[c.USER_ID, c.VIDEO_ID, c.EVENT_TYPE, c.EVENT_TIMESTAMP, c.WATCH_SECONDS]
    )


def _videos() -> pd.DataFrame:
    published = pd.Series([START - pd.Timedelta(days=10)] * len(VIDEOS)).dt.as_unit("us")
    return pd.DataFrame(
        {
            c.VIDEO_ID: VIDEOS,
            "genres": [["drama"] if v <= 6 else ["comedy"] for v in VIDEOS],
            "language": ["en"] * len(VIDEOS),
            "duration_s": [600.0] * len(VIDEOS),
            "published_at": published,
            "created_at": published,
        }
    )


@pytest.fixture
def served(settings: Settings, sqlite_url: str) -> Iterator[tuple[RecommenderService, Path]]:
    """The app's recommender over a pipeline whose LightGBM ranker needs the online store."""
    repo = settings.paths.features
    tables = build_tables(_events(), _videos(), repo / s.TABLES_DIR)
    write_store_config(repo, "sqlite", None)
    apply(repo)
    materialize(repo, end=tables.as_of)
    with session_scope(sqlite_url) as session:
        for video in VIDEOS:
            session.add(Video(id=video, title=f"Video {video}", status=VideoStatus.READY))

    interactions = Interactions.from_events(_events())
    pipeline = RecommendationPipeline.fit(
        interactions, config=PipelineConfig(sources=("itemknn", "popularity"), use_ranker=True)
    )
    users = np.arange(1, 41)
    candidates = pipeline.candidates(users, exclude_seen=False)
    offline = HistoricalFeatures(repo, tables.as_of)
    features = ranker_inputs(users, candidates, offline)
    watched = [pipeline.seen_items(np.array([u]))[0] for u in users]
    labels = np.array(
        [[int(v) in w for v in row] for row, w in zip(candidates.item_ids, watched, strict=True)]
    )
    names = ranker_feature_names(tuple(pipeline.sources), offline.names)
    ranker = LambdaRanker(LambdaRankConfig(n_estimators=10, min_child_samples=2)).fit(
        features, labels, candidates.item_ids != PAD_ID, names
    )
    ranked = RecommendationPipeline(
        pipeline.sources, pipeline.config, ranker=ranker, item_features=None
    )
    service = RecommenderService(settings)
    service.open_features()
    service.swap(ranked)
    yield service, repo


def _client(settings: Settings, service: RecommenderService) -> TestClient:
    app = create_app(settings)
    app.dependency_overrides[get_recommender] = lambda: service
    return TestClient(app)


def test_recommendations_are_ranked_with_online_features(
    settings: Settings, served: tuple[RecommenderService, Path]
) -> None:
    service, _ = served
    assert service.ranking == "ranker"
    assert isinstance(service.pipeline.pair_features, OnlineFeatures)
    with _client(settings, service) as client:
        ready = client.get("/ready")
        assert ready.status_code == 200, ready.json()
        assert ready.json()["ranking"] == "ranker"
        body = client.get("/users/3/recommendations", params={"k": 2}).json()
    assert len(body["items"]) == 2
    # the served order is the ranker's order of the blend's candidates for this user
    users = np.array([3])
    blended = service.pipeline.candidates(users)
    assert [item["video_id"] for item in body["items"]] == [
        int(v) for v in blended.item_ids[0] if v != PAD_ID
    ][:2]
    # and those scores are the ranker's, not the blend's
    features = service.pipeline.pair_features
    service.pipeline.attach_features(None)
    plain = service.pipeline.candidates(users)
    service.pipeline.attach_features(features)
    assert not np.allclose(plain.scores, blended.scores)


def test_a_missing_online_store_falls_back_to_the_blend_and_readiness_says_why(
    settings: Settings, served: tuple[RecommenderService, Path], tmp_path: Path
) -> None:
    service, repo = served
    shutil.move(repo / "online_store.db", tmp_path / "online_store.db")
    # a request while the store is gone still answers, in the blend's order
    with _client(settings, service) as client:
        listed = client.get("/users/3/recommendations", params={"k": 2})
    assert listed.status_code == 200
    assert len(listed.json()["items"]) == 2
    # a service started now cannot open the store: it serves the blend and is not ready
    fresh = RecommenderService(settings)
    assert fresh.open_features() is None
    fresh.swap(service.pipeline)
    assert fresh.ranking.startswith("blend (fallback")
    with _client(settings, fresh) as client:
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert any("ranking: blend (fallback" in p for p in ready.json()["problems"])
        listed = client.get("/users/3/recommendations", params={"k": 2})
    assert listed.status_code == 200
    assert len(listed.json()["items"]) == 2
