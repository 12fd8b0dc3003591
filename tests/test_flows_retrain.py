"""The real ``retrain`` flow on a synthetic demo world: a better pipeline is promoted and served
without a restart; a degraded one loses on the same holdout and is kept as challenger with its
reason; an experiment between them can be started."""

from __future__ import annotations

import time
from collections.abc import Iterator

import mlflow
import pytest
from fastapi.testclient import TestClient

from core.db.migrate import upgrade
from core.settings import Settings
from flows.cli import prefect_environment
from flows.retrain import RetrainOptions, retrain
from serving.app import create_app
from tests.conftest import module_settings
from training.datasets.synth import SynthConfig
from training.datasets.synth_writer import synthesize

pytestmark = pytest.mark.slow

#: The weak recipe: popularity alone, no ranker.
DEGRADED = RetrainOptions(models=["popularity"], rankers=False)
#: A real recipe kept quick: popularity and a small ALS, no ranker.
BETTER = RetrainOptions(models=["popularity", "als"], rankers=False, factors=32, iterations=8)
MODEL = "reelrank-recommender"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A synthetic world (400 users, 120 videos) under a private data root, Prefect there too."""
    with module_settings(
        tmp_path_factory, "flows", REELRANK_MODEL_CHECK_INTERVAL_S="0.5"
    ) as settings:
        prefect_environment(settings)
        paths = settings.paths.ensure()
        upgrade(settings.resolved_database_url)
        world = SynthConfig(users=400, videos=120, seed=5)
        synthesize(world, settings.resolved_database_url, paths.events_file)
        yield settings


def _version(client: TestClient, user_id: int) -> str | None:
    body = client.get(f"/users/{user_id}/recommendations", params={"k": 5}).json()
    return body["model_version"]


def test_better_recipe_is_promoted_and_served_then_a_worse_one_is_kept_out(
    world: Settings,
) -> None:
    first = retrain(DEGRADED)
    assert first.promoted and first.alias == "champion" and first.model_version == 1
    assert first.reason == "first model: no champion yet"
    assert first.events > 1000
    assert first.indexes is not None and first.indexes.startswith("no index published")

    with TestClient(create_app(world)) as client:
        assert _version(client, 1) == "1"
        better = retrain(BETTER)
        assert better.promoted, better.reason
        assert (better.model_version, better.alias) == (2, "champion")
        assert better.champion_ndcg_at_10 is not None
        assert better.ndcg_at_10 > better.champion_ndcg_at_10
        assert "beats the champion v1's" in better.reason
        assert better.indexes is not None and "items" in better.indexes
        assert (world.paths.root / "indexes" / "indexes.json").is_file()
        deadline = time.monotonic() + 30
        while _version(client, 1) != "2" and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _version(client, 1) == "2", "serving did not follow the promoted alias"

    worse = retrain(DEGRADED.model_copy(update={"experiment": True}))
    assert not worse.promoted
    assert (worse.model_version, worse.alias) == (3, "challenger")
    assert worse.champion_ndcg_at_10 is not None
    assert worse.ndcg_at_10 < worse.champion_ndcg_at_10
    assert "does not beat the champion v2's" in worse.reason
    client_ = mlflow.MlflowClient(world.resolved_mlflow_uri, world.resolved_mlflow_uri)
    assert str(client_.get_model_version_by_alias(MODEL, "champion").version) == "2"
    version = client_.get_model_version(MODEL, "3")
    assert version.description == worse.reason
    assert worse.experiment == "champion-vs-v3"
    with TestClient(create_app(world)) as client:
        results = client.get("/experiments/champion-vs-v3").json()
        assert results["status"] == "running"
        assert {v["model"] for v in results["variants"]} == {"champion", "3"}
