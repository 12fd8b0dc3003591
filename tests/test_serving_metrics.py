"""GET /metrics: the latency histogram per route template and the recommendation, fallback and
event counters, read back from the text exposition of the real app."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from core.settings import Settings
from serving.app import create_app
from serving.metrics import observe_events, observe_recommendations


def _sample(client: TestClient, name: str, **labels: str) -> float:
    """The value of sample ``name`` with ``labels`` in the app's /metrics (0 when absent)."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


def test_latency_is_observed_per_route_template_method_and_status_class(
    settings: Settings, sqlite_url: str
) -> None:
    client = TestClient(create_app(settings))
    route = {"method": "GET", "route": "/videos/{video_id}", "status_class": "4xx"}
    count = "reelrank_http_request_duration_seconds_count"
    before = _sample(client, count, **route)
    for video_id in (11, 12, 13):
        assert client.get(f"/videos/{video_id}").status_code == 404
    assert _sample(client, count, **route) == before + 3
    assert _sample(client, count, method="GET", route="/videos/11", status_class="4xx") == 0
    fast = _sample(client, "reelrank_http_request_duration_seconds_bucket", **route, le="5.0")
    assert fast == before + 3
    unmatched = {"method": "GET", "route": "<unmatched>", "status_class": "4xx"}
    before = _sample(client, count, **unmatched)
    client.get("/no/such/route")
    assert _sample(client, count, **unmatched) == before + 1


def test_recommendation_fallback_and_event_counters(settings: Settings, sqlite_url: str) -> None:
    client = TestClient(create_app(settings))
    served = {"surface": "home", "variant": "treatment", "fallback": "false"}
    fell_back = {"surface": "home", "variant": "none", "fallback": "true"}
    before = {
        "served": _sample(client, "reelrank_recommendations_total", **served),
        "fell_back": _sample(client, "reelrank_recommendations_total", **fell_back),
        "fallbacks": _sample(client, "reelrank_fallbacks_total", surface="home"),
        "accepted": _sample(client, "reelrank_events_total", outcome="accepted"),
        "duplicate": _sample(client, "reelrank_events_total", outcome="duplicate"),
    }
    observe_recommendations("home", "treatment", fallback=False)
    observe_recommendations("home", "treatment", fallback=False)
    observe_recommendations("home", None, fallback=True)
    observe_events(accepted=7, duplicates=2)
    observe_events(accepted=0, duplicates=0)
    assert _sample(client, "reelrank_recommendations_total", **served) == before["served"] + 2
    assert _sample(client, "reelrank_recommendations_total", **fell_back) == before["fell_back"] + 1
    assert _sample(client, "reelrank_fallbacks_total", surface="home") == before["fallbacks"] + 1
    assert _sample(client, "reelrank_events_total", outcome="accepted") == before["accepted"] + 7
    assert _sample(client, "reelrank_events_total", outcome="duplicate") == before["duplicate"] + 2
