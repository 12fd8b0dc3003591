"""Experiment routes through the real app on SQLite and PostgreSQL: admin auth, lifecycle,
validation, one running experiment at a time, the assignment cache and results."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from core import columns as c
from core.db.models import InteractionEvent, utcnow
from core.db.session import session_scope
from core.settings import Settings
from core.types import EventType
from models.interactions import Interactions
from models.pipeline import PipelineConfig, RecommendationPipeline
from serving.app import create_app
from serving.deps import get_recommender
from serving.experiments import ExperimentRegistry
from serving.recommender import RecommenderService

TOKEN = "s3cret-token"
ADMIN = {"X-Admin-Token": TOKEN}


def _spec(name: str = "ranker-test", **overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": name,
        "description": "champion against challenger",
        "variants": [
            {"name": "control", "traffic": 0.5, "model": "champion"},
            {
                "name": "treatment",
                "traffic": 0.5,
                "model": "challenger",
                "settings": {"weights": {"als": 0.7, "popularity": 0.3}, "use_ranker": False},
            },
        ],
    }
    spec.update(overrides)
    return spec


def _settings(data_root: Path, database_url: str, token: str | None = TOKEN) -> Settings:
    return Settings(data_root=data_root, database_url=database_url, admin_token=token)


@pytest.fixture(scope="module")
def pipeline() -> RecommendationPipeline:
    """ALS and popularity (the sources the variants' weights name), fitted on a tiny log."""
    rows = [(u, v) for u in range(1, 30) for v in range(1 + u % 5, 12, 2)]
    events = pd.DataFrame(rows, columns=[c.USER_ID, c.VIDEO_ID])
    events[c.EVENT_TYPE] = "play"
    events[c.EVENT_TIMESTAMP] = pd.Timestamp("2024-01-01", tz="UTC")
    return RecommendationPipeline.fit(
        Interactions.from_events(events), config=PipelineConfig(sources=("als", "popularity"))
    )


@pytest.fixture
def client(
    data_root: Path, database_url: str, pipeline: RecommendationPipeline
) -> Iterator[TestClient]:
    """The app (no lifespan) with an admin token, serving a pipeline as champion and as
    challenger (starting an experiment checks that its variants' models load)."""
    settings = _settings(data_root, database_url)
    app = create_app(settings)
    models = RecommenderService(settings)
    models.swap(pipeline)
    models.swap(pipeline, ref="challenger")
    app.dependency_overrides[get_recommender] = lambda: models
    try:
        yield TestClient(app)
    finally:
        app.state.exposures.close()


def _registry(client: TestClient) -> ExperimentRegistry:
    registry: ExperimentRegistry = client.app.state.experiments  # type: ignore[attr-defined]
    return registry


# -- admin auth -------------------------------------------------------------------------------


def test_admin_routes_are_disabled_without_a_configured_token(
    data_root: Path, database_url: str
) -> None:
    client = TestClient(create_app(_settings(data_root, database_url, token=None)))
    for path in ("/experiments", "/experiments/x/start", "/experiments/x/stop"):
        response = client.post(path, json=_spec(), headers=ADMIN)
        assert response.status_code == 403
        assert response.json()["detail"] == (
            "the X-Admin-Token is disabled: set REELRANK_ADMIN_TOKEN, or sign in as an admin"
        )
    assert client.get("/experiments").status_code == 200


def test_admin_routes_need_the_right_token(client: TestClient) -> None:
    missing = client.post("/experiments", json=_spec())
    assert missing.status_code == 401
    assert "X-Admin-Token" in missing.json()["detail"]
    wrong = client.post("/experiments", json=_spec(), headers={"X-Admin-Token": "nope"})
    assert wrong.status_code == 403
    assert wrong.json()["detail"] == "wrong X-Admin-Token"
    assert client.get("/experiments").json() == []


# -- lifecycle --------------------------------------------------------------------------------


def test_create_start_stop(client: TestClient) -> None:
    created = client.post("/experiments", json=_spec(), headers=ADMIN)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "draft"
    assert body["salt"] == "ranker-test"
    assert [v["name"] for v in body["variants"]] == ["control", "treatment"]
    assert [v["control"] for v in body["variants"]] == [True, False]
    assert body["variants"][0]["settings"] == {}
    assert body["variants"][1]["settings"] == {
        "weights": {"als": 0.7, "popularity": 0.3},
        "use_ranker": False,
    }
    assert client.get("/experiments/ranker-test").json() == body
    assert [e["name"] for e in client.get("/experiments").json()] == ["ranker-test"]
    assert _registry(client).assignment(1) is None

    started = client.post("/experiments/ranker-test/start", headers=ADMIN)
    assert started.status_code == 200
    assert started.json()["status"] == "running"
    assert started.json()["started_at"] is not None
    assignment = _registry(client).assignment(1)
    assert assignment is not None
    assert assignment.experiment == "ranker-test"
    assert assignment.variant in {"control", "treatment"}
    treatment = next(
        a
        for user in range(100)
        if (a := _registry(client).assignment(user)) and a.variant == "treatment"
    )
    assert treatment.model == "challenger"
    assert treatment.settings == {"weights": {"als": 0.7, "popularity": 0.3}, "use_ranker": False}
    # starting again changes nothing
    assert client.post("/experiments/ranker-test/start", headers=ADMIN).json() == started.json()

    stopped = client.post("/experiments/ranker-test/stop", headers=ADMIN)
    assert stopped.status_code == 200
    assert stopped.json()["status"] == "stopped"
    assert _registry(client).assignment(1) is None
    assert client.post("/experiments/ranker-test/stop", headers=ADMIN).status_code == 200

    restart = client.post("/experiments/ranker-test/start", headers=ADMIN)
    assert restart.status_code == 409
    assert "cannot restart" in restart.json()["detail"]


def test_same_user_same_variant(client: TestClient) -> None:
    client.post("/experiments", json=_spec(), headers=ADMIN)
    client.post("/experiments/ranker-test/start", headers=ADMIN)
    first = [_registry(client).assignment(user) for user in range(200)]
    other_worker = ExperimentRegistry(_registry(client).database_url)
    assert [other_worker.assignment(user) for user in range(200)] == first
    shares = sum(a is not None and a.variant == "control" for a in first) / 200
    assert 0.35 < shares < 0.65


def test_a_second_running_experiment_is_refused(client: TestClient) -> None:
    client.post("/experiments", json=_spec("first"), headers=ADMIN)
    client.post("/experiments", json=_spec("second"), headers=ADMIN)
    assert client.post("/experiments/first/start", headers=ADMIN).status_code == 200
    refused = client.post("/experiments/second/start", headers=ADMIN)
    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        "experiment 'first' is running; stop it before starting 'second'"
    )
    client.post("/experiments/first/stop", headers=ADMIN)
    assert client.post("/experiments/second/start", headers=ADMIN).status_code == 200


def test_a_draft_cannot_be_stopped(client: TestClient) -> None:
    client.post("/experiments", json=_spec(), headers=ADMIN)
    response = client.post("/experiments/ranker-test/stop", headers=ADMIN)
    assert response.status_code == 409
    assert response.json()["detail"] == "experiment 'ranker-test' has not started"


def test_a_taken_name_is_refused(client: TestClient) -> None:
    assert client.post("/experiments", json=_spec(), headers=ADMIN).status_code == 201
    again = client.post("/experiments", json=_spec(), headers=ADMIN)
    assert again.status_code == 409
    assert again.json()["detail"] == "experiment 'ranker-test' already exists"


@pytest.mark.parametrize(
    "request_",
    [
        ("get", "/experiments/nope"),
        ("post", "/experiments/nope/start"),
        ("post", "/experiments/nope/stop"),
        ("get", "/experiments/nope/results"),
    ],
)
def test_unknown_experiment_is_404(client: TestClient, request_: tuple[str, str]) -> None:
    method, path = request_
    response = client.request(method, path, headers=ADMIN)
    assert response.status_code == 404
    assert response.json()["detail"] == "no experiment named 'nope'"


def test_a_malformed_name_in_the_path_is_422(client: TestClient) -> None:
    assert client.get("/experiments/Not%20A%20Name").status_code == 422


# -- validation -------------------------------------------------------------------------------


def _variants(*shares: float, **extra: Any) -> list[dict[str, Any]]:
    return [{"name": f"v{i}", "traffic": share, **extra} for i, share in enumerate(shares)]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": "Bad Name"}, "should match pattern"),
        ({"name": "x" * 65}, "should match pattern"),
        ({"variants": _variants(1.0)}, "at least 2"),
        ({"variants": _variants(*[0.1] * 11)}, "at most 10"),
        ({"variants": _variants(0.5, 0.4)}, "traffic shares must sum to 1, they sum to 0.9"),
        ({"variants": _variants(1.0, 0.0)}, "greater than 0"),
        ({"variants": _variants(0.5, -0.5, 1.0)}, "greater than 0"),
        (
            {"variants": [{"name": "a", "traffic": 0.5}, {"name": "a", "traffic": 0.5}]},
            "variant names must be unique; repeated: ['a']",
        ),
        (
            {"variants": _variants(0.5, 0.5, control=True)},
            "exactly one control variant; marked: ['v0', 'v1']",
        ),
        ({"variants": _variants(0.5, 0.5, model="Champion!")}, "should match pattern"),
        ({"variants": _variants(0.5, 0.5, settings={"depth": 3})}, "Extra inputs"),
        (
            {"variants": _variants(0.5, 0.5, settings={"weights": {"als": -1}})},
            "greater than or equal to 0",
        ),
        (
            {"variants": _variants(0.5, 0.5, settings={"weights": {"magic": 1}})},
            "unknown sources ['magic']",
        ),
        ({"variants": _variants(0.5, 0.5, settings={"use_ranker": [1]})}, "valid boolean"),
        ({"salt": "has space"}, "should match pattern"),
        ({"surprise": 1}, "Extra inputs"),
    ],
)
def test_invalid_specs_are_422_with_a_message(
    client: TestClient, overrides: dict[str, Any], message: str
) -> None:
    response = client.post("/experiments", json=_spec(**overrides), headers=ADMIN)
    assert response.status_code == 422, response.text
    assert message in str(response.json()["detail"])
    assert client.get("/experiments").json() == []


def test_control_can_be_any_variant_and_versions_are_models(client: TestClient) -> None:
    variants = [
        {"name": "new", "traffic": 0.25, "model": "7"},
        {"name": "old", "traffic": 0.75, "model": "3", "control": True},
    ]
    body = client.post("/experiments", json=_spec(variants=variants), headers=ADMIN).json()
    assert [(v["name"], v["model"], v["control"]) for v in body["variants"]] == [
        ("new", "7", False),
        ("old", "3", True),
    ]


# -- assignment cache -------------------------------------------------------------------------


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_cache_picks_up_another_workers_start_and_stop_within_its_window(
    client: TestClient,
) -> None:
    url = _registry(client).database_url
    clock = FakeClock()
    worker = ExperimentRegistry(url, refresh_s=2.0, clock=clock)
    assert worker.assignment(1) is None  # cached: nothing runs

    client.post("/experiments", json=_spec(), headers=ADMIN)
    client.post("/experiments/ranker-test/start", headers=ADMIN)  # another process's registry
    clock.now += 1.9
    assert worker.assignment(1) is None  # within the window: still the cached copy
    clock.now += 0.1
    started = worker.assignment(1)
    assert started is not None and started.experiment == "ranker-test"

    client.post("/experiments/ranker-test/stop", headers=ADMIN)
    clock.now += 1.0
    assert worker.assignment(1) == started
    clock.now += 1.0
    assert worker.assignment(1) is None


def test_the_cache_does_not_query_per_request(client: TestClient) -> None:
    from sqlalchemy import event

    from core.db.session import get_engine

    client.post("/experiments", json=_spec(), headers=ADMIN)
    client.post("/experiments/ranker-test/start", headers=ADMIN)
    registry = _registry(client)
    registry.assignment(0)  # warm
    statements: list[str] = []
    engine = get_engine(registry.database_url)

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        for user in range(1000):
            registry.assignment(user)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert statements == []


def test_a_database_outage_keeps_the_cached_experiment(client: TestClient, data_root: Path) -> None:
    client.post("/experiments", json=_spec(), headers=ADMIN)
    client.post("/experiments/ranker-test/start", headers=ADMIN)
    clock = FakeClock()
    worker = ExperimentRegistry(_registry(client).database_url, clock=clock)
    before = worker.assignment(5)
    worker.database_url = f"sqlite:///{data_root / 'unmigrated.db'}"  # reads now fail
    clock.now += 10
    assert worker.assignment(5) == before


# -- results ----------------------------------------------------------------------------------


def _event(
    user: int, kind: EventType, recommendation_id: str | None, watch_seconds: float | None = None
) -> InteractionEvent:
    return InteractionEvent(
        event_id=uuid.uuid4().hex,
        user_id=user,
        video_id=1,
        event_type=kind,
        watch_seconds=watch_seconds,
        event_timestamp=utcnow(),
        recommendation_id=recommendation_id,
    )


def _users_of(registry: ExperimentRegistry, variant: str, n: int) -> list[int]:
    users = []
    for user in range(1, 1000):
        assignment = registry.assignment(user)
        if assignment is not None and assignment.variant == variant:
            users.append(user)
        if len(users) == n:
            return users
    raise AssertionError(f"fewer than {n} users in {variant}")


def test_results_from_exposures_and_attributed_events(client: TestClient) -> None:
    """Control: three users with (impressions, clicks) (4, 1), (4, 3), (2, 0) -> CTR 0.4 and
    variance 0.0444 (see the statistics tests); treatment: (5, 2), (5, 3) -> CTR 0.5, variance
    0.5 / (2 * 25) = 0.01. Events without a recommendation id or of another experiment's
    exposure are not attributed."""
    client.post("/experiments", json=_spec(), headers=ADMIN)
    client.post("/experiments/ranker-test/start", headers=ADMIN)
    registry = _registry(client)
    exposures = client.app.state.exposures  # type: ignore[attr-defined]
    control, treatment = _users_of(registry, "control", 3), _users_of(registry, "treatment", 2)

    def serve(user: int, experiment: str = "ranker-test") -> str:
        assignment = registry.assignment(user)
        assert assignment is not None
        rid = uuid.uuid4().hex
        exposures.log(
            recommendation_id=rid,
            user_id=user,
            experiment=experiment,
            variant=assignment.variant,
            surface="home",
            model=assignment.model,
            items=[1, 2, 3, 4, 5],
        )
        return rid

    events: list[InteractionEvent] = []
    plan = {
        control[0]: (4, 1, 1),
        control[1]: (4, 3, 2),
        control[2]: (2, 0, 0),
        treatment[0]: (5, 2, 2),
        treatment[1]: (5, 3, 1),
    }
    for user, (impressions, clicks, plays) in plan.items():
        rid = serve(user)
        events += [_event(user, EventType.IMPRESSION, rid) for _ in range(impressions)]
        events += [_event(user, EventType.CLICK, rid) for _ in range(clicks)]
        events += [_event(user, EventType.PLAY, rid) for _ in range(plays)]
    serve(control[1])  # a second list, nothing done with it
    rid = serve(control[0])
    events += [
        # one playback session reporting its cumulative watch time: 3 minutes in all
        _event(control[0], EventType.PROGRESS, rid, 120.0),
        _event(control[0], EventType.COMPLETE, rid, 180.0),
        _event(control[0], EventType.PAUSE, rid, 999.0),  # not watch time
        _event(control[0], EventType.CLICK, None),  # not attributed
    ]
    other = serve(treatment[0], experiment="another")
    events += [_event(treatment[0], EventType.CLICK, other) for _ in range(5)]
    database_url = registry.database_url
    with session_scope(database_url) as session:
        session.add_all(events)

    response = client.get("/experiments/ranker-test/results")  # flushes the exposures
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["control"] == "control"
    by_name = {v["name"]: v for v in body["variants"]}
    c, t = by_name["control"], by_name["treatment"]
    assert (c["users"], c["exposures"], c["impressions"], c["clicks"], c["plays"]) == (
        3,
        5,
        10,
        4,
        3,
    )
    assert (t["users"], t["exposures"], t["impressions"], t["clicks"], t["plays"]) == (
        2,
        2,
        10,
        5,
        3,
    )
    assert c["watch_minutes"] == pytest.approx(3.0)
    z = 1.959963984540054
    ctr = c["metrics"]["ctr"]
    assert ctr["value"] == pytest.approx(0.4)
    assert ctr["ci_low"] == pytest.approx(0.4 - z * math.sqrt(0.0444))
    assert ctr["ci_high"] == pytest.approx(0.4 + z * math.sqrt(0.0444))
    assert ctr["diff"] is None
    t_ctr = t["metrics"]["ctr"]
    assert t_ctr["value"] == pytest.approx(0.5)
    assert t_ctr["diff"] == pytest.approx(0.1)
    assert t_ctr["diff_ci_high"] == pytest.approx(0.1 + z * math.sqrt(0.0544))
    assert t_ctr["lift"] == pytest.approx(0.25)
    assert c["metrics"]["plays_per_impression"]["value"] == pytest.approx(0.3)
    assert c["metrics"]["watch_minutes_per_user"]["value"] == pytest.approx(1.0)
    assert t["metrics"]["watch_minutes_per_user"]["value"] == pytest.approx(0.0)
    assert c["metrics"]["impressions_per_user"]["value"] == pytest.approx(10 / 3)
    srm = body["sample_ratio"]
    assert srm["observed"] == {"control": 3, "treatment": 2}
    assert not srm["mismatch"]


def test_results_flag_a_broken_split(client: TestClient) -> None:
    client.post("/experiments", json=_spec(), headers=ADMIN)
    exposures = client.app.state.exposures  # type: ignore[attr-defined]
    for user in range(1000):
        exposures.log(
            recommendation_id=uuid.uuid4().hex,
            user_id=user,
            experiment="ranker-test",
            variant="control" if user < 600 else "treatment",
            surface="home",
            model="champion",
            items=[1],
        )
    body = client.get("/experiments/ranker-test/results").json()
    assert body["sample_ratio"]["observed"] == {"control": 600, "treatment": 400}
    assert body["sample_ratio"]["chi2"] == pytest.approx(40.0)
    assert body["sample_ratio"]["mismatch"]
    # no events: counts are zero and ratio metrics undefined, never an error
    control = body["variants"][0]
    assert control["impressions"] == 0 and control["metrics"]["ctr"]["value"] is None


def test_shutdown_flushes_buffered_exposures(data_root: Path, sqlite_url: str) -> None:
    """The app's shutdown closes the exposure log (SQLite only: the log's own tests cover
    both engines, and the lifespan's model loading takes seconds)."""
    database_url = sqlite_url
    app = create_app(_settings(data_root, database_url))
    with TestClient(app):
        app.state.exposures.interval_s = 60
        app.state.exposures.log(
            recommendation_id="a" * 32,
            user_id=1,
            experiment=None,
            variant=None,
            surface="home",
            model="champion",
            items=[1, 2],
        )
    from core.db.models import Exposure
    from core.db.session import session_factory

    with session_factory(database_url)() as session:
        assert session.get(Exposure, "a" * 32) is not None
