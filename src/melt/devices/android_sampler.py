"""Sampling a phone's sysfs on the phone: a POSIX-sh loop pushed to it, one line per tick
streamed back over one shell (not one adb round trip per sample; most phones have no Python).

The controller discovers what to read through the device's file view (`discover`), pushes
`SAMPLER_SH` and starts it with the interval, the clock and the file paths as arguments (so
the script hard-codes no sysfs path). Each tick prints `<clock>|<v1>|<v2>|...`: the device
clock (`/proc/timer_list` ns, or `/proc/uptime` s as `AdbDevice.clock_source` chose) and each
file's first line, `-` when unreadable. The loop sleeps `interval` after each tick, so the
real rate is a little lower than 1/interval; every line carries its own timestamp.

`parse_line` turns a line into `Sample`s with the probes' units: battery as
probes/battery.py (`voltage_now` µV, `current_now` µA with its sign decided by `status` via
`discharge_current_a`, `capacity` %, `temp` 0.1 °C; power = V × A), thermal zones m°C → °C as
probes/thermal.py, cpufreq `scaling_cur_freq` kHz → MHz as probes/cpufreq.py.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from melt.devices.android_facts import CPU_ROOT, SUPPLY_ROOT, THERMAL_ROOT
from melt.devices.base import Device, DeviceProcess
from melt.devices.proc import stat_cpu_ticks
from melt.probes.base import ProbeInfo
from melt.probes.battery import MICRO, discharge_current_a
from melt.probes.thermal import MILLI
from melt.traces.sample import Provenance, Sample

SAMPLER_NAME = "melt-sampler.sh"
SAMPLER_SH = r"""#!/system/bin/sh
# melt's on-device sampler (src/melt/devices/android_sampler.py).
# usage: sh melt-sampler.sh INTERVAL_S CLOCK COUNT FILE...   (COUNT < 0: until killed)
# CLOCK: timer_list (CLOCK_MONOTONIC ns) or uptime (CLOCK_BOOTTIME s, 10 ms steps).
interval=$1 clock=$2 count=$3
shift 3
i=0
while [ "$count" -lt 0 ] || [ "$i" -lt "$count" ]; do
    if [ "$clock" = timer_list ]; then
        t=$(sed -n 's/^now at \([0-9]*\) nsecs$/\1/p;3q' /proc/timer_list)
    else
        read -r t _ < /proc/uptime
    fi
    line=$t
    for f in "$@"; do
        v=
        { read -r v < "$f"; } 2>/dev/null  # a last line without newline still lands in v
        [ -n "$v" ] || v=-
        line="$line|$v"
    done
    echo "$line"
    i=$((i + 1))
    sleep "$interval"
done
"""
# probe → (signal, unit, resolution), as probes/battery.py, thermal.py and cpufreq.py declare
PROBE_SIGNALS = {
    "battery": ("battery power", "W", "1 µV × 1 µA as reported (fuel gauges update at 1–10 Hz)"),
    "thermal": (
        "temperature",
        "°C",
        "0.001 °C as reported (the sensor's own step is often 0.1–1 °C)",
    ),
    "cpufreq": ("cpu frequency", "MHz", "1 kHz"),
}
_CPU = re.compile(r"cpu(\d+)$")
_ZONE = re.compile(r"thermal_zone(\d+)$")


@dataclass(frozen=True, slots=True)
class Column:
    """One file the sampler reads each tick."""

    probe: str
    name: str
    path: str


@dataclass(frozen=True, slots=True)
class SamplerPlan:
    """The files to read, in the order of the script's arguments."""

    columns: tuple[Column, ...]

    @property
    def paths(self) -> list[str]:
        return [c.path for c in self.columns]

    def infos(self, clock: str) -> list[ProbeInfo]:
        """What each sampled probe reads, as the probes declare it, with the sampler and the
        device clock (`clock`, e.g. `AdbDevice.clock_source().name`) in the source."""
        out = []
        for probe, (signal, unit, resolution) in PROBE_SIGNALS.items():
            paths = [c.path for c in self.columns if c.probe == probe]
            if paths:
                source = f"on-device sh sampler ({SAMPLER_NAME}) reading {', '.join(paths)}"
                out.append(
                    ProbeInfo(
                        name=probe,
                        signal=signal,
                        unit=unit,
                        provenance=Provenance.MEASURED,
                        source=f"{source}; timestamps {clock}",
                        resolution=resolution,
                    )
                )
        return out


def discover(device: Device) -> SamplerPlan:
    """Battery fuel gauge, thermal zones and cpufreq the phone has (three listings and one
    `read_many`)."""

    def listing(path: str, pattern: re.Pattern[str]) -> list[str]:
        try:
            names = [n for n in device.list_dir(path) if pattern.match(n)]
        except OSError:
            return []
        return sorted(names, key=lambda n: int(re.sub(r"\D", "", n) or 0))

    supplies = device.list_dir(SUPPLY_ROOT) if device.is_dir(SUPPLY_ROOT) else []
    zones = listing(THERMAL_ROOT, _ZONE)
    cpus = listing(CPU_ROOT, _CPU)
    probe_files = [f"{SUPPLY_ROOT}/{s}/type" for s in supplies]
    probe_files += [f"{THERMAL_ROOT}/{z}/type" for z in zones]
    probe_files += [f"{CPU_ROOT}/{c}/cpufreq/scaling_cur_freq" for c in cpus]
    found = device.read_many(probe_files)
    columns: list[Column] = []
    battery = next(
        (s for s in supplies if (found.get(f"{SUPPLY_ROOT}/{s}/type") or "").strip() == "Battery"),
        None,
    )
    if battery is not None:
        for name in ("voltage_now", "current_now", "status", "capacity", "temp"):
            columns.append(Column("battery", name, f"{SUPPLY_ROOT}/{battery}/{name}"))
    kinds = [(z, (found.get(f"{THERMAL_ROOT}/{z}/type") or "").strip()) for z in zones]
    kinds = [(z, k) for z, k in kinds if k]
    for zone, kind in kinds:
        unique = sum(1 for _, k in kinds if k == kind) == 1
        channel = kind if unique else f"{kind}#{zone.removeprefix('thermal_zone')}"
        columns.append(Column("thermal", channel, f"{THERMAL_ROOT}/{zone}/temp"))
    for cpu in cpus:
        path = f"{CPU_ROOT}/{cpu}/cpufreq/scaling_cur_freq"
        if found.get(path) is not None:
            columns.append(Column("cpufreq", cpu, path))
    return SamplerPlan(tuple(columns))


def clock_ns(text: str) -> int:
    """The tick's clock field: integer ns (timer_list) or decimal seconds (uptime)."""
    whole, dot, frac = text.partition(".")
    if not dot:
        return int(whole)
    return int(whole) * 1_000_000_000 + int((frac + "000000000")[:9])


def _battery(t_ns: int, values: dict[str, str]) -> list[Sample]:
    samples = []
    status = values.get("status", "Unknown")
    if "voltage_now" in values and "current_now" in values:
        volts = int(values["voltage_now"]) / MICRO
        amps = discharge_current_a(int(values["current_now"]), status)
        samples += [
            Sample(t_ns, "battery", "power", volts * amps, "W"),
            Sample(t_ns, "battery", "current", amps, "A"),
            Sample(t_ns, "battery", "voltage", volts, "V"),
        ]
    if "status" in values:
        samples.append(Sample(t_ns, "battery", "charging", float(status == "Charging"), "bool"))
    for channel, scale, unit in (("capacity", 1.0, "%"), ("temp", 10.0, "°C")):
        if channel in values:
            samples.append(Sample(t_ns, "battery", channel, int(values[channel]) / scale, unit))
    return samples


CONVERT: dict[str, Callable[[int, str, str], Sample]] = {
    "thermal": lambda t, ch, v: Sample(t, "thermal", ch, int(v) / MILLI, "°C"),
    "cpufreq": lambda t, ch, v: Sample(t, "cpufreq", ch, int(v) / 1000.0, "MHz"),
}


def parse_line(line: str, plan: SamplerPlan) -> list[Sample]:
    """One tick's `Sample`s on the device clock; unreadable (`-`) files give none."""
    fields = line.split("|")
    if len(fields) != len(plan.columns) + 1 or not fields[0]:
        raise ValueError(
            f"sampler line has {len(fields) - 1} values, expected {len(plan.columns)}: {line!r}"
        )
    t_ns = clock_ns(fields[0])
    battery: dict[str, str] = {}
    samples: list[Sample] = []
    for column, value in zip(plan.columns, fields[1:], strict=True):
        if value == "-":
            continue
        if column.probe == "battery":
            battery[column.name] = value
        else:
            samples.append(CONVERT[column.probe](t_ns, column.name, value))
    return _battery(t_ns, battery) + samples if battery else samples


# Linux reports /proc/<pid>/stat times in USER_HZ, 100 on every ABI Android runs; the
# phone's `getconf CLK_TCK` says so where toybox has it.
USER_HZ = 100
CPU_SOURCE = (
    "utime+stime+cutime+cstime of the sh loop's /proc/{pid}/stat on the phone (the loop and "
    "the sed/sleep children it waited for), read at stop, in 1/{hz} s ticks"
)


@dataclass(frozen=True, slots=True)
class SamplerCpu:
    """The on-phone sampler's own CPU seconds, or why they are unknown."""

    seconds: float | None
    source: str


@dataclass
class AndroidSampler:
    """The sampler running on a phone: `samples()` yields as ticks arrive."""

    device: Device
    process: DeviceProcess
    plan: SamplerPlan

    @classmethod
    def start(
        cls,
        device: Device,
        plan: SamplerPlan,
        interval_s: float,
        clock: str,
        count: int = -1,
    ) -> AndroidSampler:
        """Push the script to the device's workdir and start it (`clock`: timer_list or
        uptime, as the device's clock source)."""
        remote = f"{device.workdir()}/{SAMPLER_NAME}"
        with tempfile.TemporaryDirectory() as tmp:
            script = Path(tmp) / SAMPLER_NAME
            script.write_text(SAMPLER_SH)
            device.push(script, remote)
        argv: Sequence[str] = ["sh", remote, f"{interval_s:g}", clock, str(count), *plan.paths]
        return cls(device, device.spawn(argv), plan)

    def cpu(self) -> SamplerCpu:
        """What the loop has cost the phone's CPUs so far (one shell round trip)."""
        pid = self.process.pid
        result = self.device.shell(f"cat /proc/{pid}/stat && getconf CLK_TCK 2>/dev/null")
        stat, _, hz_text = result.stdout.partition("\n")
        hz = int(hz_text.strip()) if hz_text.strip().isdigit() else USER_HZ
        try:
            ticks = stat_cpu_ticks(stat, children=True)
        except (ValueError, IndexError):
            why = result.stderr.strip() or f"unreadable {stat[:60]!r}"
            return SamplerCpu(None, f"not measured: /proc/{pid}/stat on the phone: {why}")
        return SamplerCpu(ticks / hz, CPU_SOURCE.format(pid=pid, hz=hz))

    def samples(self) -> Iterator[Sample]:
        for line in self.process.lines():
            if line:
                yield from parse_line(line, self.plan)

    def stop(self, timeout: float = 10.0) -> None:
        self.process.signal(15)
        self.process.wait(timeout)
