"""Statistics of A/B results at the user level (users are the randomisation unit): means and
ratio metrics with delta-method variances, differences to control, and the sample-ratio check."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import stats

#: p-value under which a sample-ratio mismatch is flagged.
SRM_THRESHOLD = 0.001


def z_value(confidence: float) -> float:
    """The two-sided normal quantile of ``confidence`` (1.959964 for 0.95)."""
    return float(stats.norm.ppf(0.5 + confidence / 2))


@dataclass(frozen=True)
class Estimate:
    """A metric's point estimate and the variance of that estimate (None where undefined:
    no data, or fewer than two users)."""

    value: float | None
    variance: float | None

    def interval(self, z: float) -> tuple[float | None, float | None]:
        """``value -/+ z * standard error``; Nones where the variance is undefined."""
        if self.value is None or self.variance is None:
            return None, None
        half = z * math.sqrt(self.variance)
        return self.value - half, self.value + half


def mean_estimate(values: np.ndarray) -> Estimate:
    """The mean of per-user ``values`` and its variance ``s^2 / n``."""
    n = values.size
    if n == 0:
        return Estimate(None, None)
    mean = float(values.mean())
    return Estimate(mean, float(values.var(ddof=1)) / n if n > 1 else None)


def ratio_estimate(numerators: np.ndarray, denominators: np.ndarray) -> Estimate:
    """``sum(numerators) / sum(denominators)`` over users (e.g. clicks per impression) and its
    delta-method variance ``var(y - R x) / (n * mean(x)^2)``, which accounts for the events of
    one user being correlated."""
    n = numerators.size
    total = float(denominators.sum())
    if n == 0 or total == 0:
        return Estimate(None, None)
    ratio = float(numerators.sum()) / total
    if n < 2:
        return Estimate(ratio, None)
    residuals = numerators - ratio * denominators
    mean_x = total / n
    return Estimate(ratio, float(residuals.var(ddof=1)) / (n * mean_x**2))


@dataclass(frozen=True)
class Comparison:
    """A variant against control: difference, two-sided p-value and relative lift, with
    intervals (None where undefined)."""

    diff: float | None
    diff_ci: tuple[float | None, float | None]
    p_value: float | None
    lift: float | None
    lift_ci: tuple[float | None, float | None]


def compare(treatment: Estimate, control: Estimate, z: float) -> Comparison:
    """Independent samples: ``diff = t - c`` with variance ``var_t + var_c``; ``lift = t / c - 1``
    with the delta-method variance ``var_t / c^2 + t^2 var_c / c^4``."""
    t, c = treatment.value, control.value
    if t is None or c is None:
        return Comparison(None, (None, None), None, None, (None, None))
    diff = t - c
    lift = diff / c if c != 0 else None
    if treatment.variance is None or control.variance is None:
        return Comparison(diff, (None, None), None, lift, (None, None))
    diff_var = treatment.variance + control.variance
    diff_ci = Estimate(diff, diff_var).interval(z)
    se = math.sqrt(diff_var)
    p_value = float(2 * stats.norm.sf(abs(diff) / se)) if se > 0 else None
    lift_ci: tuple[float | None, float | None] = (None, None)
    if lift is not None:
        lift_var = treatment.variance / c**2 + t**2 * control.variance / c**4
        lift_ci = Estimate(lift, lift_var).interval(z)
    return Comparison(diff, diff_ci, p_value, lift, lift_ci)


@dataclass(frozen=True)
class SampleRatio:
    """Chi-square goodness of fit of assigned users to the traffic shares."""

    observed: dict[str, int]
    expected: dict[str, float]
    chi2: float | None
    p_value: float | None
    mismatch: bool
    threshold: float


def sample_ratio(
    observed: Mapping[str, int], shares: Mapping[str, float], threshold: float = SRM_THRESHOLD
) -> SampleRatio:
    """Whether the users per variant (``observed``) fit ``shares``: flagged when the
    chi-square p-value is below ``threshold``; not tested without users."""
    names = list(shares)
    counts = np.array([observed.get(name, 0) for name in names], dtype=float)
    weights = np.array([shares[name] for name in names], dtype=float)
    expected = counts.sum() * weights / weights.sum()
    observed_out = {name: int(count) for name, count in zip(names, counts, strict=True)}
    expected_out = {name: float(e) for name, e in zip(names, expected, strict=True)}
    if counts.sum() == 0:
        return SampleRatio(observed_out, expected_out, None, None, False, threshold)
    chi2, p_value = stats.chisquare(counts, expected)
    return SampleRatio(
        observed_out,
        expected_out,
        float(chi2),
        float(p_value),
        bool(p_value < threshold),
        threshold,
    )
