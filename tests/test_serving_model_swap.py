"""Hot model swaps: the watcher thread, and a real server following the champion alias to a
new version under concurrent load without one failed request."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import mlflow
import numpy as np
import pandas as pd
import pytest

from core import columns as c
from core.db.models import Video
from core.db.session import session_scope
from core.types import VideoStatus, Visibility
from models.interactions import Interactions
from models.mlflow_registry import log_pipeline, register_pipeline, tracking_uri_scope
from models.pipeline import PipelineConfig, RecommendationPipeline
from serving.model_watcher import ModelWatcher
from tests.live_server import live_server

#: Version 1 is trained on videos 1-12, version 2 on videos 13-24: the items tell them apart.
V1_VIDEOS = list(range(1, 13))
V2_VIDEOS = list(range(13, 25))
START = pd.Timestamp("2024-01-01", tz="UTC")


class CountingRecommender:
    """A ``Refreshable`` that counts calls and fails every other one."""

    def __init__(self) -> None:
        self.calls = 0

    def refresh(self) -> list[str]:
        self.calls += 1
        if self.calls % 2:
            raise RuntimeError("registry down")
        return ["champion"]


def test_the_watcher_refreshes_every_interval_survives_errors_and_stops() -> None:
    recommender = CountingRecommender()
    watcher = ModelWatcher(recommender, interval_s=0.02)
    watcher.start()
    time.sleep(0.3)
    assert watcher.running
    watcher.stop()
    assert not watcher.running
    calls = recommender.calls
    assert calls >= 4  # errors did not end the thread
    time.sleep(0.1)
    assert recommender.calls == calls
    with pytest.raises(ValueError, match="must be positive"):
        ModelWatcher(recommender, interval_s=0)


def _pipeline(videos: list[int]) -> RecommendationPipeline:
    """Item-KNN plus popularity fitted on users 1-40 each playing four of ``videos``."""
    rng = np.random.default_rng(len(videos) + videos[0])
    rows = [
        (user, int(video), START + pd.Timedelta(hours=hour))
        for user in range(1, 41)
        for hour, video in enumerate(rng.choice(videos, size=4, replace=False))
    ]
    frame = pd.DataFrame(rows, columns=[c.USER_ID, c.VIDEO_ID, c.EVENT_TIMESTAMP])
    frame[c.EVENT_TYPE] = "play"
    return RecommendationPipeline.fit(
        Interactions.from_events(frame), config=PipelineConfig(sources=("itemknn", "popularity"))
    )


def _mlflow_uri(root: Path) -> str:
    return f"sqlite:///{root / 'mlflow' / 'mlflow.db'}"


def _register(pipeline: RecommendationPipeline, root: Path, name: str) -> str:
    """Log ``pipeline`` to the data root's MLflow store and register it as champion; the
    alias it got."""
    uri = _mlflow_uri(root)
    (root / "mlflow").mkdir(parents=True, exist_ok=True)
    with tracking_uri_scope(uri):
        experiment = mlflow.get_experiment_by_name("swap")
        experiment_id = (
            experiment.experiment_id
            if experiment is not None
            else mlflow.create_experiment(
                "swap", artifact_location=(root / "mlflow" / "artifacts").resolve().as_uri()
            )
        )
        with mlflow.start_run(experiment_id=experiment_id):
            model_uri = log_pipeline(pipeline.save(root / "pipelines" / name))
    return register_pipeline(model_uri, "champion", uri).alias


@dataclass
class Load:
    """Threads asking for recommendations until stopped; what each answer came from."""

    url: str
    failures: list[str] = field(default_factory=list)
    versions: list[list[int]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self, threads: int) -> list[threading.Thread]:
        workers = [threading.Thread(target=self._ask, args=(n,)) for n in range(threads)]
        for worker in workers:
            worker.start()
        return workers

    def seen(self, version: int) -> bool:
        return any(version in answers for answers in list(self.versions))

    def _ask(self, n: int) -> None:
        answers: list[int] = []
        self.versions.append(answers)
        with httpx.Client(base_url=self.url, timeout=10.0) as client:
            user = n
            while not self.stop.is_set():
                user = user % 40 + 1
                try:
                    response = client.get(f"/users/{user}/recommendations", params={"k": 3})
                except httpx.HTTPError as exc:
                    self.failures.append(f"{type(exc).__name__}: {exc}")
                    continue
                if response.status_code != 200:
                    self.failures.append(f"{response.status_code}: {response.text[:200]}")
                    continue
                ids = {item["video_id"] for item in response.json()["items"]}
                if ids and ids <= set(V1_VIDEOS):
                    answers.append(1)
                elif ids and ids <= set(V2_VIDEOS):
                    answers.append(2)
                else:
                    self.failures.append(f"items of neither version: {sorted(ids)}")


def test_a_moved_champion_is_served_without_a_failed_request(
    data_root: Path, sqlite_url: str
) -> None:
    with session_scope(sqlite_url) as session:
        for video_id in V1_VIDEOS + V2_VIDEOS:
            session.add(
                Video(
                    id=video_id,
                    title=f"Video {video_id}",
                    status=VideoStatus.READY,
                    visibility=Visibility.PUBLIC,
                )
            )
    assert _register(_pipeline(V1_VIDEOS), data_root, "v1") == "champion"
    env = {
        "REELRANK_MODEL_CHECK_INTERVAL_S": "0.2",
        "REELRANK_RATE_LIMIT_PER_MINUTE": "0",
        "REELRANK_LOG_LEVEL": "WARNING",
        "REELRANK_MLFLOW_TRACKING_URI": _mlflow_uri(data_root),
    }
    with live_server(data_root, env=env) as url:
        load = Load(url)
        threads = load.run(4)
        try:
            time.sleep(1.0)
            assert load.seen(1) and not load.seen(2)
            assert _register(_pipeline(V2_VIDEOS), data_root, "v2") == "champion"
            deadline = time.monotonic() + 60
            while not load.seen(2) and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1.0)
        finally:
            load.stop.set()
            for thread in threads:
                thread.join(30)
    assert load.failures == []
    assert load.seen(2), "the server never served version 2"
    for answers in load.versions:  # once a thread saw version 2, it never saw version 1 again
        assert answers == sorted(answers)
    served = sum(len(answers) for answers in load.versions)
    print(f"{served} answers, {sum(a.count(2) for a in load.versions)} from version 2")
