"""Champion / challenger: whether a new pipeline replaces the champion, and why.

Both pipelines are scored on the same holdout of the same run (``training.champion``); the new
one is promoted only when it beats the champion on the primary metric and loses no guardrail.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

#: The per-user serving cost measured with the holdout metrics (milliseconds).
LATENCY = "latency_ms_per_user"


class PromotionPolicy(BaseModel):
    """What "better" means: a primary metric to beat and guardrails not to lose."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    primary: str = Field("ndcg_at_10", description="Metric the new pipeline must beat.")
    min_gain: float = Field(
        0.0, ge=0, description="Absolute margin over the champion's primary metric."
    )
    guardrails: tuple[str, ...] = Field(
        ("recall_at_10", "precision_at_10", "map_at_10", "hit_rate_at_10", "mrr_at_10"),
        description="Quality metrics (higher is better) that may not drop beyond `tolerance`.",
    )
    tolerance: float = Field(
        0.05, ge=0, lt=1, description="Largest relative drop allowed on a guardrail metric."
    )
    coverage: str = Field("coverage_at_10", description="Catalogue coverage metric.")
    coverage_tolerance: float = Field(
        0.10, ge=0, lt=1, description="Largest relative drop allowed in catalogue coverage."
    )
    latency_ratio: float = Field(
        1.5, ge=1, description="Largest ratio of the new per-user latency to the champion's."
    )
    latency_slack_ms: float = Field(
        2.0, ge=0, description="Latency increase always allowed (timer noise on small runs)."
    )


class Decision(BaseModel):
    """The verdict, its reason in words, and the figures it compared."""

    promote: bool
    reason: str
    challenger: dict[str, float]
    champion: dict[str, float] | None = None
    champion_version: int | None = None


def decide(
    challenger: dict[str, float],
    champion: dict[str, float] | None,
    policy: PromotionPolicy | None = None,
    *,
    champion_version: int | None = None,
) -> Decision:
    """Promote ``challenger`` over ``champion`` (metrics on the same holdout) or say why not."""
    policy = policy or PromotionPolicy()
    if champion is None:
        return Decision(promote=True, reason="first model: no champion yet", challenger=challenger)
    of = f" v{champion_version}" if champion_version is not None else ""
    new, old = challenger[policy.primary], champion[policy.primary]
    if new <= old + policy.min_gain:
        return Decision(
            promote=False,
            reason=(
                f"{policy.primary} {new:.4f} does not beat the champion{of}'s {old:.4f}"
                + (f" by {policy.min_gain}" if policy.min_gain else "")
                + " on the same holdout"
            ),
            challenger=challenger,
            champion=champion,
            champion_version=champion_version,
        )
    lost = _lost_guardrails(challenger, champion, policy)
    if lost:
        return Decision(
            promote=False,
            reason=(
                f"{policy.primary} {new:.4f} beats the champion{of}'s {old:.4f} but it loses "
                + "; ".join(lost)
            ),
            challenger=challenger,
            champion=champion,
            champion_version=champion_version,
        )
    return Decision(
        promote=True,
        reason=(
            f"{policy.primary} {new:.4f} beats the champion{of}'s {old:.4f} on the same holdout "
            "and no guardrail is lost"
        ),
        challenger=challenger,
        champion=champion,
        champion_version=champion_version,
    )


def _lost_guardrails(
    new: dict[str, float], old: dict[str, float], policy: PromotionPolicy
) -> list[str]:
    """Each guardrail the new metrics break, in words."""
    lost: list[str] = []
    drops = [(name, policy.tolerance) for name in policy.guardrails]
    drops.append((policy.coverage, policy.coverage_tolerance))
    for name, tolerance in drops:
        if name in new and name in old and new[name] < old[name] * (1 - tolerance):
            lost.append(f"{name} {new[name]:.4f} < {old[name]:.4f} - {tolerance:.0%} (guardrail)")
    if LATENCY in new and LATENCY in old:
        allowed = max(old[LATENCY] * policy.latency_ratio, old[LATENCY] + policy.latency_slack_ms)
        if new[LATENCY] > allowed:
            lost.append(
                f"{LATENCY} {new[LATENCY]:.2f} > {allowed:.2f} ms allowed (guardrail: "
                f"{policy.latency_ratio}x the champion's {old[LATENCY]:.2f} ms)"
            )
    return lost
