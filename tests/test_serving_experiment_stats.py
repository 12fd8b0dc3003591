"""User-level A/B statistics, checked against numbers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from serving.bucketing import bucket, choose
from serving.experiment_stats import (
    Estimate,
    compare,
    mean_estimate,
    ratio_estimate,
    sample_ratio,
    z_value,
)

Z = z_value(0.95)


def test_z_value_of_95_percent() -> None:
    assert abs(Z - 1.959964) < 1e-6


def test_ctr_interval_by_hand() -> None:
    """Three users: (impressions, clicks) = (4, 1), (4, 3), (2, 0).
    CTR = 4 / 10 = 0.4; residuals y - 0.4 x = -0.6, 1.4, -0.8; their sample variance
    (0.36 + 1.96 + 0.64) / 2 = 1.48; mean impressions 10/3; variance of the CTR
    1.48 / (3 * 100/9) = 0.0444; interval 0.4 -/+ 1.96 * 0.2107 = [-0.0130, 0.8130]."""
    estimate = ratio_estimate(np.array([1.0, 3.0, 0.0]), np.array([4.0, 4.0, 2.0]))
    assert estimate.value == pytest.approx(0.4)
    assert estimate.variance == pytest.approx(0.0444)
    low, high = estimate.interval(Z)
    assert low == pytest.approx(0.4 - Z * math.sqrt(0.0444))
    assert high == pytest.approx(0.4 + Z * math.sqrt(0.0444))
    assert (round(low, 4), round(high, 4)) == (-0.0130, 0.8130)


def test_ratio_interval_is_wider_than_the_naive_binomial_when_users_cluster() -> None:
    """Clicks concentrated in a few users: treating every impression as independent would
    understate the uncertainty."""
    impressions = np.full(100, 10.0)
    clicks = np.where(np.arange(100) < 10, 10.0, 0.0)  # 10 users click everything
    estimate = ratio_estimate(clicks, impressions)
    naive = 0.1 * 0.9 / 1000
    assert estimate.value == pytest.approx(0.1)
    assert estimate.variance is not None and estimate.variance > 5 * naive


def test_mean_interval_by_hand() -> None:
    """Watch minutes 1, 2, 3, 6: mean 3, sample variance (4 + 1 + 0 + 9) / 3 = 14/3, variance
    of the mean 14/12."""
    estimate = mean_estimate(np.array([1.0, 2.0, 3.0, 6.0]))
    assert estimate.value == pytest.approx(3.0)
    assert estimate.variance == pytest.approx(14 / 12)


def test_undefined_estimates() -> None:
    assert mean_estimate(np.array([])) == Estimate(None, None)
    assert mean_estimate(np.array([5.0])) == Estimate(5.0, None)
    assert ratio_estimate(np.array([0.0, 0.0]), np.array([0.0, 0.0])) == Estimate(None, None)
    assert ratio_estimate(np.array([1.0]), np.array([2.0])) == Estimate(0.5, None)
    assert Estimate(5.0, None).interval(Z) == (None, None)


def test_difference_and_lift_by_hand() -> None:
    """Treatment 0.5 (variance 0.0016), control 0.4 (variance 0.0009): difference 0.1 with
    standard error sqrt(0.0025) = 0.05, so [0.002, 0.198] and p = 2 (1 - Phi(2)) = 0.0455;
    lift 0.25 with variance 0.0016/0.16 + 0.25 * 0.0009 / 0.0256 = 0.018789."""
    comparison = compare(Estimate(0.5, 0.0016), Estimate(0.4, 0.0009), Z)
    assert comparison.diff == pytest.approx(0.1)
    assert comparison.diff_ci == pytest.approx((0.1 - Z * 0.05, 0.1 + Z * 0.05))
    assert comparison.p_value == pytest.approx(0.0455, abs=1e-4)
    assert comparison.lift == pytest.approx(0.25)
    half = Z * math.sqrt(0.0016 / 0.16 + 0.25 * 0.0009 / 0.0256)
    assert comparison.lift_ci == pytest.approx((0.25 - half, 0.25 + half))


def test_comparison_without_data_or_control_value() -> None:
    assert compare(Estimate(None, None), Estimate(0.4, 0.01), Z).diff is None
    zero_control = compare(Estimate(0.1, 0.01), Estimate(0.0, 0.01), Z)
    assert zero_control.diff == pytest.approx(0.1)
    assert zero_control.lift is None and zero_control.lift_ci == (None, None)
    no_variance = compare(Estimate(0.5, None), Estimate(0.4, 0.01), Z)
    assert no_variance.diff == pytest.approx(0.1) and no_variance.diff_ci == (None, None)


def test_srm_flags_a_60_40_split_of_a_50_50_experiment() -> None:
    """600 vs 400 users where 500 each were expected: chi2 = 2 * 100^2 / 500 = 40."""
    result = sample_ratio({"control": 600, "treatment": 400}, {"control": 0.5, "treatment": 0.5})
    assert result.chi2 == pytest.approx(40.0)
    assert result.p_value is not None and result.p_value < 1e-9
    assert result.mismatch
    assert result.expected == {"control": 500.0, "treatment": 500.0}


def test_srm_does_not_flag_a_fair_split_from_bucketing() -> None:
    variants = [("control", 0.5), ("treatment", 0.3), ("other", 0.2)]
    chosen = [choose(variants, bucket(user, "fair")) for user in range(20_000)]
    observed = {name: chosen.count(name) for name, _ in variants}
    result = sample_ratio(observed, dict(variants))
    assert result.p_value is not None and result.p_value > 0.001
    assert not result.mismatch


def test_srm_is_not_tested_without_users() -> None:
    result = sample_ratio({}, {"a": 0.5, "b": 0.5})
    assert result.p_value is None and not result.mismatch
    assert result.observed == {"a": 0, "b": 0}
