"""The recommendation API apps call: home rows, watch-next, similar, more from the creator,
rerank, request filters and promotions, and the trending fallback.

A real item-KNN + popularity + content pipeline fitted on two taste clusters is injected with
``dependency_overrides``; the catalogue is real, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from core import columns as c
from core.db.models import Channel, Follow, InteractionEvent, User, Video
from core.db.session import session_scope
from core.settings import Settings
from core.types import EventType, VideoStatus, Visibility
from models.interactions import Interactions
from models.pipeline import PipelineConfig, RecommendationPipeline
from models.side_info import ItemFeatures
from serving.app import create_app
from serving.deps import get_recommender
from serving.recommender import RecommenderService

START = pd.Timestamp("2024-01-01", tz="UTC")
#: Two taste clusters of eight videos: drama 1-8 (channel 1), comedy 9-16 (channel 2).
DRAMA = list(range(1, 9))
COMEDY = list(range(9, 17))
PRIVATE = 8
#: A comedy uploaded after training, on channel 2.
NEW_UPLOAD = 40


def _events() -> pd.DataFrame:
    """Users 1-20 watch four dramas, users 21-40 four comedies."""
    rng = np.random.default_rng(0)
    rows = []
    for user in range(1, 41):
        cluster = DRAMA[:7] if user <= 20 else COMEDY
        for hour, video in enumerate(rng.choice(cluster, size=4, replace=False)):
            rows.append((user, int(video), START + pd.Timedelta(hours=hour)))
    frame = pd.DataFrame(rows, columns=[c.USER_ID, c.VIDEO_ID, c.EVENT_TIMESTAMP])
    frame[c.EVENT_TYPE] = "play"
    return frame


@pytest.fixture(scope="module")
def pipeline() -> RecommendationPipeline:
    """Item-KNN, popularity and content, fitted on the two clusters with their genres."""
    interactions = Interactions.from_events(_events())
    genres = pd.DataFrame(
        {
            c.VIDEO_ID: DRAMA + COMEDY,
            "genres": [["drama"]] * len(DRAMA) + [["comedy"]] * len(COMEDY),
        }
    )
    return RecommendationPipeline.fit(
        interactions,
        config=PipelineConfig(sources=("itemknn", "popularity")),
        item_features=ItemFeatures.from_metadata(genres),
    )


def _catalogue(url: str) -> None:
    now = datetime.now(UTC)
    with session_scope(url) as session:
        session.add_all([User(id=u, username=f"user{u}") for u in (*range(1, 41), 99)])
        session.add_all(
            [Channel(id=1, owner_id=99, name="Dramas"), Channel(id=2, owner_id=99, name="Laughs")]
        )
        session.flush()
        for video_id in DRAMA + COMEDY:
            session.add(
                Video(
                    id=video_id,
                    channel_id=1 if video_id in DRAMA else 2,
                    title=f"Video {video_id}",
                    genres=["drama"] if video_id in DRAMA else ["comedy"],
                    duration_s=600.0 + video_id,
                    language="en" if video_id % 2 else "fr",
                    status=VideoStatus.READY,
                    visibility=Visibility.PRIVATE if video_id == PRIVATE else Visibility.PUBLIC,
                    published_at=now - timedelta(days=100 - video_id),
                )
            )
        # the training history, also logged in the catalogue (as an import would)
        for row in _events().itertuples():
            session.add(
                InteractionEvent(
                    event_id=f"train-{row.user_id}-{row.video_id}",
                    user_id=row.user_id,
                    video_id=row.video_id,
                    event_type=EventType.PLAY,
                    event_timestamp=row.event_timestamp.to_pydatetime(),
                )
            )


@pytest.fixture
def url(database_url: str) -> str:
    _catalogue(database_url)
    return database_url


@pytest.fixture
def app_settings(settings: Settings, url: str) -> Settings:
    return settings.model_copy(update={"database_url": url})


@pytest.fixture
def client(app_settings: Settings, pipeline: RecommendationPipeline) -> Iterator[TestClient]:
    """The app over the catalogue, with the pipeline injected."""
    service = RecommenderService(app_settings)
    service.swap(pipeline)
    app = create_app(app_settings)
    app.dependency_overrides[get_recommender] = lambda: service
    with TestClient(app) as test_client:
        yield test_client


def _ids(items: list[dict[str, Any]]) -> list[int]:
    return [item["video_id"] for item in items]


def _new_upload() -> Video:
    """A comedy on channel 2 published now, after the models were trained."""
    return Video(
        id=NEW_UPLOAD,
        channel_id=2,
        title="Fresh comedy",
        genres=["comedy"],
        status=VideoStatus.READY,
        visibility=Visibility.PUBLIC,
        published_at=datetime.now(UTC),
    )


def _complete(url: str, user: int, video: int) -> None:
    with session_scope(url) as session:
        session.add(
            InteractionEvent(
                event_id=f"done-{user}-{video}",
                user_id=user,
                video_id=video,
                event_type=EventType.COMPLETE,
                event_timestamp=datetime.now(UTC),
            )
        )


def test_home_feed_has_named_rows_without_repeats(client: TestClient) -> None:
    body = client.get("/users/21/home", params={"k": 3}).json()
    assert re.fullmatch(r"[0-9a-f]{32}", body["recommendation_id"])
    assert body["model"] == "reelrank-recommender@champion"
    assert body["model_version"] == "local"
    assert body["fallback"] is False
    assert body["experiment"] is None and body["variant"] is None
    kinds = [row["kind"] for row in body["rows"]]
    assert kinds[0] == "for_you" and "trending" in kinds
    assert "because_you_watched" in kinds
    because = next(r for r in body["rows"] if r["kind"] == "because_you_watched")
    anchor = because["anchor_video_id"]
    assert because["title"] == f"Because you watched Video {anchor}"
    assert set(_ids(because["items"])) <= set(COMEDY)
    shown = [i for row in body["rows"] for i in _ids(row["items"])]
    assert len(shown) == len(set(shown)), "a video appears in two rows"
    for row in body["rows"]:
        assert [item["position"] for item in row["items"]] == list(range(1, len(row["items"]) + 1))
        for item in row["items"]:
            assert item["reason"] and item["title"] == f"Video {item['video_id']}"


def test_completed_video_leaves_the_feed_and_becomes_its_anchor(
    client: TestClient, url: str
) -> None:
    before = client.get("/users/1/home", params={"k": 4}).json()
    top = before["rows"][0]["items"][0]["video_id"]
    _complete(url, 1, top)
    after = client.get("/users/1/home", params={"k": 4}).json()
    shown = {i for row in after["rows"] for i in _ids(row["items"])}
    assert top not in shown
    because = next(r for r in after["rows"] if r["kind"] == "because_you_watched")
    assert because["anchor_video_id"] == top


def test_followed_channel_row_and_a_new_upload_is_recommendable(
    client: TestClient, url: str
) -> None:
    with session_scope(url) as session:
        session.add(Follow(user_id=21, channel_id=2))
        session.add(_new_upload())
    client.app.state.catalogue.refresh()  # type: ignore[attr-defined]
    home = client.get("/users/21/home", params={"k": 5}).json()
    rows = {r["kind"]: _ids(r["items"]) for r in home["rows"]}
    assert rows.get("new_from_followed", [None])[0] == NEW_UPLOAD, rows
    watch = client.get(f"/videos/{COMEDY[0]}/watch-next", params={"k": 10}).json()
    assert NEW_UPLOAD in _ids(watch["items"]), "the model never saw it: content path"
    sources = [item["source"] for item in watch["items"]]
    neighbours = [i["video_id"] for i in watch["items"] if i["source"] != "trending"]
    assert set(neighbours) <= set(COMEDY) | {NEW_UPLOAD}
    assert len(watch["items"]) == 10, "topped up to k from trending"
    assert "trending" in sources and sources.index("trending") == len(neighbours)


def test_watch_next_of_a_video_the_model_never_saw_is_never_empty(
    client: TestClient, url: str
) -> None:
    """A new upload without genres: its channel's other videos first, then trending."""
    with session_scope(url) as session:
        session.add(
            Video(
                id=NEW_UPLOAD,
                channel_id=1,
                title="Untagged upload",
                status=VideoStatus.READY,
                visibility=Visibility.PUBLIC,
                published_at=datetime.now(UTC),
            )
        )
    client.app.state.catalogue.refresh()  # type: ignore[attr-defined]
    similar = client.get(f"/videos/{NEW_UPLOAD}/similar", params={"k": 5}).json()
    assert similar["items"] == [], "nothing is known to be like it"
    watch = client.get(f"/videos/{NEW_UPLOAD}/watch-next", params={"k": 12}).json()
    items = watch["items"]
    assert len(items) == 12 and NEW_UPLOAD not in _ids(items)
    creator = [i["video_id"] for i in items if i["source"] == "creator"]
    assert creator and set(creator) <= set(DRAMA) - {PRIVATE}
    assert [i["source"] for i in items[: len(creator)]] == ["creator"] * len(creator)
    assert {i["source"] for i in items[len(creator) :]} == {"trending"}
    for_viewer = client.get(
        f"/videos/{NEW_UPLOAD}/watch-next", params={"k": 5, "user_id": 21}
    ).json()
    assert len(for_viewer["items"]) == 5


def test_filter_expression_with_parameters(client: TestClient, url: str) -> None:
    body = client.get(
        "/users/99/recommendations",
        params={
            "k": 5,
            "filter": "genre = $g and duration_s < $max",
            "param": ["g:comedy", "max:614"],
        },
    ).json()
    ids = _ids(body["items"])
    assert ids and all(v in COMEDY and 600 + v < 614 for v in ids)
    listed = client.get(
        "/users/99/recommendations",
        params={"k": 16, "filter": "genre in $g", "param": "g:comedy,drama"},
    ).json()
    assert set(_ids(listed["items"])) <= set(COMEDY + DRAMA)
    _complete(url, 21, COMEDY[0])
    done = client.get(
        "/users/21/recommendations", params={"k": 16, "filter": "not completed"}
    ).json()
    assert COMEDY[0] not in _ids(done["items"])


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"filter": "genre in ("}, ""),
        ({"filter": "colour = 'red'"}, "colour"),
        ({"filter": "genre in $g"}, "g"),
        ({"filter": "x" * 513}, ""),
        ({"param": "no-colon"}, ""),
        ({"promote_share": "0.9", "promote": "genre = 'drama'"}, ""),
        ({"fields": "password"}, ""),
        ({"device": "toaster"}, ""),
        ({"country": "france"}, ""),
        ({"hour": "24"}, ""),
    ],
)
def test_bad_options_are_422_with_a_message(
    client: TestClient, params: dict[str, str], fragment: str
) -> None:
    response = client.get("/users/1/home", params=params)
    assert response.status_code == 422, response.text
    assert fragment in str(response.json()["detail"])


def test_promotions_take_their_share_and_are_labelled(client: TestClient) -> None:
    body = client.get(
        "/users/1/recommendations",
        params={"k": 5, "promote": "genre = 'comedy'", "promote_share": 0.4},
    ).json()
    promoted = [i for i in body["items"] if i["promoted"]]
    assert len(promoted) == 2
    assert all(i["video_id"] in COMEDY for i in promoted)
    assert all(i["reason"].startswith("promoted") for i in promoted)
    assert [i["position"] for i in body["items"]] == [1, 2, 3, 4, 5]


def test_metadata_fields_on_request(client: TestClient) -> None:
    body = client.get(
        "/users/21/recommendations", params={"k": 2, "fields": ["genres", "duration_s"]}
    ).json()
    for item in body["items"]:
        assert item["metadata"] == {"genres": ["comedy"], "duration_s": 600.0 + item["video_id"]}
    plain = client.get("/users/21/recommendations", params={"k": 2}).json()
    assert all(item["metadata"] is None for item in plain["items"])


def test_video_lists_and_unknown_or_private_videos(client: TestClient) -> None:
    similar = client.get(f"/videos/{DRAMA[0]}/similar", params={"k": 4}).json()
    assert DRAMA[0] not in _ids(similar["items"]) and PRIVATE not in _ids(similar["items"])
    creator = client.get(f"/videos/{COMEDY[0]}/more-from-creator", params={"k": 3}).json()
    assert _ids(creator["items"]) == [16, 15, 14], "newest first, same channel"
    assert creator["model"] == "catalogue"
    for path in (f"/videos/{PRIVATE}/watch-next", "/videos/777/similar"):
        response = client.get(path)
        assert response.status_code == 404
        assert "not found" in response.json()["detail"]


def test_rerank_orders_exactly_the_given_ids(client: TestClient, url: str) -> None:
    with session_scope(url) as session:
        session.add(
            Video(
                id=NEW_UPLOAD, title="New", status=VideoStatus.READY, published_at=datetime.now(UTC)
            )
        )
    client.app.state.catalogue.refresh()  # type: ignore[attr-defined]
    given = [1, 9, NEW_UPLOAD, 2, 10, 3]
    body = client.post("/rerank", json={"user_id": 21, "video_ids": given}).json()
    ids = _ids(body["items"])
    assert sorted(ids) == sorted(given)
    assert ids[-1] == NEW_UPLOAD, "ids no model knows come last"
    assert ids.index(9) < ids.index(1) and ids.index(10) < ids.index(2), "a comedy fan"
    for bad in ([], list(range(1, 502)), [1, 555], [1, PRIVATE]):
        response = client.post("/rerank", json={"user_id": 21, "video_ids": bad})
        assert response.status_code == 422, bad
    assert "555" in client.post("/rerank", json={"user_id": 21, "video_ids": [555]}).text


def test_no_model_falls_back_to_trending_with_200(app_settings: Settings, url: str) -> None:
    app = create_app(app_settings)
    empty = RecommenderService(app_settings, name="nothing-registered")
    app.dependency_overrides[get_recommender] = lambda: empty
    with TestClient(app) as client:
        for path in ("/users/1/home", "/users/1/recommendations", f"/videos/{DRAMA[0]}/watch-next"):
            response = client.get(path)
            assert response.status_code == 200, path
            body = response.json()
            assert body["fallback"] is True and body["model"] == "trending-fallback"
        items = client.get("/users/1/recommendations", params={"k": 3}).json()["items"]
        assert len(items) == 3 and all(i["source"] == "trending" for i in items)


def test_a_failing_index_falls_back_to_trending(
    app_settings: Settings, pipeline: RecommendationPipeline
) -> None:
    class Broken(RuntimeError):
        pass

    broken = pipeline.with_settings()

    def fail(*_args: object, **_kwargs: object) -> object:
        raise Broken("the FAISS index file is gone")

    broken.recommend_explained = fail  # type: ignore[method-assign]
    service = RecommenderService(app_settings)
    service.swap(broken)
    app = create_app(app_settings)
    app.dependency_overrides[get_recommender] = lambda: service
    with TestClient(app) as client:
        body = client.get("/users/1/recommendations", params={"k": 3}).json()
    assert body["fallback"] is True
    assert len(body["items"]) == 3


def _experiment(client: TestClient) -> None:
    admin = {"X-Admin-Token": "secret"}
    spec = {
        "name": "blend-vs-popular",
        "variants": [
            {"name": "control", "traffic": 0.5, "model": "champion"},
            {
                "name": "popular",
                "traffic": 0.5,
                "model": "challenger",
                "settings": {"weights": {"itemknn": 0.0, "popularity": 1.0}},
            },
        ],
    }
    assert client.post("/experiments", json=spec, headers=admin).status_code == 201
    started = client.post("/experiments/blend-vs-popular/start", headers=admin)
    assert started.status_code == 200, started.text


def test_experiment_between_two_models_end_to_end(
    app_settings: Settings, pipeline: RecommendationPipeline
) -> None:
    """Users are split between two registered models; every response names its variant and
    logs an exposure; events sent back with the recommendation id reach the results."""
    settings = app_settings.model_copy(update={"admin_token": "secret"})
    service = RecommenderService(settings)
    service.swap(pipeline)
    service.swap(pipeline.with_settings(), ref="challenger")
    app = create_app(settings)
    app.dependency_overrides[get_recommender] = lambda: service
    with TestClient(app) as client:
        _experiment(client)
        variants: dict[int, str] = {}
        clicked: dict[str, int] = {"control": 0, "popular": 0}
        now = datetime.now(UTC).isoformat()
        for user in range(1, 41):
            body = client.get(f"/users/{user}/home", params={"k": 3}).json()
            assert body["experiment"] == "blend-vs-popular"
            variants[user] = body["variant"]
            expected = "champion" if body["variant"] == "control" else "challenger"
            assert body["model"] == f"reelrank-recommender@{expected}"
            again = client.get(f"/users/{user}/recommendations", params={"k": 3}).json()
            assert again["variant"] == body["variant"], "a user keeps their variant"
            first = body["rows"][0]["items"][0]["video_id"]
            events = [
                {
                    "event_id": f"impression-{user:04d}",
                    "type": "impression",
                    "user_id": user,
                    "video_id": first,
                    "timestamp": now,
                    "recommendation_id": body["recommendation_id"],
                }
            ]
            if user % 2:
                clicked[body["variant"]] += 1
                events.append({**events[0], "event_id": f"click-{user:06d}", "type": "click"})
            response = client.post("/events", json={"events": events})
            assert response.status_code == 200, response.text
        assert set(variants.values()) == {"control", "popular"}
        results = client.get("/experiments/blend-vs-popular/results").json()
    by_name = {v["name"]: v for v in results["variants"]}
    for name in ("control", "popular"):
        users = sum(1 for v in variants.values() if v == name)
        assert by_name[name]["users"] == users
        assert by_name[name]["impressions"] == users
        assert by_name[name]["clicks"] == clicked[name]
        assert by_name[name]["exposures"] == 2 * users
    assert by_name["popular"]["metrics"]["ctr"]["diff"] is not None
    assert results["sample_ratio"]["mismatch"] is False


def test_starting_an_experiment_on_a_missing_model_is_422(
    app_settings: Settings, pipeline: RecommendationPipeline
) -> None:
    settings = app_settings.model_copy(update={"admin_token": "secret"})
    service = RecommenderService(settings, name="nothing-registered")
    service.swap(pipeline)
    app = create_app(settings)
    app.dependency_overrides[get_recommender] = lambda: service
    with TestClient(app) as client:
        spec = {
            "name": "ghost",
            "variants": [
                {"name": "a", "traffic": 0.5, "model": "champion"},
                {"name": "b", "traffic": 0.5, "model": "challenger"},
            ],
        }
        client.post("/experiments", json=spec, headers={"X-Admin-Token": "secret"})
        response = client.post("/experiments/ghost/start", headers={"X-Admin-Token": "secret"})
    assert response.status_code == 422
    assert "variant 'b'" in response.json()["detail"]


def test_event_to_effect_and_upload_to_recommendable_without_a_retrain(
    client: TestClient, url: str
) -> None:
    """A completion posted to /events leaves the next feed and anchors it; a video published
    in the catalogue reaches watch-next through the background refresh (no manual reload)."""
    import time

    from core.db.models import Exposure

    before = client.get(
        "/users/21/home", params={"k": 4, "device": "tv", "country": "FR", "hour": 20}
    ).json()
    top = before["rows"][0]["items"][0]["video_id"]
    done = {
        "event_id": "complete-21-top",
        "type": "complete",
        "user_id": 21,
        "video_id": top,
        "timestamp": datetime.now(UTC).isoformat(),
        "recommendation_id": before["recommendation_id"],
    }
    started = time.monotonic()
    assert client.post("/events", json={"events": [done]}).json()["accepted"] == 1
    after = client.get("/users/21/home", params={"k": 4}).json()
    assert time.monotonic() - started < 5
    assert top not in {i for row in after["rows"] for i in _ids(row["items"])}
    assert after["rows"][1]["anchor_video_id"] == top
    client.app.state.exposures.flush()  # type: ignore[attr-defined]
    with session_scope(url) as session:
        exposure = session.get(Exposure, before["recommendation_id"])
        assert exposure is not None and exposure.surface == "home"
        assert exposure.context == {"device": "tv", "country": "FR", "hour": 20}
    with session_scope(url) as session:
        session.add(_new_upload())
    published = time.monotonic()
    while True:
        watch = client.get(f"/videos/{COMEDY[1]}/watch-next", params={"k": 20}).json()
        if NEW_UPLOAD in _ids(watch["items"]):
            break
        assert time.monotonic() - published < 30, "the new upload never became recommendable"
        time.sleep(0.2)
