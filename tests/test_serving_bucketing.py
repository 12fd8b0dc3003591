"""Bucketing: stable hashes, shares respected, experiments independent of each other."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from serving.bucketing import bucket, choose

USERS = range(100_000)


def _assign(variants: list[tuple[str, float]], salt: str) -> list[str]:
    return [choose(variants, bucket(user, salt)) for user in USERS]


def test_bucket_is_stable_and_in_unit_interval() -> None:
    values = [bucket(user, "exp-a") for user in range(1_000)]
    assert values == [bucket(user, "exp-a") for user in range(1_000)]
    assert all(0.0 <= v < 1.0 for v in values)
    # pinned: a change of hash function would silently reshuffle every running experiment
    assert bucket(1, "salt") == 0.8071542634649382
    assert bucket(42, "exp-a") == 0.20457475015863646


def test_buckets_are_uniform() -> None:
    values = np.array([bucket(user, "uniform") for user in USERS])
    assert stats.kstest(values, "uniform").pvalue > 0.001


@pytest.mark.parametrize(
    "shares", [(0.5, 0.5), (0.9, 0.1), (0.2, 0.3, 0.5), (0.01, 0.99), (0.25, 0.25, 0.25, 0.25)]
)
def test_shares_are_respected(shares: tuple[float, ...]) -> None:
    variants = [(f"v{i}", share) for i, share in enumerate(shares)]
    chosen = _assign(variants, "shares")
    for name, share in variants:
        observed = chosen.count(name) / len(chosen)
        # four standard errors of a binomial share on 100k users
        assert abs(observed - share) < 4 * np.sqrt(share * (1 - share) / len(chosen)) + 1e-9


def test_choose_uses_cumulative_intervals() -> None:
    variants = [("a", 0.2), ("b", 0.3), ("c", 0.5)]
    assert choose(variants, 0.0) == "a"
    assert choose(variants, 0.1999) == "a"
    assert choose(variants, 0.2) == "b"
    assert choose(variants, 0.4999) == "b"
    assert choose(variants, 0.5) == "c"
    assert choose(variants, 0.999999) == "c"


def test_rounding_leftover_goes_to_the_last_variant() -> None:
    variants = [("a", 1 / 3), ("b", 1 / 3), ("c", 1 / 3 - 1e-7)]
    assert choose(variants, 0.99999999) == "c"


def test_choose_refuses_no_variants() -> None:
    with pytest.raises(ValueError, match="no variants"):
        choose([], 0.5)


def test_another_experiments_salt_change_does_not_move_users() -> None:
    """Experiment B keeps every user's variant when experiment A is re-salted: a user's B
    variant depends on B's salt only."""
    variants = [("control", 0.5), ("treatment", 0.5)]
    b_before = _assign(variants, "exp-b")
    a_old, a_new = _assign(variants, "exp-a"), _assign(variants, "exp-a-v2")
    b_after = _assign(variants, "exp-b")
    assert b_after == b_before
    # while A's own users were reshuffled, about half of them
    moved = np.mean(np.array(a_old) != np.array(a_new))
    assert 0.48 < moved < 0.52


def test_experiments_with_different_salts_are_independent() -> None:
    """Being in A's treatment says nothing about B's variant (chi-square on the 2x2 table)."""
    variants = [("control", 0.5), ("treatment", 0.5)]
    a = np.array(_assign(variants, "exp-a")) == "treatment"
    b = np.array(_assign(variants, "exp-b")) == "treatment"
    table = [[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]]
    assert stats.chi2_contingency(table).pvalue > 0.001


def test_splitting_the_last_variant_keeps_users_of_the_others() -> None:
    """Cumulative intervals: splitting the last variant in two leaves control's users in
    control."""
    before = _assign([("control", 0.5), ("treatment", 0.5)], "grow")
    after = _assign([("control", 0.5), ("treatment", 0.25), ("new", 0.25)], "grow")
    assert all(a == "control" for a, b in zip(after, before, strict=True) if b == "control")
