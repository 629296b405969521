"""The device-signal parts of the reports, from hand-made signals in the form the store
keeps them (each run's `RunSignals.as_dict()`, through JSON)."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from tests.metrics.test_signals import TURNS

from melt.execution.monitor_signals import RunSignals
from melt.metrics.signals import PowerSource, run_signal_metrics
from melt.probes.sampler import SamplerStats
from melt.report.signals import runs_signals_table, signals_parts
from melt.traces.sample import Provenance, Sample

S = 1_000_000_000
ESTIMATED = PowerSource("cpu_power_model", Provenance.ESTIMATED, "ESTIMATED: model")


def _stored(signals: RunSignals) -> dict[str, Any]:
    return json.loads(json.dumps(signals.as_dict()))


def _signals(with_power: bool) -> dict[str, Any]:
    samples = [Sample(t * S, "cpu", "cpu", 50.0, "%") for t in range(11)]
    if with_power:
        samples += [
            Sample(t * S, "cpu_power_model", "power", 7.0, "W", Provenance.ESTIMATED)
            for t in range(11)
        ]
    metrics = run_signal_metrics(samples, TURNS, power=ESTIMATED if with_power else None)
    stats = SamplerStats(10.0, 0, 0, 10 * S, 101, 0, len(samples), 0.05)
    return _stored(
        RunSignals(stats, (), {}, None if with_power else "no sensor: x", "no zones", {}, metrics)
    )


def _text(renderables: list) -> str:
    console = Console(width=200, record=True)
    for r in renderables:
        console.print(r)
    return console.export_text()


def test_no_energy_column_and_one_line_reasons_without_a_power_source() -> None:
    text = _text([runs_signals_table([(1, "m", _signals(False))])])
    assert "decode J/tok" not in text and "max °C" not in text
    single = _text(signals_parts(_signals(False), 1))
    assert "energy: unavailable (no sensor: x)" in single
    assert "temperature: unavailable (no zones)" in single


def test_estimated_energy_is_labelled_on_every_row() -> None:
    text = _text([runs_signals_table([(1, "m", _signals(True))])])
    assert "decode J/tok" in text and "ESTIMATED" in text
    single = _text(signals_parts(_signals(True), 1))
    energy_rows = [line for line in single.splitlines() if "J/tok" in line or " W " in line]
    assert energy_rows and all("ESTIMATED" in line for line in energy_rows)
    assert "energy: unavailable" not in single


def test_throttling_line_names_rule_core_onset_and_evidence() -> None:
    samples = [Sample(t * S, "cpu", "cpu0", 100.0, "%") for t in range(7)]
    samples += [
        Sample(t * S, "cpufreq", "cpu0", 2400.0 if t < 4 else 1200.0, "MHz") for t in range(7)
    ]
    metrics = run_signal_metrics(samples, [])
    stats = SamplerStats(10.0, 0, 0, 6 * S, 61, 0, len(samples), 0.01)
    text = _text(signals_parts(_stored(RunSignals(stats, (), {}, "x", "y", {}, metrics)), 1))
    assert "throttling: DETECTED by frequency rule cpu0 from 4.0 s (plateau 2400.0" in text


def test_a_run_stored_before_interference_was_judged_says_not_recorded() -> None:
    old = {k: v for k, v in _signals(False).items() if k != "interference"}
    assert "interference: not recorded" in _text(signals_parts(old, 1))
    assert "interference: not judged (no measured turns)" in _text(
        signals_parts({**old, "interference": None}, 1)
    )
