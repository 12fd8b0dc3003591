"""Shared fixtures: data root, SQLite and PostgreSQL catalogues, Redis, planted tastes, one Ray."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd
import pytest

from core import columns as c
from core.settings import Settings, get_settings

if TYPE_CHECKING:
    from models.base import Recommender
    from models.interactions import Interactions

ROOT = Path(__file__).resolve().parent.parent
MOVIELENS_SMALL = ROOT.parent / "shared" / "datasets" / "ml-latest-small"
#: Loopback servers tried by default; set the variable to "" to run without them.
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
# Prefect's own logs (it logs "stopping the temporary server" at exit, after pytest has closed
# the captured streams) are warnings-only in tests; set before any test module imports Prefect.
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def service_unavailable(what: str, reason: str) -> None:
    """Skip when an optional service is missing; fail when CI requires it."""
    message = f"{what} not reachable ({reason})"
    if os.environ.get("REELRANK_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message}; REELRANK_REQUIRE_SERVICES=1 makes this a failure")
    pytest.skip(message)


@pytest.fixture(autouse=True)
def lexical_search_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Apps under test search lexically unless a test turns semantic search on: each app
    would otherwise load the MiniLM model and encode its catalogue in the background."""
    monkeypatch.setenv("REELRANK_SEARCH_SEMANTIC", "false")


@contextmanager
def module_settings(factory: pytest.TempPathFactory, name: str, **env: str) -> Iterator[Settings]:
    """Settings of a private data root (plus the ``env`` variables) for a module-scoped world;
    the environment is restored afterwards."""
    patch = pytest.MonkeyPatch()
    patch.setenv("REELRANK_DATA_ROOT", str(factory.mktemp(name) / "var"))
    patch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for key, value in env.items():
        patch.setenv(key, value)
    get_settings.cache_clear()
    try:
        yield get_settings()
    finally:
        patch.undo()
        get_settings.cache_clear()


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh data root, wired into ``get_settings()`` for the test."""
    root = tmp_path / "var"
    monkeypatch.setenv("REELRANK_DATA_ROOT", str(root))
    monkeypatch.delenv("REELRANK_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield root
    get_settings.cache_clear()


@pytest.fixture
def settings(data_root: Path) -> Settings:
    """Settings of the private data root."""
    return get_settings()


@pytest.fixture
def sqlite_url(data_root: Path) -> str:
    """A migrated SQLite catalogue under the private data root."""
    from core.db.migrate import upgrade

    url = f"sqlite:///{data_root / 'reelrank.db'}"
    upgrade(url)
    return url


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A migrated catalogue in a fresh schema of the real PostgreSQL server, dropped on
    exit; its URL."""
    base = os.environ.get("REELRANK_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    if not base:
        service_unavailable("PostgreSQL", "REELRANK_TEST_POSTGRES_URL is not set")
    from sqlalchemy import create_engine, text

    admin_url = "postgresql+psycopg://" + base.split("://", 1)[1]
    admin = create_engine(admin_url)
    schema = f"rr_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as exc:
        admin.dispose()
        service_unavailable("PostgreSQL", str(exc).splitlines()[0])
    sep = "&" if "?" in admin_url else "?"
    url = f"{admin_url}{sep}options=-csearch_path%3D{schema}"
    from core.db.migrate import upgrade
    from core.db.session import get_engine

    upgrade(url)
    try:
        yield url
    finally:
        get_engine(url).dispose()
        get_engine.cache_clear()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A migrated catalogue in a fresh schema of the real PostgreSQL server, dropped afterwards."""
    with postgres_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """A migrated catalogue on each engine: SQLite and the real PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return request.getfixturevalue(name)


@pytest.fixture
def redis_url() -> str:
    """The real Redis server's URL (a test database index), flushed before use."""
    url = os.environ.get("REELRANK_TEST_REDIS_URL", DEFAULT_REDIS_URL)
    if not url:
        service_unavailable("Redis", "REELRANK_TEST_REDIS_URL is not set")
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    except Exception as exc:
        service_unavailable("Redis", str(exc).splitlines()[0])
    finally:
        client.close()
    return url


# -- planted tastes: the one synthetic data set of the model and training tests ---------------

#: First timestamp of the planted data sets.
PLANTED_START = pd.Timestamp("2024-01-01", tz="UTC")


def _cluster_of(users: np.ndarray, n_clusters: int, majority_cluster: bool) -> np.ndarray:
    if majority_cluster:  # odd users in cluster 0, even users spread over the others
        return np.where(users % 2 == 1, 0, 1 + (users // 2) % (n_clusters - 1))
    return users % n_clusters


@dataclass(frozen=True)
class PlantedTastes:
    """An event log where each user mostly plays items of one taste cluster, and its truth.

    Cluster ``c`` holds item ids ``first_item + c * items_per_cluster + (0 .. items_per_cluster
    - 1)``; users are ``1 .. n_users + n_cold``.
    """

    events: pd.DataFrame
    n_users: int
    n_clusters: int
    items_per_cluster: int
    first_item: int
    majority_cluster: bool

    @property
    def item_ids(self) -> np.ndarray:
        """Every planted item id, cluster by cluster."""
        return self.first_item + np.arange(self.n_clusters * self.items_per_cluster)

    def cluster_of_user(self, users: np.ndarray) -> np.ndarray:
        """The taste cluster of each user id."""
        return _cluster_of(np.asarray(users), self.n_clusters, self.majority_cluster)

    def cluster_of_item(self, items: np.ndarray) -> np.ndarray:
        """The cluster of each planted item id."""
        return (np.asarray(items) - self.first_item) // self.items_per_cluster

    def interactions(self) -> Interactions:
        """The positive events as an ``Interactions`` matrix."""
        from models.interactions import Interactions

        return Interactions.from_events(self.events)

    def in_cluster_share(self, model: Recommender, k: int = 2) -> float:
        """Share of each (warm) user's top-k unseen items that belong to the user's cluster."""
        users = np.arange(1, self.n_users + 1)
        ids, _ = model.recommend(users, k)
        return float(np.mean(self.cluster_of_item(ids) == self.cluster_of_user(users)[:, None]))


def planted_tastes(
    n_users: int = 300,
    *,
    n_cold: int = 30,
    n_clusters: int = 6,
    items_per_cluster: int = 25,
    plays: int = 16,
    own_share: float = 0.85,
    impressions: int = 5,
    days: float = 100.0,
    first_item: int = 10_000,
    majority_cluster: bool = False,
    seed: int = 0,
) -> PlantedTastes:
    """Users who play ``plays`` distinct-draw items each, a share ``own_share`` from their own
    cluster (the rest anywhere), at random times over ``days``, plus ``impressions`` random
    impressions (not positives). The ``n_cold`` last users appear only in the last tenth of the
    period (cold start after a time split). ``majority_cluster`` puts half the users in cluster
    0, so popularity favours its items; otherwise only a personal model can tell users apart.
    """
    rng = np.random.default_rng(seed)
    n_items = n_clusters * items_per_cluster
    rows: list[tuple[int, int, str, float]] = []
    for user in range(1, n_users + n_cold + 1):
        cluster = int(_cluster_of(np.array(user), n_clusters, majority_cluster))
        day_from, day_to = (0.9 * days, days) if user > n_users else (0.0, days)
        own = cluster * items_per_cluster + rng.choice(items_per_cluster, plays, replace=False)
        stray = rng.integers(0, n_items, size=plays)
        items = np.where(rng.random(plays) < own_share, own, stray)
        stamps = np.sort(rng.uniform(day_from, day_to, size=plays))
        rows += [
            (user, first_item + int(i), "play", float(d))
            for i, d in zip(items, stamps, strict=True)
        ]
        for d in rng.uniform(day_from, day_to, size=impressions):
            rows.append((user, first_item + int(rng.integers(0, n_items)), "impression", float(d)))
    frame = pd.DataFrame(rows, columns=[c.USER_ID, c.VIDEO_ID, c.EVENT_TYPE, "day"])
    frame[c.EVENT_TIMESTAMP] = PLANTED_START + pd.to_timedelta(frame.pop("day"), unit="D")
    frame[c.VALUE] = np.nan
    frame[c.WATCH_SECONDS] = np.nan
    return PlantedTastes(
        frame, n_users, n_clusters, items_per_cluster, first_item, majority_cluster
    )


class PlantedFactory(Protocol):
    """The signature of ``planted_tastes``, for annotating the ``planted`` fixture."""

    def __call__(self, n_users: int = ..., **options: float | int | bool) -> PlantedTastes: ...


@pytest.fixture(scope="session")
def planted() -> PlantedFactory:
    """The planted-tastes factory (``planted_tastes``), for tests and module fixtures."""
    return planted_tastes


@pytest.fixture(scope="session")
def model_tastes(planted: PlantedFactory) -> PlantedTastes:
    """The data set the per-family model tests share: 90 users in 3 clusters of 8 items
    (cluster 0 holds half the users, so popularity favours it), 5 own-cluster plays each."""
    return planted(
        90,
        n_cold=0,
        n_clusters=3,
        items_per_cluster=8,
        plays=5,
        own_share=1.0,
        impressions=0,
        days=30.0,
        first_item=1000,
        majority_cluster=True,
    )


@pytest.fixture(scope="session")
def local_ray(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One local Ray (2 CPUs, no dashboard) shared by the session, its temp dir under the
    session's tmp dir (a short /tmp folder if that is too long for Ray's sockets); shut down at
    the end. Tests that need their own Ray run it in a subprocess."""
    import ray

    from media.ray_runtime import init_ray, ray_temp_dir

    if ray.is_initialized():  # left running by an earlier test: start clean
        ray.shutdown()
    temp_dir = ray_temp_dir(tmp_path_factory.mktemp("ray"))
    init_ray(None, temp_dir, num_cpus=2)
    try:
        yield temp_dir
    finally:
        ray.shutdown()
