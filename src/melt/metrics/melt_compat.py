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

melt's own integration is `metrics.energy.window_energy` (trapezoid over the exact window, its
edges interpolated); over the samples' span (0–2 s) it also gives 8000 mW·s, and the two
differ when power changes inside the window or a window edge falls between samples. Both return a
`metrics.energy.WindowEnergy` (J, with its `mode`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from melt.metrics.energy import EnergyMode, WindowEnergy

MW_PER_W = 1000.0
MA_PER_A = 1000.0


def melt_compat_energy(
    t_s: Sequence[float],
    current_ma: Sequence[float],
    voltage_v: Sequence[float],
    start_s: float = float("-inf"),
    end_s: float = float("inf"),
) -> WindowEnergy:
    """MELT's energy and charge over the samples strictly inside (start_s, end_s)."""
    t = np.asarray(t_s, dtype=float)
    mask = (t > start_s) & (t < end_s)
    current = np.asarray(current_ma, dtype=float)[mask]
    power_mw = current * np.asarray(voltage_v, dtype=float)[mask]
    t = t[mask]
    dt = np.diff(t, prepend=t[0]) if t.size else t
    duration = float(t[-1] - t[0]) if t.size else 0.0
    energy_j = float(np.sum(power_mw * dt)) / MW_PER_W
    return WindowEnergy(
        duration_s=duration,
        energy_j=energy_j,
        avg_power_w=energy_j / duration if duration > 0 else None,
        charge_c=float(np.sum(current * dt)) / MA_PER_A,
        samples=int(t.size),
        mode=EnergyMode.MELT_COMPAT,
    )
