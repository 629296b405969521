import math

from melt.metrics.stats import aggregate


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
