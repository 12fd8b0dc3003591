"""Shared fixtures: a private data root, migrated SQLite and PostgreSQL catalogues, Redis."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import Settings, get_settings

ROOT = Path(__file__).resolve().parent.parent
MOVIELENS_SMALL = ROOT.parent / "shared" / "datasets" / "ml-latest-small"
#: Loopback servers tried by default; set the variable to "" to run without them.
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"


def _service_unavailable(what: str, reason: str) -> None:
    """Skip when an optional service is missing; fail when CI requires it."""
    message = f"{what} not reachable ({reason})"
    if os.environ.get("REELRANK_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message}; REELRANK_REQUIRE_SERVICES=1 makes this a failure")
    pytest.skip(message)


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


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A migrated catalogue in a fresh schema of the real PostgreSQL server, dropped afterwards."""
    base = os.environ.get("REELRANK_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    if not base:
        _service_unavailable("PostgreSQL", "REELRANK_TEST_POSTGRES_URL is not set")
    from sqlalchemy import create_engine, text

    admin_url = "postgresql+psycopg://" + base.split("://", 1)[1]
    admin = create_engine(admin_url)
    schema = f"rr_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as exc:
        admin.dispose()
        _service_unavailable("PostgreSQL", str(exc).splitlines()[0])
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
        _service_unavailable("Redis", "REELRANK_TEST_REDIS_URL is not set")
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    except Exception as exc:
        _service_unavailable("Redis", str(exc).splitlines()[0])
    finally:
        client.close()
    return url


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
