import itertools
import math

import numpy as np
import pytest

from melt.metrics.stats import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    aggregate,
    coefficient_of_variation,
    mann_whitney_u,
    median_difference,
    rate_aggregate,
    tukey_outliers,
)


def test_known_values() -> None:
    agg = aggregate([5.0, 1.0, 4.0, 2.0, 3.0])
    assert agg.n == 5
    assert agg.median == 3.0
    assert agg.mean == 3.0
    assert abs(agg.p90 - 4.6) < 1e-12  # linear interpolation: 4 + 0.6 × (5 − 4)
    assert 1.0 <= agg.ci_low <= agg.median <= agg.ci_high <= 5.0


def test_bootstrap_is_deterministic_and_narrows_with_more_data() -> None:
    small = aggregate([10.0, 12.0, 11.0, 13.0])
    assert small == aggregate([10.0, 12.0, 11.0, 13.0])
    large = aggregate([10.0, 12.0, 11.0, 13.0] * 25)
    assert (large.ci_high - large.ci_low) < (small.ci_high - small.ci_low)


@pytest.mark.parametrize("n", [2, 3, 4, 7, 10, 41])
def test_the_bootstrap_ci_is_the_textbook_one_exactly(n: int) -> None:
    """The CI equals the plain percentile bootstrap (np.median of each resample), bit for bit:
    the faster median changes no figure."""
    data = np.random.default_rng(n).normal(50, 10, n).round(1)  # rounding makes ties
    draws = np.random.default_rng(BOOTSTRAP_SEED).choice(data, (BOOTSTRAP_RESAMPLES, n))
    low, high = np.percentile(np.median(draws, axis=1), [2.5, 97.5])
    agg = aggregate(list(data))
    assert (agg.ci_low, agg.ci_high) == (float(low), float(high))


def test_missing_values_are_dropped_and_counted_out() -> None:
    agg = aggregate([None, 2.0, float("nan"), 4.0])
    assert agg.n == 2
    assert agg.median == 3.0


def test_empty_and_single() -> None:
    assert aggregate([]).n == 0
    assert math.isnan(aggregate([]).median)
    assert aggregate([]).as_dict()["median"] is None
    one = aggregate([7.0])
    assert (one.ci_low, one.median, one.ci_high) == (7.0, 7.0, 7.0)


def test_coefficient_of_variation_known_values() -> None:
    assert coefficient_of_variation([1.0, 2.0, 3.0]) == 0.5  # sd (n − 1) 1 over mean 2
    assert math.isnan(coefficient_of_variation([4.0]))
    assert math.isnan(coefficient_of_variation([-1.0, 1.0]))


def test_tukey_flags_with_its_rule_and_keeps_indices_of_the_input() -> None:
    found = tukey_outliers([1.0, 2.0, None, 3.0, 4.0, 100.0])
    # quartiles of 1..4,100 are 2 and 4: fences 2 − 3 = −1 and 4 + 3 = 7
    assert (found.low_fence, found.high_fence) == (-1.0, 7.0)
    assert found.indices == (5,) and found.values == (100.0,)
    assert found.rule == "Tukey 1.5×IQR"
    assert tukey_outliers([1.0, 2.0, 3.0, 4.0, 5.0]).indices == ()


def test_rates_pooled_and_per_turn_differ_as_defined() -> None:
    agg = rate_aggregate([10.0, 30.0], [1.0, 2.0])
    assert agg.pooled == 40.0 / 3.0  # total tokens / total seconds
    assert agg.per_turn.median == 12.5  # median of 10 and 15 tok/s
    assert rate_aggregate([5.0], [None]).per_turn.n == 0


def _brute_force_p(a: list[float], b: list[float]) -> float:
    """Two-sided exact p by enumerating every split of the pooled values."""
    pooled = a + b
    observed = mann_whitney_u(a, b).u
    big = max(observed, len(a) * len(b) - observed)
    count = total = 0
    for chosen in itertools.combinations(range(len(pooled)), len(a)):
        x = [pooled[i] for i in chosen]
        y = [pooled[i] for i in range(len(pooled)) if i not in chosen]
        u = sum((xi > yi) + 0.5 * (xi == yi) for xi in x for yi in y)
        total += 1
        count += max(u, len(a) * len(b) - u) >= big
    return count / total  # the max() already counts both tails


def test_mann_whitney_scipy_documentation_example() -> None:
    # scipy.stats.mannwhitneyu docs (Conover): U = 17, exact two-sided p = 0.1111
    result = mann_whitney_u([19, 22, 16, 29, 24], [20, 11, 17, 12])
    assert result.u == 17.0 and result.method == "exact"
    assert abs(result.p_value - 1 / 9) < 1e-12


def test_mann_whitney_exact_matches_enumeration() -> None:
    a, b = [1.1, 3.2, 5.0, 7.5], [2.0, 4.4, 6.1, 8.3, 9.9, 0.5]
    result = mann_whitney_u(a, b)
    assert result.method == "exact"
    assert abs(result.p_value - _brute_force_p(a, b)) < 1e-12


def test_mann_whitney_normal_approximation_with_ties_by_hand() -> None:
    a, b = [1.0, 2.0, 2.0, 3.0] * 3, [2.0, 3.0, 4.0, 4.0] * 3  # 12 and 12, with ties
    result = mann_whitney_u(a, b)
    assert result.method == "normal"
    # by hand, U1 = pairs with a > b plus half the ties: the six 2.0s tie three b's (6 × 1.5)
    # and the three 3.0s beat three b's and tie three (3 × 4.5): 22.5. Tie groups of sizes
    # 3 (1.0), 9 (2.0), 6 (3.0), 6 (4.0)
    assert result.u == 22.5
    n = 24
    ties = sum(t**3 - t for t in (3, 9, 6, 6)) / (n * (n - 1))
    sigma = math.sqrt(12 * 12 / 12 * (n + 1 - ties))
    z = (144 - 22.5 - 72 - 0.5) / sigma  # the larger U, centred, continuity-corrected
    assert abs(result.p_value - math.erfc(z / math.sqrt(2))) < 1e-12


def test_median_difference_of_constant_samples_is_exact() -> None:
    d = median_difference([10.0, 10.0, 10.0], [12.0, 12.0])
    assert (d.diff, d.pct_change, d.ci_low, d.ci_high) == (2.0, 20.0, 2.0, 2.0)
    assert d.ci_excludes_zero


def test_median_difference_is_seeded_and_covers_the_observed_difference() -> None:
    base, cand = [10.0, 11.0, 12.0, 9.0, 10.5], [10.2, 11.5, 9.8, 10.9, 10.1]
    first, again = median_difference(base, cand), median_difference(base, cand)
    assert first == again
    assert first.ci_low <= first.diff <= first.ci_high
    assert not first.ci_excludes_zero
