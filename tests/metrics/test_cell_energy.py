"""Pooling a sweep cell's energy over its runs, from hand-made samples with known power,
each run's energy in the form the store keeps (its summary's energy document).

The turns (tests/metrics/test_signals.py) decode over [2 s, 4 s] (4 decode steps) and
[6 s, 8 s] (2 steps). With 1 W over the idle window [0, 1 s] and 3 W from 2 s on, the net
decode energies are (3 − 1) × 2 J: 1 J/tok and 2 J/tok (raw: 1.5 and 3).
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.metrics.test_signals import TURNS

from melt.metrics.cell_energy import cell_energy
from melt.metrics.signals import PowerSource, run_signal_metrics
from melt.traces.sample import Provenance, Sample

S = 1_000_000_000
RAPL = PowerSource("rapl", Provenance.MEASURED, "measured by rapl")
MODEL = PowerSource("cpu_power_model", Provenance.ESTIMATED, "ESTIMATED: model")


def _energy(source: PowerSource, watts: float, idle: bool = False) -> dict[str, Any]:
    samples = [
        Sample(t * S, source.probe, "power", 1.0 if idle and t <= 1 else watts, "W",
               source.provenance)
        for t in range(11)
    ]  # fmt: skip
    energy = run_signal_metrics(samples, TURNS, power=source, idle=(0, S) if idle else None)
    assert energy.energy is not None
    return energy.energy.as_dict()


def test_runs_of_one_source_are_pooled_turn_by_turn() -> None:
    (pooled,) = cell_energy([_energy(RAPL, 2.0), None, _energy(RAPL, 4.0)])
    assert pooled.runs == 2 and not pooled.baseline_subtracted
    # J/tok: 2 W → 1, 2; 4 W → 2, 4
    assert pooled.j_per_generated_token.n == 4
    assert pooled.j_per_generated_token.median == pytest.approx(2.0)
    assert pooled.j_per_generated_token.mean == pytest.approx(2.25)
    assert pooled.decode_power_w.median == pytest.approx(3.0)


def test_sources_and_baselines_are_never_pooled_together() -> None:
    found = cell_energy([_energy(RAPL, 3.0), _energy(MODEL, 3.0), _energy(RAPL, 3.0, idle=True)])
    assert [(e.source.probe, e.baseline_subtracted, e.runs) for e in found] == [
        ("rapl", False, 1),
        ("cpu_power_model", False, 1),
        ("rapl", True, 1),
    ]
    raw, _, net = found
    assert raw.j_per_generated_token.median == pytest.approx((1.5 + 3.0) / 2)
    assert net.j_per_generated_token.median == pytest.approx((1.0 + 2.0) / 2)
    assert net.decode_power_w.median == pytest.approx(3.0)  # decode power stays raw
    assert cell_energy([None, None]) == ()
