"""The NVML probe's utilisation, memory and energy counter, through the `pynvml` module (the
API boundary tests/probes/test_nvml.py also uses: no NVIDIA GPU here, so the module is a
stand-in GPU that answers as NVML's Python binding does), and the counter winning over
integrated power in the run's energy."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from types import ModuleType, SimpleNamespace

import pytest

from melt.execution.monitor import BenchMonitor
from melt.execution.monitor_settings import ProbeSettings
from melt.metrics.energy import TurnWindows
from melt.metrics.signals import MeasuredTurnWindow, run_signal_metrics
from melt.probes import make_probe
from melt.traces.sample import Sample

S = 1_000_000_000


class NVMLError(Exception):
    pass


@dataclass
class Gpu:
    """One stand-in GPU: what NVML would report now. `energy_mj` None: a pre-Volta GPU."""

    power_mw: int = 50_000
    energy_mj: int | None = 1_000_000
    util: int = 87
    mem_util: int = 42
    mem_used: int = 3_221_225_472


def stand_in_pynvml(gpus: list[Gpu]) -> ModuleType:
    """A module with the pynvml calls the probe makes, answering from `gpus`."""
    m = ModuleType("pynvml")
    m.NVMLError = NVMLError  # type: ignore[attr-defined]
    m.NVML_TEMPERATURE_GPU = 0  # type: ignore[attr-defined]
    m.NVML_CLOCK_SM = 1  # type: ignore[attr-defined]

    def energy(h: int) -> int:
        if gpus[h].energy_mj is None:
            raise NVMLError("Not Supported")
        return gpus[h].energy_mj  # type: ignore[return-value]

    calls = {
        "nvmlInit": lambda: None,
        "nvmlDeviceGetCount": lambda: len(gpus),
        "nvmlDeviceGetHandleByIndex": lambda i: i,
        "nvmlDeviceGetName": lambda h: f"Stand-in GPU {h}",
        "nvmlDeviceGetPowerUsage": lambda h: gpus[h].power_mw,
        "nvmlDeviceGetTemperature": lambda h, sensor: 61,
        "nvmlDeviceGetClockInfo": lambda h, clock: 1410,
        "nvmlDeviceGetUtilizationRates": lambda h: SimpleNamespace(
            gpu=gpus[h].util, memory=gpus[h].mem_util
        ),
        "nvmlDeviceGetMemoryInfo": lambda h: SimpleNamespace(used=gpus[h].mem_used),
        "nvmlDeviceGetTotalEnergyConsumption": energy,
    }
    for name, call in calls.items():
        setattr(m, name, call)
    return m


def _probe(monkeypatch: pytest.MonkeyPatch, tmp_path, gpus: list[Gpu]):  # type: ignore[no-untyped-def]
    monkeypatch.setitem(sys.modules, "pynvml", stand_in_pynvml(gpus))
    probe = make_probe("nvml", tmp_path)
    assert probe.available().ok
    return probe


def test_utilisation_memory_and_the_energy_counter_per_gpu(monkeypatch, tmp_path) -> None:
    gpus = [Gpu(), Gpu(power_mw=30_000, energy_mj=500_000, util=10)]
    probe = _probe(monkeypatch, tmp_path, gpus)
    got = {s.channel: (s.value, s.unit) for s in probe.read(0)}
    assert got["util:gpu0"] == (87.0, "%") and got["util:gpu1"] == (10.0, "%")
    assert got["mem_util:gpu0"] == (42.0, "%")
    assert got["mem_used:gpu0"] == (3_221_225_472.0, "bytes")
    assert got["energy:gpu0"] == (1000.0, "J")
    assert got["energy"] == (1500.0, "J")
    assert got["power"] == (80.0, "W")  # board power kept
    info = probe.info()
    assert info.facts["energy_channel"] == "energy"
    assert "nvmlDeviceGetTotalEnergyConsumption" in info.source


def test_a_gpu_without_the_counter_keeps_power_and_says_why(monkeypatch, tmp_path) -> None:
    probe = _probe(monkeypatch, tmp_path, [Gpu(), Gpu(energy_mj=None)])
    channels = {s.channel for s in probe.read(0)}
    assert "energy" not in channels and "energy:gpu0" not in channels
    assert {"power", "power:gpu1", "util:gpu1"} <= channels
    facts = probe.info().facts
    assert "energy_channel" not in facts
    assert facts["energy_counter"].startswith("unavailable: gpu1")
    assert "Not Supported" in facts["energy_counter"]


def test_the_energy_counter_beats_integrating_polled_power(monkeypatch, tmp_path) -> None:
    """The GPU draws 50 W at every poll but bursts to 80 W on average between polls: the
    counter saw every joule, the polled power only its instants."""
    gpu = Gpu()
    probe = _probe(monkeypatch, tmp_path, [gpu])
    samples: list[Sample] = []
    for second in range(11):
        gpu.energy_mj = 1_000_000 + 80_000 * second
        samples += probe.read(second * S)
    source = BenchMonitor(ProbeSettings(), probes=(probe,))._power_source()
    assert source is not None and source.energy_channel == "energy"
    windows = TurnWindows(S, None, None, 2 * S, 8 * S, 9 * S, 10, 7)
    turn = MeasuredTurnWindow(0, windows, 1.0)
    energy = run_signal_metrics(samples, [turn], power=source).energy
    assert energy is not None and energy.run is not None
    assert energy.run.energy_j == pytest.approx(8 * 80.0)  # not 8 × 50 W integrated
    assert str(energy.run.mode) == "counter-delta"
    assert energy.as_dict()["integration"] == "counter-delta"
    decode = energy.turns[0].decode
    assert decode is not None and decode.energy_j == pytest.approx(6 * 80.0)
    assert "nvmlDeviceGetTotalEnergyConsumption" in source.description


def test_without_the_counter_the_power_is_integrated(monkeypatch, tmp_path) -> None:
    gpu = Gpu(energy_mj=None)
    probe = _probe(monkeypatch, tmp_path, [gpu])
    samples = [s for second in range(11) for s in probe.read(second * S)]
    source = BenchMonitor(ProbeSettings(), probes=(probe,))._power_source()
    assert source is not None and source.energy_channel is None
    windows = TurnWindows(S, None, None, 2 * S, 8 * S, 9 * S, 10, 7)
    energy = run_signal_metrics(samples, [MeasuredTurnWindow(0, windows, 1.0)], power=source).energy
    assert energy is not None and energy.run is not None
    assert energy.run.energy_j == pytest.approx(8 * 50.0)
    assert energy.as_dict()["integration"] == "trapezoid"
