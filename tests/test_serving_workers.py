"""``reelrank serve --workers 2``: both workers answer and /metrics sums them."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from serving.metrics import multiprocess_dir
from tests.live_server import live_server

ROUTE = {"method": "GET", "route": "/videos/{video_id}", "status_class": "4xx"}


def _count(url: str) -> float:
    text = httpx.get(f"{url}/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.endswith("_duration_seconds_count") and sample.labels == ROUTE:
                return float(sample.value)
    return 0.0


def _get(url: str) -> int:
    """One request on a new connection (so the kernel may hand it to either worker)."""
    return httpx.get(url, headers={"Connection": "close"}).status_code


@pytest.mark.slow
def test_two_workers_serve_and_metrics_sum_both(data_root: Path, sqlite_url: str) -> None:
    env = {"REELRANK_RATE_LIMIT_PER_MINUTE": "0", "REELRANK_LOG_LEVEL": "WARNING"}
    with live_server(data_root, "--workers", "2", env=env) as url:
        folder = multiprocess_dir(data_root)
        sent = 0
        with ThreadPoolExecutor(8) as pool:
            while sent < 2_000:
                statuses = list(pool.map(_get, [f"{url}/videos/{900_000 + i}" for i in range(80)]))
                assert set(statuses) == {404}
                sent += len(statuses)
                if len(list(folder.glob("histogram_*.db"))) >= 2:  # both workers answered
                    break
        assert len(list(folder.glob("histogram_*.db"))) == 2
        assert _count(url) == sent  # whichever worker answers the scrape
        assert _count(url) == sent
