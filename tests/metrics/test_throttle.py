from __future__ import annotations

import pytest

from melt.metrics.throttle import decode_rate_throttling, frequency_throttling, nearest_rank

S = 1_000_000_000


def test_nearest_rank_plateau() -> None:
    assert nearest_rank([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9) == 9
    assert nearest_rank([5.0], 0.9) == 5.0


def test_frequency_below_plateau_for_long_enough() -> None:
    # 10 samples at 0.5 s: 2400 MHz, then 1800 MHz from 2.0 s to 4.0 s, then 2400 again
    mhz = [2400, 2400, 2400, 2400, 1800, 1800, 1800, 1800, 2400, 2400]
    points = [(i * S // 2, float(v)) for i, v in enumerate(mhz)]
    finding = frequency_throttling(points, drop_fraction=0.10, min_duration_s=1.0)
    assert finding.throttled
    assert finding.onset_s == 2.0
    assert finding.evidence["plateau"] == 2400
    assert finding.evidence["limit"] == pytest.approx(2160)
    assert finding.evidence["spans_below_limit"] == [
        {"start_s": 2.0, "min": 1800.0, "duration_s": 2.0}
    ]


def test_short_dips_and_flat_frequency_are_not_throttling() -> None:
    dip = [(0, 2400.0), (S // 2, 1800.0), (S, 2400.0), (2 * S, 2400.0)]
    assert not frequency_throttling(dip, min_duration_s=1.0).throttled
    flat = [(i * S, 2596.14) for i in range(5)]
    finding = frequency_throttling(flat)
    assert not finding.throttled and finding.onset_s is None


def test_decode_rate_drop_while_temperature_rose() -> None:
    rates = [(i * 10 * S, r) for i, r in enumerate([30.0, 30.0, 29.0, 25.0, 24.0, 24.0])]
    temps = [(0, 40.0), (50 * S, 47.0)]
    finding = decode_rate_throttling(rates, temps, drop_fraction=0.15, min_rise_c=2.0)
    assert finding is not None and finding.throttled
    # early median of (30, 30) = 30, late median of (24, 24) = 24: drop 0.2
    assert finding.evidence["drop_fraction"] == pytest.approx(0.2)
    assert finding.evidence["temperature_rise_c"] == pytest.approx(7.0)
    # the first turn below 30 × 0.85 = 25.5 tok/s is at 30 s
    assert finding.onset_s == 30.0


def test_decode_rate_drop_without_heat_or_temperature_is_not_throttling() -> None:
    rates = [(i * S, r) for i, r in enumerate([30.0, 30.0, 29.0, 25.0, 24.0, 24.0])]
    cool = decode_rate_throttling(rates, [(0, 40.0), (5 * S, 40.5)])
    assert cool is not None and not cool.throttled
    blind = decode_rate_throttling(rates, None)
    assert blind is not None and not blind.throttled
    assert blind.evidence["temperature_rise_c"] is None
    assert decode_rate_throttling(rates[:2], None) is None
