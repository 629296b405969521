"""Energy of a window of power samples, in MELT's way and in melt's way.

MELT (arXiv 2403.12844) integrates its Monsoon and Jetson captures as follows, and
`melt_compat_energy` reproduces it exactly so imported figures match MELT's published ones:

* power of each sample = current × voltage (mA × V = mW);
* only samples strictly inside the window, ``start < t < end``, take part;
* energy = Σ pᵢ × (tᵢ − tᵢ₋₁) over those samples, where the first sample's interval is 0
  (a left-open rectangle rule: each sample's power is held over the gap *before* it);
* charge = Σ Iᵢ × (tᵢ − tᵢ₋₁) the same way; mW·s / 3600 = mWh, mA·s / 3600 = mAh.

Worked example (the one the issue gives): samples at t = 0, 1, 2 s, each 1000 mA at 4 V,
inside the window (−0.5 s, 2.5 s). Powers are 4000 mW each; intervals are 0, 1, 1 s;
energy = 4000 × 0 + 4000 × 1 + 4000 × 1 = 8000 mW·s = 8000 / 3600 = 2.2222 mWh;
charge = 1000 × 2 = 2000 mA·s = 0.5556 mAh.

`trapezoid_energy` is melt's own definition (DESIGN.md: trapezoid over the same samples);
on that example it also gives 8000 mW·s, and they differ when power changes inside the window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

S_PER_HOUR = 3600.0


class EnergyMode(StrEnum):
    """Which integration produced an energy figure (stored with every figure)."""

    TRAPEZOID = "trapezoid"
    MELT_COMPAT = "melt-compat"


@dataclass(frozen=True, slots=True)
class WindowEnergy:
    """Energy (mWh) and, when currents are known, charge (mAh) over a window of samples."""

    mode: EnergyMode
    energy_mwh: float
    charge_mah: float | None
    samples: int
    duration_s: float


def _inside(t_s: Sequence[float], start_s: float, end_s: float) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(t_s, dtype=float)
    mask = (t > start_s) & (t < end_s)
    return t, mask


def melt_compat_energy(
    t_s: Sequence[float],
    current_ma: Sequence[float],
    voltage_v: Sequence[float],
    start_s: float = float("-inf"),
    end_s: float = float("inf"),
) -> WindowEnergy:
    """MELT's energy and charge over the samples strictly inside (start_s, end_s)."""
    t, mask = _inside(t_s, start_s, end_s)
    current = np.asarray(current_ma, dtype=float)[mask]
    power_mw = current * np.asarray(voltage_v, dtype=float)[mask]
    t = t[mask]
    dt = np.diff(t, prepend=t[0]) if t.size else t
    return WindowEnergy(
        mode=EnergyMode.MELT_COMPAT,
        energy_mwh=float(np.sum(power_mw * dt)) / S_PER_HOUR,
        charge_mah=float(np.sum(current * dt)) / S_PER_HOUR,
        samples=int(t.size),
        duration_s=float(t[-1] - t[0]) if t.size else 0.0,
    )


def trapezoid_energy(
    t_s: Sequence[float],
    power_mw: Sequence[float],
    start_s: float = float("-inf"),
    end_s: float = float("inf"),
    current_ma: Sequence[float] | None = None,
) -> WindowEnergy:
    """melt's trapezoid integral of power (and of current, when given) over the same
    samples strictly inside (start_s, end_s)."""
    t, mask = _inside(t_s, start_s, end_s)
    t = t[mask]
    power = np.asarray(power_mw, dtype=float)[mask]
    charge = None
    if current_ma is not None:
        charge = float(np.trapezoid(np.asarray(current_ma, dtype=float)[mask], t)) / S_PER_HOUR
    return WindowEnergy(
        mode=EnergyMode.TRAPEZOID,
        energy_mwh=float(np.trapezoid(power, t)) / S_PER_HOUR if t.size else 0.0,
        charge_mah=charge,
        samples=int(t.size),
        duration_s=float(t[-1] - t[0]) if t.size else 0.0,
    )
