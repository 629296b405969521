"""Sampling a phone's sysfs on the phone: a POSIX-sh loop pushed to it, one line per tick
streamed back over one shell (not one adb round trip per sample; most phones have no Python).

The loop executes a channel plan (probes/channels.py), the same one every sampler runs: the
controller discovers it through the device's file view (the probes' own discovery), pushes
`SAMPLER_SH` and starts it with the interval, the clock and the plan's files as arguments (so
the script hard-codes no sysfs path). Each tick prints `<clock>|<v1>|<v2>|...`: the device
clock (`/proc/timer_list` ns, or `/proc/uptime` s as `AdbDevice.clock_source` chose) and each
file's first line, `-` when unreadable. The loop sleeps `interval` after each tick, so the
real rate is a little lower than 1/interval; every line carries its own timestamp.

`parse_line` hands a line's texts to the plan, which turns them into `Sample`s with the
probes' own parsers, scales and units.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from melt.devices.base import Device, DeviceProcess
from melt.devices.proc import stat_cpu_ticks
from melt.probes.base import ProbeReadError
from melt.probes.channels import PlanReader, ProbePlan
from melt.traces.sample import Sample

SAMPLER_NAME = "melt-sampler.sh"
SAMPLER_SH = r"""#!/system/bin/sh
# melt's on-device sampler (src/melt/devices/android_sampler.py).
# usage: sh melt-sampler.sh INTERVAL_S CLOCK COUNT FILE...   (COUNT < 0: until killed)
# CLOCK: timer_list (CLOCK_MONOTONIC ns) or uptime (CLOCK_BOOTTIME s, 10 ms steps).
# FILE: its first line; FILE|START: its lines that begin with START, joined by ';'.
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
        case $f in
        *'|'*)
            p=${f#*|}
            f=${f%|*}
            { while IFS= read -r l || [ -n "$l" ]; do
                case $l in "$p"*) v="$v${v:+;}$l" ;; esac
            done < "$f"; } 2>/dev/null
            ;;
        *) { read -r v < "$f"; } 2>/dev/null ;;  # a last line without newline lands in v
        esac
        [ -n "$v" ] || v=-
        line="$line|$v"
    done
    echo "$line"
    i=$((i + 1))
    sleep "$interval"
done
"""


def clock_ns(text: str) -> int:
    """The tick's clock field: integer ns (timer_list) or decimal seconds (uptime)."""
    whole, dot, frac = text.partition(".")
    if not dot:
        return int(whole)
    return int(whole) * 1_000_000_000 + int((frac + "000000000")[:9])


def sampler_args(plan: ProbePlan) -> list[str]:
    """The script's FILE arguments for a plan: each file, or `FILE|START` for the lines of a
    multi-line one."""
    return [path if start is None else f"{path}|{start}" for path, start in plan.sources()]


def parse_tick(line: str, reader: PlanReader) -> tuple[list[Sample], list[tuple[str, str]]]:
    """One tick's `Sample`s on the device clock and its read errors (a value that does not
    parse, a counter that went back); unreadable (`-`) files give no sample."""
    files = reader.plan.files()
    fields = line.split("|")
    if len(fields) != len(files) + 1 or not fields[0]:
        raise ValueError(
            f"sampler line has {len(fields) - 1} values, expected {len(files)}: {line!r}"
        )
    texts = {
        path: None if v == "-" else v.replace(";", "\n") if start is not None else v
        for (path, start), v in zip(reader.plan.sources(), fields[1:], strict=True)
    }
    return reader.tick(clock_ns(fields[0]), texts)


def parse_line(line: str, plan: ProbePlan | PlanReader) -> list[Sample]:
    """One tick's `Sample`s on the device clock; unreadable (`-`) files give none, and a read
    error raises `ProbeReadError`. A plan's counters need a `PlanReader` (a bare plan has no
    previous tick)."""
    reader = plan.reader() if isinstance(plan, ProbePlan) else plan
    samples, errors = parse_tick(line, reader)
    if errors:
        raise ProbeReadError("; ".join(message for _, message in errors))
    return samples


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
    plan: ProbePlan
    reader: PlanReader = field(init=False)

    def __post_init__(self) -> None:
        self.reader = self.plan.reader()

    @classmethod
    def start(
        cls,
        device: Device,
        plan: ProbePlan,
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
        argv: Sequence[str] = [
            "sh",
            remote,
            f"{interval_s:g}",
            clock,
            str(count),
            *sampler_args(plan),
        ]
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
                yield from parse_line(line, self.reader)

    def stop(self, timeout: float = 10.0) -> None:
        self.process.signal(15)
        self.process.wait(timeout)
