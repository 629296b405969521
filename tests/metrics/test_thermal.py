from __future__ import annotations

import pytest

from melt.metrics.thermal import time_above_s, zone_thermal

S = 1_000_000_000
TEMPS = ((0, 36.0), (2 * S, 40.0), (4 * S, 44.0), (6 * S, 38.0))


def test_max_rise_and_time_above_with_interpolated_crossings() -> None:
    z = zone_thermal(TEMPS, threshold_c=39.0)
    assert (z.start_c, z.max_c, z.rise_c) == (36.0, 44.0, 8.0)
    # up-crossing of 39 °C at 1.5 s (36→40 over 2 s); down-crossing at 4 + 2×5/6 s
    assert z.time_above_s == pytest.approx((4 + 2 * 5 / 6) - 1.5)


def test_rise_from_idle_baseline() -> None:
    assert zone_thermal(TEMPS, baseline_c=35.0).rise_c == 9.0


def test_never_above_and_always_above() -> None:
    assert time_above_s(TEMPS, 50.0) == 0.0
    assert time_above_s(TEMPS, 30.0) == pytest.approx(6.0)
    with pytest.raises(ValueError):
        zone_thermal(())
