"""MELT's energy semantics, reproduced exactly, next to melt's one integration."""

import math

import pytest

from melt.metrics.energy import EnergyMode, WindowEnergy, window_energy
from melt.metrics.melt_compat import melt_compat_energy

S = 1_000_000_000


def test_the_issue_example_gives_melts_published_figures() -> None:
    e = melt_compat_energy([0.0, 1.0, 2.0], [1000.0] * 3, [4.0] * 3, start_s=-0.5, end_s=2.5)
    assert round(e.energy_mwh, 4) == 2.2222
    assert round(e.charge_mah, 4) == 0.5556
    assert e.energy_mwh == pytest.approx(8000 / 3600)
    assert (e.samples, e.duration_s, e.mode) == (3, 2.0, EnergyMode.MELT_COMPAT)


def test_samples_on_the_window_edges_are_left_out() -> None:
    e = melt_compat_energy([0.0, 1.0, 2.0], [1000.0] * 3, [4.0] * 3, start_s=0.0, end_s=2.0)
    assert e.samples == 1
    assert e.energy_mwh == 0.0  # one sample inside: its interval is the first, so 0


def test_each_sample_holds_its_power_over_the_gap_before_it() -> None:
    # powers 4, 8, 12 W at 0, 1, 3 s: MELT = 8 × 1 + 12 × 2 = 32 W·s; trapezoid = 6 + 20 = 26
    t, i, v = [0.0, 1.0, 3.0], [1000.0, 2000.0, 3000.0], [4.0, 4.0, 4.0]
    compat = melt_compat_energy(t, i, v)
    power = [(round(ts * S), a * b / 1000) for ts, a, b in zip(t, i, v, strict=True)]
    current = [(round(ts * S), a / 1000) for ts, a in zip(t, i, strict=True)]
    trap = window_energy(power, 0, 3 * S, current_a=current)
    assert trap is not None and isinstance(compat, WindowEnergy)  # one shape, J inside
    assert compat.energy_mwh == pytest.approx(32000 / 3600)
    assert compat.charge_mah == pytest.approx(8000 / 3600)
    assert trap.energy_mwh == pytest.approx(26000 / 3600)
    assert trap.charge_mah == pytest.approx(6500 / 3600)
    assert trap.mode == EnergyMode.TRAPEZOID


def test_an_empty_window_is_zero_with_no_samples() -> None:
    compat = melt_compat_energy([0.0, 1.0], [1.0, 1.0], [1.0, 1.0], start_s=5, end_s=6)
    assert (compat.samples, compat.energy_mwh) == (0, 0)
    assert not math.isnan(compat.charge_mah or 0.0)
    # melt's integration has no figure for a window its samples do not reach
    assert window_energy([(0, 1.0), (S, 1.0)], 5 * S, 6 * S) is None
