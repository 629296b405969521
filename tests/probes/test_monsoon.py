"""The Monsoon probe against `FakeHvpmDevice`, a protocol-level stand-in for the hardware
(tests/fixtures/monsoon/fake_hvpm.py) under the monsoon package's real `pmapi` code."""

from __future__ import annotations

import importlib.abc
import sys
import threading
import time
from collections.abc import Iterator
from itertools import pairwise

import pytest
from Monsoon import sampleEngine
from tests.fixtures.monsoon.fake_hvpm import (
    VOLTS_PER_COUNT,
    Calibration,
    Dropped,
    FakeHvpmDevice,
    FakeUsbProtocol,
    HvpmScript,
    Segment,
)

from melt.errors import MeltError
from melt.metrics.energy import integrate
from melt.probes import make_probe
from melt.probes.monsoon import INSTALL_HINT, TICK_NS, MonsoonProbe, MonsoonSettings
from melt.probes.sampler import Sampler
from melt.traces.sample import Provenance, Sample

SERIAL = 20433
CAL = Calibration()
STARTUP_TICKS = 10  # 5 ZeroCal + 5 RefCal readings before the first measurement


def connected(
    script: HvpmScript, rate_hz: float = 5000, vout_v: float = 4.2
) -> tuple[MonsoonProbe, FakeHvpmDevice]:
    device = FakeHvpmDevice(SERIAL, script)
    probe = MonsoonProbe(
        settings=MonsoonSettings(vout_v=vout_v, serial=SERIAL, rate_hz=rate_hz),
        protocol_factory=lambda: FakeUsbProtocol(device),
    )
    availability = probe.available()
    assert availability.ok, availability.reason
    return probe, device


def run_to_end(probe: MonsoonProbe, device: FakeHvpmDevice) -> list[Sample]:
    """Sample until the fake has sent its last packet, then stop and drain."""
    probe.start()
    assert device.drained.wait(10), "the probe did not read the whole stream"
    probe.stop()
    return probe.read(0)


def channel(samples: list[Sample], name: str) -> list[Sample]:
    return [s for s in samples if s.channel == name]


def test_constant_current_and_voltage_give_v_times_i_within_adc_resolution() -> None:
    amps, volts = 0.85, 4.2
    probe, device = connected(HvpmScript([Segment(3000, amps, volts)], cal_every=1000))
    assert device.vout_v == pytest.approx(4.2, abs=1e-6)  # set explicitly on connect
    samples = run_to_end(probe, device)
    power = channel(samples, "power")
    assert len(power) == 3000
    assert {s.unit for s in power} == {"W"}
    assert all(s.provenance is Provenance.MEASURED for s in samples)
    amp_lsb = CAL.coarse_ma_per_count() / 1000  # 0.85 A is beyond the fine range
    tolerance = volts * amp_lsb / 2 + amps * VOLTS_PER_COUNT / 2
    assert all(abs(s.value - volts * amps) <= tolerance for s in power)
    assert all(abs(s.value - amps) <= amp_lsb / 2 for s in channel(samples, "current"))
    assert all(abs(s.value - volts) <= VOLTS_PER_COUNT / 2 for s in channel(samples, "voltage"))
    info = probe.info()
    assert info.unit == "W" and info.provenance is Provenance.MEASURED
    assert info.max_rate_hz == 5000
    assert info.facts["measurements"] == 3000
    assert info.facts["calibration_readings"] == STARTUP_TICKS + 2 * 2
    assert device.stop_requests >= 1 and not device.sampling


def test_small_currents_come_from_the_fine_range() -> None:
    probe, device = connected(HvpmScript([Segment(300, 0.0123, 3.9)]))
    current = channel(run_to_end(probe, device), "current")
    fine_lsb = CAL.fine_ma_per_count() / 1000
    assert fine_lsb < 2e-6  # µA steps, not the coarse range's ~0.2 mA
    assert all(abs(s.value - 0.0123) <= fine_lsb / 2 for s in current)


def test_a_step_lands_at_its_tick_on_the_monitor_clock() -> None:
    before, after = 1000, 1500
    probe, device = connected(
        HvpmScript([Segment(before, 0.3, 4.0), Segment(after, 1.2, 4.0)], cal_every=10_000)
    )
    samples = run_to_end(probe, device)
    anchor = probe.info().facts["anchor_ns"]
    current = channel(samples, "current")
    times = [s.t_ns for s in current]
    assert times == sorted(times)
    # N readings after the anchor are at N / 5000 s, whatever USB delivery did
    assert [(t - anchor) for t in times] == [(STARTUP_TICKS + i) * TICK_NS for i in range(2500)]
    first_high = next(s for s in current if s.value > 1.0)
    assert first_high.t_ns - anchor == (STARTUP_TICKS + before) * TICK_NS
    assert (first_high.t_ns - current[0].t_ns) / 1e9 == pytest.approx(before / 5000)


def test_dropped_samples_are_counted_and_leave_a_gap_in_time() -> None:
    probe, device = connected(
        HvpmScript(
            [
                Segment(600, 0.5, 4.0),
                Dropped(37),
                Segment(600, 0.5, 4.0),
                Dropped(5),
                Segment(3, 0.5, 4.0),
            ],
            cal_every=10_000,
        )
    )
    samples = run_to_end(probe, device)
    facts = probe.info().facts
    assert facts["dropped_samples"] == 42
    assert facts["ticks"] == STARTUP_TICKS + 1203 + 42
    times = [s.t_ns for s in channel(samples, "power")]
    gaps = [b - a for a, b in pairwise(times)]
    assert sorted(gaps)[-2:] == [6 * TICK_NS, 38 * TICK_NS]
    assert gaps.count(TICK_NS) == len(gaps) - 2


def test_the_counter_at_start_is_a_baseline_not_drops() -> None:
    probe, device = connected(HvpmScript([Segment(30, 0.5, 4.0)], startup_counter=0xFFFF))
    samples = run_to_end(probe, device)
    facts = probe.info().facts
    assert facts["dropped_samples"] == 0
    anchor = facts["anchor_ns"]
    assert channel(samples, "power")[0].t_ns - anchor == STARTUP_TICKS * TICK_NS


def test_calibration_readings_keep_their_ticks() -> None:
    probe, device = connected(HvpmScript([Segment(900, 0.5, 4.0)], cal_every=300))
    times = [s.t_ns for s in channel(run_to_end(probe, device), "power")]
    gaps = [b - a for a, b in pairwise(times)]
    assert gaps.count(3 * TICK_NS) == 2  # a ZeroCal + RefCal pair after 300 and 600 readings
    assert probe.info().facts["ticks"] == STARTUP_TICKS + 900 + 4


def test_energy_through_the_trapezoid_matches_the_hand_computed_value() -> None:
    # 0.25 s at 0.5 A then 0.25 s at 1.5 A, 4.0 V throughout, averaged in 5-tick blocks (1 kHz)
    probe, device = connected(
        HvpmScript([Segment(1250, 0.5, 4.0), Segment(1250, 1.5, 4.0)], cal_every=100_000),
        rate_hz=1000,
    )
    samples = run_to_end(probe, device)
    power = [(s.t_ns, s.value) for s in channel(samples, "power")]
    assert len(power) == 500
    anchor = probe.info().facts["anchor_ns"]
    # measurements are ticks 10..2509; a block of ticks 5b..5b+4 is stamped at its mean tick
    # 5b+2, so the last low block is stamped at tick 1257 and the first high one at 1262
    low_w = _quantized_volts(4.0) * _quantized_amps(0.5)
    high_w = _quantized_volts(4.0) * _quantized_amps(1.5)
    start, end = 500, 2000
    expected_j = (
        (low_w * (1257 - start) + (low_w + high_w) / 2 * (1262 - 1257) + high_w * (end - 1262))
        * TICK_NS
        / 1e9
    )
    window = integrate(power, anchor + start * TICK_NS, anchor + end * TICK_NS)
    assert window == pytest.approx(expected_j, rel=1e-9)
    assert expected_j == pytest.approx(2.0 * 0.1514 + 4.0 * 0.001 + 6.0 * 0.1476, rel=1e-3)


def _quantized_amps(amps: float) -> float:
    coarse, _ = CAL.main_counts(amps)
    zero = CAL.main_coarse_zero_offset + CAL.zero_coarse
    return (coarse - zero) * CAL.coarse_ma_per_count() / 1000


def _quantized_volts(volts: float) -> float:
    return round(volts / VOLTS_PER_COUNT) * VOLTS_PER_COUNT


def test_decoding_agrees_with_the_packages_own_sample_engine() -> None:
    ramp = [Segment(1, 0.002 + 0.0015 * i, 3.7 + 0.0005 * i) for i in range(1200)]
    script = HvpmScript(ramp, cal_every=250)
    probe, device = connected(script)
    ours = run_to_end(probe, device)
    our_ma = [s.value * 1000 for s in channel(ours, "current")]
    our_v = [s.value for s in channel(ours, "voltage")]

    reference = FakeHvpmDevice(SERIAL, script)
    protocol = FakeUsbProtocol(reference)
    from Monsoon import HVPM

    monsoon = HVPM.Monsoon()
    monsoon.setup_usb(SERIAL, protocol)
    engine = sampleEngine.SampleEngine(monsoon, errorMode=sampleEngine.ErrorHandlingModes.off)
    engine.ConsoleOutput(False)
    engine.startSampling(900)
    theirs = engine.getSamples()
    their_ma = theirs[sampleEngine.channels.MainCurrent]
    their_v = theirs[sampleEngine.channels.MainVoltage]
    n = len(their_ma)
    assert n > 800 and len(their_v) == n
    # the engine drops what arrives with its calibration; find its first reading in ours
    offset = min(range(len(our_ma)), key=lambda i: abs(our_ma[i] - their_ma[0]))
    assert offset < 10
    assert our_ma[offset : offset + n] == pytest.approx(their_ma, rel=1e-12)
    assert our_v[offset : offset + n] == pytest.approx(their_v, rel=1e-12)


def test_the_sampler_starts_stops_and_drains_the_stream() -> None:
    probe, device = connected(HvpmScript([Segment(2000, 0.6, 4.1)]))
    batches: list[list[Sample]] = []
    sampler = Sampler([probe], rate_hz=50, sink=batches.append)
    sampler.start()
    assert device.drained.wait(10)
    stats = sampler.stop()
    assert stats.read_errors == {}
    power = channel(sampler.samples, "power")
    assert len(power) == 2000
    assert [s for b in batches for s in b] == sampler.samples
    assert device.start_requests == [(1250, 0xFFFFFFFF)]
    assert not device.sampling


class StarvedReaderDevice(FakeHvpmDevice):
    """A paced monitor whose reader gets no CPU until `gate` is set: the packets the
    monitor measures meanwhile wait in USB's buffers, as behind a busy controller."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.gate = threading.Event()
        self.reader_waiting = threading.Event()

    def read(self, endpoint: int, size: int, timeout: int):  # type: ignore[no-untyped-def]
        if self.sampling and not self.gate.is_set():
            self.reader_waiting.set()
            self.gate.wait()
        return super().read(endpoint, size, timeout)


def test_stop_drains_what_a_lagging_reader_left_in_the_buffers() -> None:
    device = StarvedReaderDevice(SERIAL, HvpmScript([Segment(5000 * 5, 0.5, 4.0)]), paced=True)
    probe = MonsoonProbe(
        settings=MonsoonSettings(vout_v=4.0, serial=SERIAL, rate_hz=50),
        protocol_factory=lambda: FakeUsbProtocol(device),
    )
    assert probe.available().ok
    probe.start()
    assert device.reader_waiting.wait(10)
    time.sleep(0.4)  # the scenario, not synchronisation: the monitor measures 0.4 s unread
    device.gate.set()
    stop_ns = time.monotonic_ns()
    probe.stop()
    power = channel(probe.read(0), "power")
    # everything up to the stop request is decoded (one 20 ms output interval of slack),
    # not only what the starved reader had taken when it was told to stop
    assert power[-1].t_ns >= stop_ns - 2 * 100 * TICK_NS
    assert power[-1].t_ns - power[0].t_ns > 0.35e9
    assert not device.sampling


def test_each_run_restarts_the_stream_on_a_new_anchor() -> None:
    probe, device = connected(HvpmScript([Segment(500, 0.7, 4.0)]))
    first = run_to_end(probe, device)
    first_anchor = probe.info().facts["anchor_ns"]
    second = run_to_end(probe, device)
    facts = probe.info().facts
    assert facts["anchor_ns"] > first_anchor
    assert len(channel(first, "power")) == len(channel(second, "power")) == 500
    assert facts["measurements"] == 500  # counted per run, not accumulated
    assert channel(second, "power")[0].t_ns == facts["anchor_ns"] + STARTUP_TICKS * TICK_NS
    assert len(device.start_requests) == 2


class _RefuseMonsoon(importlib.abc.MetaPathFinder):
    """An import finder that reports the monsoon package as not installed."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "Monsoon" or name.startswith("Monsoon."):
            raise ModuleNotFoundError(f"No module named '{name}'", name=name)
        return None


@pytest.fixture
def without_monsoon(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in [n for n in sys.modules if n == "Monsoon" or n.startswith("Monsoon.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [_RefuseMonsoon(), *sys.meta_path])
    yield


def test_missing_package_is_absent_with_the_install_command(without_monsoon, tmp_path) -> None:
    with pytest.raises(ModuleNotFoundError):
        __import__("Monsoon.HVPM")
    availability = make_probe("monsoon", tmp_path).available()
    assert not availability.ok
    assert INSTALL_HINT in availability.reason
    assert INSTALL_HINT == "pip install 'melt-bench[monsoon]'"


def test_no_monitor_on_usb_is_absent_with_a_reason() -> None:
    probe = MonsoonProbe(
        settings=MonsoonSettings(vout_v=4.2), protocol_factory=lambda: FakeUsbProtocol()
    )
    availability = probe.available()
    assert not availability.ok
    assert "no Monsoon power monitor on USB" in availability.reason


def test_a_monitor_without_vout_is_not_used_and_not_touched() -> None:
    device = FakeHvpmDevice(SERIAL, HvpmScript([]))
    probe = MonsoonProbe(protocol_factory=lambda: FakeUsbProtocol(device))
    availability = probe.available()
    assert not availability.ok
    assert "--monsoon-vout" in availability.reason and str(SERIAL) in availability.reason
    assert device.vout_v == 0


def test_a_wrong_serial_is_absent_and_names_what_is_there() -> None:
    device = FakeHvpmDevice(SERIAL, HvpmScript([]))
    probe = MonsoonProbe(
        settings=MonsoonSettings(vout_v=4.2, serial=1),
        protocol_factory=lambda: FakeUsbProtocol(device),
    )
    reason = probe.available().reason
    assert "serial 1 is not on USB" in reason and str(SERIAL) in reason


@pytest.mark.parametrize(
    ("vout", "message"),
    [
        (5.0, r"5.0 V is above 4.55 V"),
        (20.0, r"within the HVPM's 0.8–13.5 V"),
        (0.0, r"within the HVPM's 0.8–13.5 V"),
        (float("nan"), r"within the HVPM's 0.8–13.5 V"),
    ],
)
def test_unsafe_vout_is_a_one_line_error(vout: float, message: str) -> None:
    with pytest.raises(MeltError, match=message) as caught:
        MonsoonSettings(vout_v=vout)
    assert "\n" not in str(caught.value)


def test_higher_vout_needs_an_explicit_limit() -> None:
    assert MonsoonSettings(vout_v=7.4, max_vout_v=8.0).vout_v == 7.4


def test_rate_must_divide_the_hardware_rate() -> None:
    with pytest.raises(MeltError, match="must divide 5000 Hz"):
        MonsoonSettings(vout_v=4.2, rate_hz=300)
    assert MonsoonSettings(vout_v=4.2, rate_hz=500).block == 10


def test_reading_before_start_is_a_read_error() -> None:
    probe, _ = connected(HvpmScript([Segment(3, 0.5, 4.0)]))
    from melt.probes import ProbeReadError

    with pytest.raises(ProbeReadError, match="not sampling"):
        probe.read(0)
