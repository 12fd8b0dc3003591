"""The walking skeleton end to end: synth -> HLS on Ray -> MLflow training -> Feast -> API."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from flows.demo import DemoConfig, run_demo
from serving.app import create_app
from tests.conftest import module_settings

#: The whole demo world is built once for the module (about a minute): the slow tier.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """One small demo run (not serving) under a private data root, shared by this module."""
    with module_settings(tmp_path_factory, "demo") as settings:
        run_demo(settings, DemoConfig(users=300, videos=80, seed=3, serve=False))
        yield settings
        import ray

        ray.shutdown()


@pytest.fixture(scope="module")
def client(demo_world: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(demo_world)) as test_client:
        yield test_client


def _packaged_video(client: TestClient) -> dict[str, object]:
    hits = client.get("/search", params={"q": "test pattern"}).json()["items"]
    packaged = [hit for hit in hits if hit["title"] == "ReelRank test pattern"]
    assert len(packaged) == 1, hits
    return packaged[0]


def test_health_reports_the_champion_model(client: TestClient) -> None:
    assert client.get("/health").json() == {
        "status": "ok",
        "database": "ok",
        "model": "reelrank-recommender@champion",
    }


def test_catalogue_is_populated(client: TestClient) -> None:
    page = client.get("/videos", params={"limit": 5}).json()
    assert page["total"] >= 80
    assert len(page["items"]) == 5
    video = page["items"][0]
    assert client.get(f"/videos/{video['id']}").json()["title"] == video["title"]


def test_manifest_plays_every_segment_decodes(client: TestClient, tmp_path: Path) -> None:
    video = _packaged_video(client)
    base = f"/videos/{video['id']}"
    master = client.get(f"{base}/manifest.m3u8")
    assert master.status_code == 200
    assert master.text.startswith("#EXTM3U")
    assert "#EXT-X-INDEPENDENT-SEGMENTS" in master.text
    assert "CODECS=" in master.text and "RESOLUTION=" in master.text
    variants = [line for line in master.text.splitlines() if line and not line.startswith("#")]
    assert variants, master.text
    tag_uris = re.findall(r'URI="([^"]+)"', master.text)
    assert any("audio" in uri for uri in tag_uris), master.text
    for uri in variants + tag_uris:
        assert uri.startswith(f"{base}/hls/") and "?token=" in uri, uri
        response = client.get(uri)
        assert response.status_code == 200, uri
        assert response.text.startswith("#EXTM3U"), uri
    playlist = client.get(variants[0]).text
    assert "#EXT-X-ENDLIST" in playlist
    init = next(line for line in playlist.splitlines() if line.startswith("#EXT-X-MAP"))
    init_uri = init.split('URI="', 1)[1].split('"', 1)[0]
    segments = [line for line in playlist.splitlines() if line and not line.startswith("#")]
    body = client.get(init_uri).content
    for segment in segments:
        assert "?token=" in segment, segment
        response = client.get(segment)
        assert response.status_code == 200
        body += response.content
    stream = tmp_path / "stream.mp4"
    stream.write_bytes(body)
    with av.open(str(stream)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == 6 * 25  # the demo clip: 6 s at 25 fps


def test_the_packaged_clip_has_its_poster_storyboard_and_download(
    client: TestClient, demo_world: Settings
) -> None:
    """The web app's card and seek previews need the extras of the demo's first clip too."""
    video = _packaged_video(client)
    poster = client.get(f"/videos/{video['id']}/poster.jpg")
    assert poster.status_code == 200 and poster.content[:3] == b"\xff\xd8\xff"
    package = demo_world.paths.packages / str(video["id"])
    assert (package / "storyboard" / "storyboard.vtt").read_text().startswith("WEBVTT")
    with av.open(str(package / "download.mp4")) as container:
        assert container.streams.video and container.streams.audio


def test_recommendations_for_a_known_user_exclude_what_they_watched(
    client: TestClient, demo_world: Settings
) -> None:
    import pandas as pd

    from core.eventlog import read_events

    events = read_events(demo_world.paths.events_file)
    user = int(events["user_id"].value_counts().index[0])
    watched = set(
        events.loc[
            (events["user_id"] == user)
            & events["event_type"].isin(["play", "complete", "like", "rate"]),
            "video_id",
        ]
    )
    body = client.get(f"/users/{user}/recommendations", params={"k": 10}).json()
    assert body["cold_start"] is False
    ids = [item["video_id"] for item in body["items"]]
    assert len(ids) == 10 and len(set(ids)) == 10
    assert not set(ids) & watched
    assert all(item["reason"] for item in body["items"])
    personal = [i for i in body["items"] if i["source"] not in ("popularity", "trending")]
    assert personal, body["items"]
    for item in body["items"]:
        if item["anchor_video_id"] is not None:
            assert item["anchor_video_id"] in watched
            assert item["reason"].startswith("because you watched ")
    assert pd.Series([i["score"] for i in body["items"]]).is_monotonic_decreasing


def test_unknown_user_gets_popular_videos(client: TestClient) -> None:
    body = client.get("/users/987654321/recommendations", params={"k": 5}).json()
    assert body["cold_start"] is True
    assert len(body["items"]) == 5
    assert {item["source"] for item in body["items"]} <= {"popularity", "trending"}
    assert {item["reason"] for item in body["items"]} == {"trending now"}


def test_new_user_with_chosen_genres_gets_those_first(client: TestClient) -> None:
    catalogue = client.get("/videos", params={"limit": 100}).json()["items"]
    # the demo's packaged and uploaded test patterns have no plays, so trending cannot know them
    watched = [v for v in catalogue if "test pattern" not in v["title"]]
    genre = next(v["genres"][0] for v in watched if v["genres"])
    of_genre = {v["id"] for v in watched if genre in v["genres"]}
    body = client.get("/users/987654322/recommendations", params={"k": 5, "genre": genre}).json()
    assert body["cold_start"] is True
    ids = [item["video_id"] for item in body["items"]]
    first = min(5, len(of_genre))
    assert set(ids[:first]) <= of_genre, (genre, ids, of_genre)


@pytest.mark.parametrize("k", [0, -1, 101, "ten"])
def test_bad_k_is_a_422(client: TestClient, k: object) -> None:
    response = client.get("/users/1/recommendations", params={"k": k})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "k"]


def test_rerun_reuses_the_world(demo_world: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    run_demo(demo_world, DemoConfig(users=300, videos=80, seed=3, serve=False))
    out = capsys.readouterr().out
    assert "reusing the existing world" in out
    assert "reusing packaged video" in out
    assert "15 endpoints answered 200" in out
    assert "reusing uploaded video" in out
    assert "reusing experiment champion-vs-challenger" in out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_command_answers_over_http(demo_world: Settings) -> None:
    port = _free_port()
    env = {**os.environ, "REELRANK_DATA_ROOT": str(demo_world.data_root)}
    reelrank = Path(sys.executable).parent / "reelrank"
    server = subprocess.Popen(
        [str(reelrank), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read().decode()  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "server did not start within 60 s"
                time.sleep(0.5)
        assert response.json()["model"] == "reelrank-recommender@champion"
        assert httpx.get(f"http://127.0.0.1:{port}/videos").status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_rankers_were_tried_on_feast_features_and_serving_is_ready(
    client: TestClient, demo_world: Settings
) -> None:
    import mlflow

    from models.mlflow_registry import tracking_uri_scope

    ready = client.get("/ready")
    body = ready.json()
    assert ready.status_code == 200, body
    assert body["features"] == "ok"
    with tracking_uri_scope(demo_world.resolved_mlflow_uri):
        runs = mlflow.search_runs(
            search_all_experiments=True,
            filter_string="tags.mlflow.runName = 'ensemble_ranker'",
        )
    assert len(runs) >= 1
    latest = runs.iloc[0]
    for kind in ("neural", "lambdarank"):
        assert 0 < latest[f"metrics.validation_ranker_{kind}_ndcg_at_10"] <= 1
    pipeline = client.app.state.recommender.pipeline  # type: ignore[attr-defined]
    if pipeline.config.use_ranker:  # the gate kept a ranker: it reads the online store
        from features.online import OnlineFeatures

        assert body["ranking"] == "ranker"
        assert isinstance(pipeline.pair_features, OnlineFeatures)
        assert pipeline.pair_features.repo_dir == demo_world.paths.features
    else:  # no ranker beat the blend on validation: the blend is served, as trained
        assert body["ranking"] == "blend"


def test_an_experiment_runs_between_two_model_versions(client: TestClient) -> None:
    from flows.demo import DEMO_EXPERIMENT

    experiment = client.get(f"/experiments/{DEMO_EXPERIMENT}").json()
    assert experiment["status"] == "running"
    models = [v["model"] for v in experiment["variants"]]
    assert models[0] == "champion" and models[1].isdigit()
    seen: dict[str, set[str]] = {}
    for user in range(1, 60):
        body = client.get(f"/users/{user}/home", params={"k": 5}).json()
        assert body["fallback"] is False and body["experiment"] == DEMO_EXPERIMENT
        seen.setdefault(body["variant"], set()).add(body["model_version"])
    assert set(seen) == {"champion", "challenger"}
    assert len(seen["champion"]) == 1 and len(seen["challenger"]) == 1
    assert seen["champion"] != seen["challenger"], "two different model versions serve"
    results = client.get(f"/experiments/{DEMO_EXPERIMENT}/results").json()
    assert {v["name"] for v in results["variants"]} == {"champion", "challenger"}


def test_the_creators_upload_streams_only_to_entitled_viewers(
    demo_world: Settings, client: TestClient
) -> None:
    import json

    from flows.demo_accounts import ACCOUNTS_FILE

    passwords = json.loads((demo_world.paths.root / ACCOUNTS_FILE).read_text())

    def bearer(name: str) -> dict[str, str]:
        token = client.post(
            "/auth/token", data={"username": name, "password": passwords[name]}
        ).json()["access_token"]
        return {"Authorization": f"Bearer {token}"}

    mine = client.get("/me/videos", headers=bearer("demo-creator")).json()["items"]
    uploaded = [v for v in mine if v["title"] == "Uploaded test pattern"]
    assert len(uploaded) == 1 and uploaded[0]["status"] == "ready" and uploaded[0]["premium"]
    video_id = uploaded[0]["id"]
    assert client.get(f"/videos/{video_id}/manifest.m3u8").status_code in (401, 403)
    started = client.post(
        f"/videos/{video_id}/playback", json={"device_id": "test"}, headers=bearer("demo-viewer")
    )
    assert started.status_code == 201, started.text
    master = client.get(started.json()["manifest_url"])
    assert master.status_code == 200 and master.text.startswith("#EXTM3U")


def test_flows_run_retrain_on_the_demo_world_promotes_or_keeps_the_champion_with_a_reason(
    demo_world: Settings, client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    from flows.cli import main

    before = client.get("/users/1/recommendations", params={"k": 5}).json()["model_version"]
    options = '{"options": {"rankers": false, "factors": 32, "iterations": 8}}'
    assert main(["flows", "run", "retrain", "--params", options]) == 0
    out = capsys.readouterr().out.strip().splitlines()[-1]
    verdict = re.search(r"v(\d+) registered as @(champion|challenger): (promoted|kept)", out)
    assert verdict is not None, out
    version, alias, what = verdict.groups()
    assert int(version) > int(before)
    assert (alias == "champion") == (what == "promoted")
    assert (
        ("beats the champion" in out)
        if alias == "champion"
        else ("does not" in out or "loses" in out)
    )
    expected = version if alias == "champion" else before
    deadline = time.monotonic() + 30
    served = before
    while time.monotonic() < deadline:
        served = client.get("/users/1/recommendations", params={"k": 5}).json()["model_version"]
        if served == expected:
            break
        time.sleep(0.5)
    assert served == expected
