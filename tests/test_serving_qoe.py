"""The QoE score of one playback session: hand-computed cases, missing information, bad
input and the monotone properties (on fixed-seed random sessions)."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest

from serving.qoe import SessionQuality, qoe_score, rebuffer_ratio

#: 1 - exp(-1): the stall badness at a 5 % rebuffering ratio.
ONE_SCALE = 1.0 - math.exp(-1.0)


@pytest.mark.parametrize(
    ("session", "expected"),
    [
        # nothing went wrong: every component present and at 0 badness
        (SessionQuality(600.0, 0.0, 0, startup_ms=1000.0, mean_buffer_s=20.0), 100.0),
        # nothing reported at all: stalling and switches scored (both 0), the rest missing
        (SessionQuality(), 100.0),
        # 6 s start-up: (6 - 2) / 8 = 0.5 of 20; 5 s buffer: 1 - 5/10 = 0.5 of 15
        (SessionQuality(600.0, 0.0, 0, startup_ms=6000.0, mean_buffer_s=5.0), 82.5),
        # 3 switches in 2 minutes: 1.5 / 3 = 0.5 of 15
        (SessionQuality(120.0, 0.0, 3, startup_ms=2000.0, mean_buffer_s=10.0), 92.5),
        # 1 switch in 30 s counts over the one-minute floor: 1/3 of 15
        (SessionQuality(30.0, 0.0, 1, startup_ms=0.0, mean_buffer_s=12.0), 95.0),
        # 5 s stalled in 95 s watched: r = 0.05, badness 1 - 1/e of 50, over weights 50 + 15
        (SessionQuality(95.0, 5.0, 0), 100.0 * (1.0 - 50.0 * ONE_SCALE / 65.0)),
        # the same with a perfect start-up and buffer: over all 100 weight
        (
            SessionQuality(95.0, 5.0, 0, startup_ms=500.0, mean_buffer_s=30.0),
            100.0 - 50.0 * ONE_SCALE,
        ),
        # start-up only beyond the worst time: 20 of 85 (no buffer report)
        (SessionQuality(60.0, 0.0, 0, startup_ms=15_000.0), 100.0 * (1.0 - 20.0 / 85.0)),
    ],
)
def test_hand_computed_scores(session: SessionQuality, expected: float) -> None:
    assert qoe_score(session) == pytest.approx(expected, abs=1e-9)


def test_the_worst_session_scores_about_zero() -> None:
    worst = SessionQuality(0.0, 30.0, 10, startup_ms=20_000.0, mean_buffer_s=0.0)
    # stall ratio 1: badness 1 - exp(-20); everything else at 1
    assert qoe_score(worst) == pytest.approx(50.0 * math.exp(-20.0), abs=1e-12)
    assert qoe_score(worst) < 1e-6


def test_rebuffer_ratio() -> None:
    assert rebuffer_ratio(5.0, 95.0) == pytest.approx(0.05)
    assert rebuffer_ratio(0.0, 0.0) == 0.0
    assert rebuffer_ratio(3.0, 0.0) == 1.0
    assert rebuffer_ratio(-3.0, 10.0) == 0.0


def test_bad_inputs_count_as_zero_or_missing() -> None:
    clean = SessionQuality(95.0, 5.0, 2)
    assert qoe_score(replace(clean, startup_ms=-5.0)) == qoe_score(clean)
    assert qoe_score(replace(clean, mean_buffer_s=math.nan)) == qoe_score(clean)
    assert qoe_score(replace(clean, mean_buffer_s=-1.0)) == qoe_score(clean)
    assert qoe_score(replace(clean, stall_seconds=-4.0)) == qoe_score(
        replace(clean, stall_seconds=0)
    )
    assert qoe_score(replace(clean, switches=-3)) == qoe_score(replace(clean, switches=0))
    assert qoe_score(replace(clean, watch_seconds=math.inf)) == qoe_score(
        replace(clean, watch_seconds=0.0)
    )


def _random_sessions(n: int = 400) -> list[SessionQuality]:
    rng = random.Random(7)
    sessions = []
    for _ in range(n):
        sessions.append(
            SessionQuality(
                watch_seconds=rng.choice([0.0, 5.0, rng.uniform(0, 3600)]),
                stall_seconds=rng.choice([0.0, rng.uniform(0, 60)]),
                switches=rng.randrange(0, 30),
                startup_ms=rng.choice([None, rng.uniform(0, 15_000)]),
                mean_buffer_s=rng.choice([None, rng.uniform(0, 40)]),
            )
        )
    return sessions


@pytest.mark.parametrize(
    ("field", "worse"),
    [
        ("stall_seconds", lambda v: v + 2.5),
        ("switches", lambda v: v + 1),
        ("startup_ms", lambda v: None if v is None else v + 700.0),
        ("mean_buffer_s", lambda v: None if v is None else max(0.0, v - 3.0)),
    ],
)
def test_a_worse_component_never_raises_the_score(field: str, worse: object) -> None:
    changed = 0
    for session in _random_sessions():
        score = qoe_score(session)
        assert 0.0 <= score <= 100.0
        worse_session = replace(session, **{field: worse(getattr(session, field))})  # type: ignore[operator]
        worse_score = qoe_score(worse_session)
        assert worse_score <= score + 1e-12, (session, worse_session)
        changed += worse_score < score - 1e-9
    assert changed > 50  # the sweep really moves the score


def test_more_watch_time_with_the_same_stalls_and_switches_never_lowers_the_score() -> None:
    for session in _random_sessions():
        longer = replace(session, watch_seconds=session.watch_seconds + 90.0)
        assert qoe_score(longer) >= qoe_score(session) - 1e-12


def test_a_known_component_is_scored_and_missing_ones_renormalise() -> None:
    stalled = SessionQuality(95.0, 5.0, 0)
    # a perfect start-up adds weight without penalty: the score rises
    assert qoe_score(replace(stalled, startup_ms=0.0)) > qoe_score(stalled)
    # a start-up as bad as the mean badness it has (50 * (1 - 1/e) / 65, switches at 0)
    # leaves the score where it was: missing components count as the mean of the others
    same = 2000.0 + 8000.0 * 50.0 * ONE_SCALE / 65.0
    assert qoe_score(replace(stalled, startup_ms=same)) == pytest.approx(qoe_score(stalled))
