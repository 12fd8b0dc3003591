"""Champion / challenger verdicts: the primary metric decides, guardrails veto, reasons say why."""

from __future__ import annotations

import pytest

from training.promotion import LATENCY, PromotionPolicy, decide

CHAMPION = {
    "ndcg_at_10": 0.20,
    "recall_at_10": 0.30,
    "precision_at_10": 0.10,
    "map_at_10": 0.12,
    "hit_rate_at_10": 0.50,
    "mrr_at_10": 0.25,
    "coverage_at_10": 0.40,
    LATENCY: 4.0,
}


def _with(**changes: float) -> dict[str, float]:
    return CHAMPION | changes


def test_the_first_model_is_promoted() -> None:
    decision = decide(CHAMPION, None)
    assert decision.promote and decision.reason == "first model: no champion yet"


def test_a_better_model_is_promoted_with_both_figures_in_the_reason() -> None:
    decision = decide(_with(ndcg_at_10=0.25), CHAMPION, champion_version=3)
    assert decision.promote
    assert "0.2500 beats the champion v3's 0.2000" in decision.reason
    assert decision.champion == CHAMPION and decision.champion_version == 3


@pytest.mark.parametrize("ndcg", [0.20, 0.19])
def test_a_tie_or_a_loss_keeps_the_champion(ndcg: float) -> None:
    decision = decide(_with(ndcg_at_10=ndcg), CHAMPION)
    assert not decision.promote
    assert "does not beat the champion's 0.2000" in decision.reason


def test_the_margin_is_required() -> None:
    policy = PromotionPolicy(min_gain=0.01)
    assert not decide(_with(ndcg_at_10=0.205), CHAMPION, policy).promote
    assert decide(_with(ndcg_at_10=0.215), CHAMPION, policy).promote


@pytest.mark.parametrize(
    ("metric", "value"),
    [("recall_at_10", 0.28), ("mrr_at_10", 0.2), ("coverage_at_10", 0.35), (LATENCY, 6.5)],
)
def test_a_lost_guardrail_vetoes_a_better_primary(metric: str, value: float) -> None:
    decision = decide(_with(ndcg_at_10=0.3, **{metric: value}), CHAMPION)
    assert not decision.promote
    assert f"but it loses {metric}" in decision.reason


@pytest.mark.parametrize(
    ("metric", "value"),
    [("recall_at_10", 0.29), ("coverage_at_10", 0.37), (LATENCY, 5.9)],
)
def test_drops_within_tolerance_do_not_veto(metric: str, value: float) -> None:
    assert decide(_with(ndcg_at_10=0.3, **{metric: value}), CHAMPION).promote


def test_latency_slack_covers_timer_noise_on_tiny_runs() -> None:
    fast = _with(**{LATENCY: 0.1})
    assert decide(_with(ndcg_at_10=0.3, **{LATENCY: 2.0}), fast).promote
    assert not decide(_with(ndcg_at_10=0.3, **{LATENCY: 2.2}), fast).promote


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        PromotionPolicy(tolerance=1.5)
    with pytest.raises(ValueError):
        PromotionPolicy(latency_ratio=0.5)
