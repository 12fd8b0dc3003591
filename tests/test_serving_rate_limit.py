"""Rate limiting per client key and CORS, on the real app."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from serving.app import create_app
from serving.rate_limit import TokenBuckets


def test_a_bucket_grants_its_depth_then_refills_at_the_per_minute_rate() -> None:
    buckets = TokenBuckets(per_minute=3)  # one token every 20 s
    assert [buckets.take("a", now=100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a", now=100.0) == pytest.approx(20.0)
    assert buckets.take("b", now=100.0) == 0.0  # another key has its own bucket
    assert buckets.take("a", now=110.0) == pytest.approx(10.0)
    assert buckets.take("a", now=120.0) == 0.0
    assert buckets.take("a", now=120.0) == pytest.approx(20.0)
    assert buckets.take("a", now=1_000.0) == 0.0  # refilled, never above its depth
    assert [buckets.take("a", now=1_000.0) for _ in range(3)][-1] == pytest.approx(20.0)


def test_idle_full_buckets_are_forgotten() -> None:
    buckets = TokenBuckets(per_minute=60)
    for key in range(1_000):
        buckets.take(f"k{key}", now=0.0)
    buckets.take("late", now=200.0)
    assert set(buckets._buckets) == {"late"}


@pytest.fixture
def limited(settings: Settings, sqlite_url: str) -> TestClient:
    """The app allowing three requests a minute per client key."""
    return TestClient(create_app(settings.model_copy(update={"rate_limit_per_minute": 3})))


def test_over_the_limit_answers_429_with_retry_after_and_a_message(limited: TestClient) -> None:
    statuses = [limited.get("/videos/1").status_code for _ in range(3)]
    assert statuses == [404, 404, 404]
    refused = limited.get("/videos/1")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 20
    assert "rate limit of 3 requests per minute exceeded" in refused.json()["detail"]
    assert len(refused.headers["x-request-id"]) == 32  # logged and traced like any answer


def test_each_api_key_has_its_own_bucket_and_probes_are_exempt(limited: TestClient) -> None:
    for _ in range(3):
        limited.get("/videos/1", headers={"X-API-Key": "app-a"})
    assert limited.get("/videos/1", headers={"X-API-Key": "app-a"}).status_code == 429
    assert limited.get("/videos/1", headers={"X-API-Key": "app-b"}).status_code == 404
    assert limited.get("/videos/1").status_code == 404  # the address bucket is untouched
    for path in ("/health", "/metrics") * 3:
        assert limited.get(path, headers={"X-API-Key": "app-a"}).status_code == 200


def test_zero_turns_limiting_off(settings: Settings, sqlite_url: str) -> None:
    client = TestClient(create_app(settings.model_copy(update={"rate_limit_per_minute": 0})))
    assert {client.get("/videos/1").status_code for _ in range(20)} == {404}


PREFLIGHT = {
    "Origin": "https://app.example.com",
    "Access-Control-Request-Method": "GET",
    "Access-Control-Request-Headers": "x-api-key",
}


def test_cors_preflight_is_allowed_for_a_configured_origin(
    settings: Settings, sqlite_url: str
) -> None:
    configured = settings.model_copy(update={"cors_origins": ["https://app.example.com"]})
    client = TestClient(create_app(configured))
    response = client.options("/users/1/recommendations", headers=PREFLIGHT)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "GET" in response.headers["access-control-allow-methods"]
    assert "x-api-key" in response.headers["access-control-allow-headers"].lower()
    simple = client.get("/health", headers={"Origin": "https://app.example.com"})
    assert simple.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()
    other = client.options(
        "/users/1/recommendations", headers=PREFLIGHT | {"Origin": "https://evil.example"}
    )
    assert other.status_code == 400
    assert "access-control-allow-origin" not in other.headers


def test_without_configured_origins_there_are_no_cors_headers(
    settings: Settings, sqlite_url: str
) -> None:
    client = TestClient(create_app(settings.model_copy(update={"cors_origins": []})))
    response = client.options("/users/1/recommendations", headers=PREFLIGHT)
    assert response.status_code == 405
    assert "access-control-allow-origin" not in response.headers
    simple = client.get("/health", headers={"Origin": "https://app.example.com"})
    assert "access-control-allow-origin" not in simple.headers
