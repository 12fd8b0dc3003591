"""The recommendations route on its own, with a real pipeline put in by dependency_overrides.

The catalogue is real (SQLite); the tests pin the rules the route adds: consumed and hidden
videos, unknown users, bad input, no registered model.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from core import columns as c
from core.db.models import InteractionEvent, Video
from core.db.session import session_scope
from core.settings import Settings
from core.types import EventType, VideoStatus, Visibility
from models.interactions import Interactions
from models.pipeline import PipelineConfig, RecommendationPipeline
from models.side_info import ItemFeatures
from serving.app import create_app
from serving.deps import get_recommender
from serving.params import MAX_ID
from serving.recommender import RecommenderService

START = pd.Timestamp("2024-01-01", tz="UTC")
#: Two taste clusters of six videos: ids 1-6 and 7-12.
CLUSTER_A = list(range(1, 7))
CLUSTER_B = list(range(7, 13))
PRIVATE, PROCESSING = 5, 6


def _events() -> pd.DataFrame:
    """Users 1-20 watch four videos of cluster A, users 21-40 four of cluster B."""
    rng = np.random.default_rng(0)
    rows = []
    for user in range(1, 41):
        cluster = CLUSTER_A if user <= 20 else CLUSTER_B
        for hour, video in enumerate(rng.choice(cluster, size=4, replace=False)):
            rows.append((user, int(video), START + pd.Timedelta(hours=hour)))
    frame = pd.DataFrame(rows, columns=[c.USER_ID, c.VIDEO_ID, c.EVENT_TIMESTAMP])
    frame[c.EVENT_TYPE] = "play"
    return frame


@pytest.fixture(scope="module")
def pipeline() -> RecommendationPipeline:
    """Item-KNN plus popularity, fitted on the two clusters, with the videos' genres."""
    interactions = Interactions.from_events(_events())
    genres = pd.DataFrame(
        {
            c.VIDEO_ID: CLUSTER_A + CLUSTER_B,
            "genres": [["drama"]] * len(CLUSTER_A) + [["comedy"]] * len(CLUSTER_B),
        }
    )
    return RecommendationPipeline.fit(
        interactions,
        config=PipelineConfig(sources=("itemknn", "popularity")),
        item_features=ItemFeatures.from_metadata(genres),
    )


@pytest.fixture
def client(
    settings: Settings, sqlite_url: str, pipeline: RecommendationPipeline
) -> Iterator[TestClient]:
    """The app over a catalogue of the twelve videos, with the pipeline injected."""
    with session_scope(sqlite_url) as session:
        for video_id in CLUSTER_A + CLUSTER_B:
            session.add(
                Video(
                    id=video_id,
                    title=f"Video {video_id}",
                    genres=["drama"] if video_id in CLUSTER_A else ["comedy"],
                    status=VideoStatus.PROCESSING if video_id == PROCESSING else VideoStatus.READY,
                    visibility=Visibility.PRIVATE if video_id == PRIVATE else Visibility.PUBLIC,
                )
            )
    service = RecommenderService(settings)
    service.swap(pipeline)
    app = create_app(settings)
    app.dependency_overrides[get_recommender] = lambda: service
    yield TestClient(app)


def _ids(response: dict[str, object]) -> list[int]:
    items = response["items"]
    assert isinstance(items, list)
    return [item["video_id"] for item in items]


def test_known_user_gets_unwatched_videos_of_their_cluster(
    client: TestClient, pipeline: RecommendationPipeline
) -> None:
    body = client.get("/users/21/recommendations", params={"k": 2}).json()
    watched = pipeline.seen_items(np.array([21]))[0]
    assert body["user_id"] == 21
    assert body["cold_start"] is False
    assert len(body["items"]) == 2
    assert set(_ids(body)) <= set(CLUSTER_B) - watched
    for item in body["items"]:
        assert item["title"] == f"Video {item['video_id']}"
        assert item["source"] in {"itemknn", "popularity"}
        if item["anchor_video_id"] is not None:
            assert item["reason"] == f"because you watched Video {item['anchor_video_id']}"


def test_private_and_unready_videos_are_never_returned(client: TestClient) -> None:
    for user in range(1, 41):
        ids = _ids(client.get(f"/users/{user}/recommendations", params={"k": 12}).json())
        assert PRIVATE not in ids
        assert PROCESSING not in ids


def test_videos_consumed_since_training_are_excluded(
    client: TestClient, sqlite_url: str, pipeline: RecommendationPipeline
) -> None:
    before = _ids(client.get("/users/1/recommendations", params={"k": 3}).json())
    with session_scope(sqlite_url) as session:
        session.add(
            InteractionEvent(
                event_id="e-after-training",
                user_id=1,
                video_id=before[0],
                event_type=EventType.COMPLETE,
                event_timestamp=START + pd.Timedelta(days=30),
            )
        )
    after = _ids(client.get("/users/1/recommendations", params={"k": 3}).json())
    assert before[0] not in after
    assert before[1:] == after[: len(before) - 1]


def test_unknown_user_gets_cold_start_videos_of_chosen_genres_first(client: TestClient) -> None:
    body = client.get("/users/999/recommendations", params={"k": 3, "genre": ["comedy"]}).json()
    assert body["cold_start"] is True
    assert set(_ids(body)) <= set(CLUSTER_B)
    other = client.get("/users/999/recommendations", params={"k": 3, "genre": ["drama"]}).json()
    assert set(_ids(other)) <= set(CLUSTER_A) - {PRIVATE, PROCESSING}


@pytest.mark.parametrize(
    "path",
    [
        "/users/1/recommendations?k=0",
        "/users/1/recommendations?k=101",
        "/users/-1/recommendations",
        f"/users/{MAX_ID + 1}/recommendations",
        "/users/86655516668683194728448/recommendations",
        "/users/1/recommendations?" + "&".join(["genre=drama"] * 21),
        "/users/1/recommendations?genre=" + "x" * 65,
        "/users/1/recommendations?genre=",
    ],
)
def test_bad_parameters_are_422_with_a_message(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 422
    assert response.json()["detail"]


def test_no_registered_model_falls_back_to_trending(settings: Settings, sqlite_url: str) -> None:
    app = create_app(settings)
    empty = RecommenderService(settings, name="nothing-registered")
    app.dependency_overrides[get_recommender] = lambda: empty
    response = TestClient(app).get("/users/1/recommendations")
    assert response.status_code == 200
    assert response.json()["fallback"] is True
