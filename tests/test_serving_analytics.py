"""Analytics routes through the real app on SQLite and PostgreSQL: player events posted through
``POST /events``, the figures checked against values worked out by hand, admin auth, bad
windows, an unknown video and empty windows."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.db.models import User, Video
from core.db.session import session_scope
from core.settings import Settings
from serving.app import create_app

TOKEN = "analytics-token"
ADMIN = {"X-Admin-Token": TOKEN}
#: Midnight UTC three days ago: events land on days D, D+1 and D+2 (all in the past).
D = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=3)
HOUR, MINUTE = timedelta(hours=1), timedelta(minutes=1)


def _at(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _ev(user: int, video: int, kind: str, at: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4().hex,
        "type": kind,
        "user_id": user,
        "video_id": video,
        "timestamp": at.isoformat(),
    } | extra


def _events() -> list[dict[str, Any]]:
    """Video 10: views A (user 1, day D), B (user 2, day D), C1 and C2 (user 1 without a
    session id, days D+1 and D+2), and user 3's events that are no view. Video 11: three
    views on day D+1. Video 12: nothing."""
    a, b, d0 = D + 1 * HOUR, D + 2 * HOUR, D + 3 * HOUR
    c1, c2 = D + timedelta(days=1, hours=5), D + timedelta(days=2, hours=5)
    v11 = D + timedelta(days=1, hours=8)
    return [
        # A: 150 s watched, 2 s stalled, one automatic switch (the manual one is not
        # counted), 1 s start-up, buffer 20 s then 10 s, completed
        _ev(1, 10, "play", a, session_id="a", properties={"startup_ms": 1000}),
        _ev(
            1,
            10,
            "progress",
            a + MINUTE,
            session_id="a",
            watch_seconds=60.0,
            properties={"buffer_s": 20.0, "bitrate": 3_000_000},
        ),
        _ev(1, 10, "rebuffer", a + 2 * MINUTE, session_id="a", value=2.0),
        _ev(
            1,
            10,
            "quality_change",
            a + 2 * MINUTE,
            session_id="a",
            properties={"from_bitrate": 3_000_000, "to_bitrate": 1_500_000, "reason": "abr"},
        ),
        _ev(
            1, 10, "quality_change", a + 2 * MINUTE, session_id="a", properties={"reason": "manual"}
        ),
        _ev(
            1,
            10,
            "progress",
            a + 3 * MINUTE,
            session_id="a",
            watch_seconds=120.0,
            properties={"buffer_s": 10},
        ),
        _ev(1, 10, "complete", a + 4 * MINUTE, session_id="a", watch_seconds=150.0),
        # B: 30 s watched, 3 s stalled (given as duration_ms), 5 s start-up, no buffer report
        _ev(2, 10, "play", b, session_id="b", properties={"startup_ms": 5000.0}),
        _ev(2, 10, "rebuffer", b + MINUTE, session_id="b", properties={"duration_ms": 3000}),
        _ev(2, 10, "progress", b + MINUTE, session_id="b", watch_seconds=30.0),
        # user 3: an impression, a click and a progress without a play are no view
        _ev(3, 10, "impression", d0, session_id="d"),
        _ev(3, 10, "click", d0, session_id="d"),
        _ev(3, 10, "progress", d0 + MINUTE, session_id="d", watch_seconds=500.0),
        # C1: no session id, a nonsense start-up (missing), an empty buffer, 60 s watched
        _ev(1, 10, "play", c1, properties={"startup_ms": -5}),
        _ev(1, 10, "progress", c1 + MINUTE, watch_seconds=60.0, properties={"buffer_s": 0}),
        # C2: the next day, a start-up and a buffer that are no numbers, an absurd stall
        # (all ignored), 40 s
        _ev(1, 10, "play", c2, properties={"startup_ms": "slow"}),
        _ev(1, 10, "rebuffer", c2 + MINUTE, value=1e9),
        _ev(1, 10, "progress", c2 + MINUTE, watch_seconds=40.0, properties={"buffer_s": True}),
        # user 4's impression of video 12 makes no view and no active viewer
        _ev(4, 12, "impression", c2),
        # user 3 again on D+2: an orphan progress, active but no view
        _ev(3, 10, "progress", c2 + 2 * MINUTE, session_id="e", watch_seconds=5.0),
        # video 11: 600 s, 100 s (completed) and a play without watch time
        _ev(3, 11, "play", v11, session_id="s3"),
        _ev(3, 11, "progress", v11 + 10 * MINUTE, session_id="s3", watch_seconds=600.0),
        _ev(4, 11, "play", v11, session_id="s4"),
        _ev(4, 11, "complete", v11 + 2 * MINUTE, session_id="s4", watch_seconds=100.0),
        _ev(1, 11, "play", v11, session_id="x"),
    ]


def _stall(stall: float, watch: float) -> float:
    """The stall badness of the formula in ``serving.qoe``, worked out here."""
    return 1.0 - math.exp(-(stall / (watch + stall)) / 0.05)


#: The four views' QoE, by hand: A over all 100 weight (switches: 1 in 2.5 min, / 3 = 2/15
#: of 15 = 2 points); B without buffer (85): start-up (5-2)/8 of 20; C1 without start-up (80):
#: an empty buffer costs all 15; C2 has nothing against it.
QOE_A = 100.0 - 50.0 * _stall(2.0, 150.0) - 2.0
QOE_B = 100.0 * (1.0 - (20.0 * 3.0 / 8.0 + 50.0 * _stall(3.0, 30.0)) / 85.0)
QOE_C1 = 100.0 * (1.0 - 15.0 / 80.0)
QOE_C2 = 100.0


@pytest.fixture
def client(data_root: Path, database_url: str) -> Iterator[TestClient]:
    """The app with an admin token, users 1-4, videos 10-12 and the events posted."""
    with session_scope(database_url) as session:
        session.add_all(User(id=u, username=f"viewer{u}") for u in (1, 2, 3, 4))
        session.add_all(Video(id=v, title=f"video {v}", duration_s=150.0) for v in (10, 11, 12))
    settings = Settings(data_root=data_root, database_url=database_url, admin_token=TOKEN)
    with TestClient(create_app(settings)) as client:
        response = client.post("/events", json={"events": _events()})
        assert response.json() == {"accepted": len(_events()), "duplicates": 0}
        yield client


def _get(client: TestClient, path: str, **params: Any) -> dict[str, Any]:
    response = client.get(path, params=params, headers=ADMIN)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_videos_figures_match_the_hand_computed_values(client: TestClient) -> None:
    body = _get(client, "/analytics/videos/10", **{"from": _at(D), "to": _at(D + timedelta(3))})
    assert body["video_id"] == 10
    assert (body["views"], body["unique_viewers"]) == (4, 2)
    assert body["watch_seconds"] == pytest.approx(150 + 30 + 60 + 40)
    assert body["avg_watch_seconds"] == pytest.approx(280 / 4)
    assert (body["completed_views"], body["completion_rate"]) == (1, 0.25)
    assert body["stall_seconds"] == pytest.approx(5.0)
    assert body["rebuffer_ratio"] == pytest.approx(5.0 / 285.0)
    assert body["quality_switches"] == 1
    assert body["switches_per_minute"] == pytest.approx(1 / (280 / 60))
    qoe = body["qoe"]
    assert (qoe["sessions"], qoe["truncated"]) == (4, False)
    assert qoe["mean"] == pytest.approx((QOE_A + QOE_B + QOE_C1 + QOE_C2) / 4)
    assert [b["sessions"] for b in qoe["histogram"]] == [0, 0, 0, 0, 1, 0, 0, 0, 2, 1]
    assert [(b["low"], b["high"]) for b in qoe["histogram"]][-1] == (90, 100)
    # start-ups reported by A and B only: linear percentiles of [1000, 5000]
    assert qoe["startup_sessions"] == 2
    assert qoe["startup_ms_p50"] == pytest.approx(3000.0)
    assert qoe["startup_ms_p90"] == pytest.approx(4600.0)


def test_the_window_selects_events_by_their_time_and_takes_any_timezone(
    client: TestClient,
) -> None:
    plus_two = timezone(timedelta(hours=2))
    first_day = {"from": D.astimezone(plus_two).isoformat(), "to": _at(D + timedelta(1))}
    body = _get(client, "/analytics/videos/10", **first_day)
    assert (body["views"], body["watch_seconds"]) == (2, pytest.approx(180.0))
    assert body["qoe"]["mean"] == pytest.approx((QOE_A + QOE_B) / 2)
    assert datetime.fromisoformat(body["from"]) == D
    # naive times are UTC; the play of C1 alone is a view of 0 s when its progress is cut off
    naive = D.replace(tzinfo=None)
    cut = {
        "from": (naive + timedelta(days=1)).isoformat(),
        "to": _at(D + timedelta(days=1, hours=5, seconds=30)),
    }
    body = _get(client, "/analytics/videos/10", **cut)
    assert (body["views"], body["watch_seconds"], body["avg_watch_seconds"]) == (1, 0.0, 0.0)


def test_qoe_scores_only_the_most_recent_views_beyond_the_cap(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("serving.analytics.MAX_SCORED", 2)
    body = _get(client, "/analytics/videos/10", **{"from": _at(D), "to": _at(D + timedelta(3))})
    assert body["views"] == 4  # counted in full
    assert (body["qoe"]["sessions"], body["qoe"]["truncated"]) == (2, True)
    assert body["qoe"]["mean"] == pytest.approx((QOE_C1 + QOE_C2) / 2)
    assert body["qoe"]["startup_sessions"] == 0
    assert body["qoe"]["startup_ms_p50"] is None


def test_top_videos_by_views_and_by_watch_time(client: TestClient) -> None:
    window = {"from": _at(D), "to": _at(D + timedelta(3))}
    top = _get(client, "/analytics/top", **window)
    assert top["by"] == "views"
    assert [(v["video_id"], v["title"], v["views"]) for v in top["videos"]] == [
        (10, "video 10", 4),
        (11, "video 11", 3),
    ]
    assert [v["watch_seconds"] for v in top["videos"]] == pytest.approx([280.0, 700.0])
    by_watch = _get(client, "/analytics/top", by="watch_time", **window)
    assert [v["video_id"] for v in by_watch["videos"]] == [11, 10]
    one = _get(client, "/analytics/top", by="watch_time", limit=1, **window)
    assert [v["video_id"] for v in one["videos"]] == [11]
    day_one = _get(client, "/analytics/top", **{"from": _at(D), "to": _at(D + timedelta(1))})
    assert [(v["video_id"], v["views"]) for v in day_one["videos"]] == [(10, 2)]


def test_daily_active_viewers_list_every_day(client: TestClient) -> None:
    first = D.date()
    body = _get(
        client,
        "/analytics/daily-active",
        **{"from": first.isoformat(), "to": (first + timedelta(4)).isoformat()},
    )
    assert body["from"] == first.isoformat()
    # D: users 1, 2 and 3 (a progress without a play counts); D+1: 1, 3, 4; D+2: 1 and 3
    # (user 4's impression does not count); D+3: nobody
    assert [(d["day"], d["active_viewers"]) for d in body["days"]] == [
        ((first + timedelta(i)).isoformat(), n) for i, n in enumerate([3, 3, 2, 0])
    ]


def test_daily_qoe_sums_every_videos_views_per_day(client: TestClient) -> None:
    first = D.date()
    body = _get(
        client,
        "/analytics/qoe/daily",
        **{"from": first.isoformat(), "to": (first + timedelta(4)).isoformat()},
    )
    days = body["days"]
    assert [d["day"] for d in days] == [(first + timedelta(i)).isoformat() for i in range(4)]
    # D: views A and B of video 10 (the same figures as that video's first day)
    day = days[0]
    assert (day["views"], day["quality_switches"]) == (2, 1)
    assert (day["watch_seconds"], day["stall_seconds"]) == (pytest.approx(180.0), 5.0)
    assert day["rebuffer_ratio"] == pytest.approx(5.0 / 185.0)
    assert day["qoe"]["mean"] == pytest.approx((QOE_A + QOE_B) / 2)
    assert day["qoe"]["startup_ms_p50"] == pytest.approx(3000.0)
    # D+1: C1 of video 10 and video 11's three views; D+2: C2 alone; D+3: nothing
    assert (days[1]["views"], days[1]["watch_seconds"]) == (4, pytest.approx(760.0))
    assert days[1]["qoe"]["sessions"] == 4 and days[1]["stall_seconds"] == 0.0
    assert (days[2]["views"], days[2]["qoe"]["mean"]) == (1, pytest.approx(QOE_C2))
    assert days[3]["views"] == 0 and days[3]["qoe"]["mean"] is None
    assert days[3]["rebuffer_ratio"] is None and days[3]["switches_per_minute"] is None


def test_an_empty_window_gives_zeros(client: TestClient) -> None:
    old = {"from": _at(D - timedelta(60)), "to": _at(D - timedelta(59))}
    body = _get(client, "/analytics/videos/12", **{"from": _at(D), "to": _at(D + timedelta(3))})
    for video in (body, _get(client, "/analytics/videos/10", **old)):
        assert video["views"] == video["unique_viewers"] == video["completed_views"] == 0
        assert video["watch_seconds"] == video["stall_seconds"] == 0.0
        assert video["quality_switches"] == 0
        # a ratio or mean without a denominator is null, not a fake 0
        for key in (
            "avg_watch_seconds",
            "completion_rate",
            "rebuffer_ratio",
            "switches_per_minute",
        ):
            assert video[key] is None
        assert video["qoe"]["sessions"] == 0 and video["qoe"]["mean"] is None
        assert sum(b["sessions"] for b in video["qoe"]["histogram"]) == 0
    assert _get(client, "/analytics/top", **old)["videos"] == []
    day = (D - timedelta(60)).date()
    days = _get(
        client,
        "/analytics/daily-active",
        **{"from": day.isoformat(), "to": (day + timedelta(2)).isoformat()},
    )["days"]
    assert [d["active_viewers"] for d in days] == [0, 0]


PATHS = (
    "/analytics/videos/10",
    "/analytics/top",
    "/analytics/daily-active",
    "/analytics/qoe/daily",
)


def test_non_admins_are_refused(client: TestClient) -> None:
    params = {"from": D.date().isoformat(), "to": (D + timedelta(1)).date().isoformat()}
    for path in PATHS:
        assert client.get(path, params=params).status_code == 401
        wrong = client.get(path, params=params, headers={"X-Admin-Token": "guess"})
        assert wrong.status_code == 403
        assert client.get(path, params=params, headers=ADMIN).status_code == 200


def test_bad_windows_and_parameters_get_422_with_a_message(client: TestClient) -> None:
    start, end = _at(D), _at(D + timedelta(1))
    cases: dict[str, tuple[str, dict[str, Any], str]] = {
        "reversed": ("/analytics/videos/10", {"from": end, "to": start}, "must be before"),
        "empty": ("/analytics/top", {"from": start, "to": start}, "must be before"),
        "too long": (
            "/analytics/top",
            {"from": _at(D - timedelta(367)), "to": start},
            "at most 366 days",
        ),
        "too early": (
            "/analytics/videos/10",
            {"from": "1900-01-01T00:00:00Z", "to": start},
            "'from' must lie between",
        ),
        "overflowing offset": (
            "/analytics/top",
            {"from": start, "to": "9999-12-31T23:00:00-05:00"},
            "'to' must lie between",
        ),
        "not a time": ("/analytics/top", {"from": "yesterday", "to": start}, "datetime"),
        "missing from": ("/analytics/top", {"to": start}, "from"),
        "bad order": ("/analytics/top", {"from": start, "to": end, "by": "likes"}, "by"),
        "limit 0": ("/analytics/top", {"from": start, "to": end, "limit": 0}, "limit"),
        "limit too big": ("/analytics/top", {"from": start, "to": end, "limit": 101}, "limit"),
        "day with a time": (
            "/analytics/daily-active",
            {"from": "2026-01-01T10:00:00", "to": "2026-01-03"},
            "from",
        ),
        "days reversed": (
            "/analytics/daily-active",
            {"from": "2026-01-03", "to": "2026-01-01"},
            "must be before",
        ),
        "days too many": (
            "/analytics/daily-active",
            {"from": "2025-01-01", "to": "2026-01-03"},
            "at most 366 days",
        ),
        "year 2200": (
            "/analytics/daily-active",
            {"from": "2199-12-30", "to": "2200-01-01"},
            "must lie between",
        ),
        "qoe days too many": (
            "/analytics/qoe/daily",
            {"from": "2026-01-01", "to": "2026-04-04"},
            "at most 92 days",
        ),
        "video id 0": ("/analytics/videos/0", {"from": start, "to": end}, "video_id"),
        "huge video id": ("/analytics/videos/2147483648", {"from": start, "to": end}, "video_id"),
    }
    for case, (path, params, text) in cases.items():
        response = client.get(path, params=params, headers=ADMIN)
        assert response.status_code == 422, (case, response.text)
        assert text in response.text, (case, response.text)


def test_an_unknown_video_is_404(client: TestClient) -> None:
    params = {"from": _at(D), "to": _at(D + timedelta(1))}
    response = client.get("/analytics/videos/999", params=params, headers=ADMIN)
    assert response.status_code == 404
    assert response.json() == {"detail": "video 999 not found"}
