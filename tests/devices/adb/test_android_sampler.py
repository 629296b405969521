"""The on-device sampler: one shell stream of ticks from the fake phone's sysfs, parsed into
Samples with the probes' units."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from tests.fixtures.adb.harness import FakePhone

from melt.devices.adb import AdbDevice
from melt.devices.android_sampler import AndroidSampler, parse_line
from melt.probes.channels import Channel, Derived, ProbePlan
from melt.runners.android_probes import detect_phone_probes
from melt.traces.sample import Sample


def _plan(device: AdbDevice) -> ProbePlan:
    found = detect_phone_probes(device, {})
    return sum((p.plan() for p in found.probes), ProbePlan())  # type: ignore[attr-defined]


def test_the_phone_offers_the_battery_thermal_zones_and_cores(device: AdbDevice):
    found = detect_phone_probes(device, {})
    by_probe: dict[str, list[str]] = {}
    for probe, channel, _ in _plan(device).channels():
        by_probe.setdefault(probe, []).append(channel)
    assert by_probe == {
        "battery": ["voltage", "current", "power", "charging", "capacity", "temp"],
        "thermal": ["battery", "skin-therm"],
        "cpufreq": [f"cpu{i}" for i in range(8)],
        "devfreq": ["soc:qcom,cpu-llcc-ddr-bw"],
        "kgsl": ["util", "freq", "temp"],
        "cpu": ["cpu", "steal"] + [f"cpu{i}" for i in range(8)],
    }
    assert _plan(device).files()[0] == "/sys/class/power_supply/battery/voltage_now"
    infos = {p.name: p.info() for p in found.probes}
    assert [(i.unit, str(i.provenance)) for i in infos.values()] == [
        ("W", "measured"),
        ("%", "measured"),
        ("MHz", "measured"),
        ("MHz", "measured"),
        ("%", "measured"),
        ("°C", "measured"),
    ]
    assert "/sys/class/thermal/thermal_zone1/temp" in infos["thermal"].source
    assert infos["cpufreq"].source.endswith(
        "timestamps on the phone's /proc/timer_list (CLOCK_MONOTONIC)"
    )
    # what the phone's sampler cannot run says why, with no list of names
    assert "no intel-rapl zones" in found.unavailable["rapl"]
    assert "melt's own process" in found.unavailable["memory"]


def test_sampler_streams_ticks_on_the_device_clock_over_one_shell(
    device: AdbDevice, phone: FakePhone
):
    plan = _plan(device)
    spawned = []
    real_spawn = device.spawn
    device.spawn = lambda argv, env=None: spawned.append(argv) or real_spawn(argv, env)  # type: ignore[method-assign]
    start_ns = device.now_ns()
    sampler = AndroidSampler.start(device, plan, 0.02, device.clock_source().key)
    assert len(spawned) == 1
    capacity = phone.root / "sys/class/power_supply/battery/capacity"
    ticks: dict[int, dict[tuple[str, str], Sample]] = {}
    deadline = time.monotonic() + 30
    changed = False
    for sample in sampler.samples():
        ticks.setdefault(sample.t_ns, {})[(sample.probe, sample.channel)] = sample
        if len(ticks) == 3 and not changed:
            capacity.write_text("86\n")  # the fuel gauge moves while sampling
            changed = True
        if sample.probe == "battery" and sample.channel == "capacity" and sample.value == 86:
            break
        assert time.monotonic() < deadline, "the sampler never showed the new capacity"
    sampler.stop()
    end_ns = device.now_ns()
    first = ticks[min(ticks)]
    volts, amps = 3.987, 0.512  # voltage_now µV, current_now µA; Discharging: out of the battery
    assert first["battery", "voltage"] == Sample(min(ticks), "battery", "voltage", volts, "V")
    assert first["battery", "current"].value == amps
    assert first["battery", "power"].value == pytest.approx(volts * amps)
    assert (first["battery", "power"].unit, first["battery", "charging"].value) == ("W", 0.0)
    assert first["battery", "temp"].value == 31.2
    skin = Sample(min(ticks), "thermal", "skin-therm", 33.45, "°C")
    assert first["thermal", "skin-therm"] == skin
    assert first["cpufreq", "cpu7"].value == 2850.0 and first["cpufreq", "cpu7"].unit == "MHz"
    times = sorted(ticks)
    assert len(times) >= 4
    assert start_ns < times[0] and times[-1] < end_ns  # the device's clock, in ns
    full_ticks = [ticks[t] for t in times[:-1]]  # the loop left the last one part-read
    assert all(len(tick) == 6 + 2 + 8 + 1 + 3 for tick in full_ticks)  # … devfreq, kgsl


def test_parse_line_skips_unreadable_files_and_reads_an_uptime_clock():
    plan = ProbePlan(
        (
            Channel("battery", "voltage", "/v", "V", scale=1e6),
            Channel("battery", "current_now", "/c", "µA", emit=False),
            Channel("battery", "status", "/s", "", parser="text", emit=False),
            Derived(
                "battery", "current", "A", "discharge_current", ("current_now", "status"), ("auto",)
            ),
            Derived("battery", "power", "W", "product", ("voltage", "current")),
            Derived("battery", "charging", "bool", "equals", ("status",), ("Charging",)),
            Channel("thermal", "cpu", "/t", "°C", scale=1000.0),
            Channel("cpufreq", "cpu0", "/f", "MHz", scale=1000.0),
        )
    )
    samples = parse_line("12345.67|4000000|-250000|Charging|-|1200000", plan)
    t = 12345_670_000_000
    assert {(s.channel, s.value, s.unit) for s in samples} == {
        ("power", 4.0 * -0.25, "W"),  # charging: current flows into the battery
        ("current", -0.25, "A"),
        ("voltage", 4.0, "V"),
        ("charging", 1.0, "bool"),
        ("cpu0", 1200.0, "MHz"),
    }
    assert {s.t_ns for s in samples} == {t}
    with pytest.raises(ValueError, match="expected 5"):
        parse_line("1|2", plan)


def _local_ticks(pid: int) -> int:
    """The fake phone's processes are this machine's: the same /proc/<pid>/stat, read here."""
    rest = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in rest[11:15])


def test_the_samplers_own_cpu_is_its_proc_stat_on_the_phone(device: AdbDevice):
    sampler = AndroidSampler.start(device, _plan(device), 0.01, device.clock_source().key)
    pid = sampler.process.pid
    deadline = time.monotonic() + 60
    while (cpu := sampler.cpu()).seconds == 0.0:  # until the loop has cost a clock tick
        assert time.monotonic() < deadline, "the sampler never used a measurable CPU tick"
        next(sampler.samples())
    after = _local_ticks(pid)
    sampler.stop()
    assert cpu.seconds is not None and 0 < cpu.seconds * 100 <= after
    assert f"/proc/{pid}/stat on the phone" in cpu.source and "1/100 s ticks" in cpu.source


def test_a_sampler_cpu_the_phone_will_not_show_is_none_not_zero(device: AdbDevice):
    sampler = AndroidSampler.start(device, _plan(device), 0.01, device.clock_source().key)
    sampler.stop()  # the loop has ended: its /proc/<pid> is gone, as on a hidepid=2 /proc
    cpu = sampler.cpu()
    assert cpu.seconds is None
    assert cpu.source.startswith(f"not measured: /proc/{sampler.process.pid}/stat on the phone")
