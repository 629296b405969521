"""A phone's probes: the on-device sh sampler (devices/android_sampler.py) as the
`DetectedProbes` and `SamplerLike` the monitor uses.

Each tick is timestamped on the phone's clock by the script itself, and stays there: the run
is on the device's clock (the server framework's traces are mapped onto it, see
runners/controller.py), and each probe's source names the clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from melt.devices.adb import AdbDevice
from melt.devices.android_sampler import (
    AndroidSampler,
    SamplerCpu,
    SamplerPlan,
    discover,
    parse_line,
)
from melt.devices.base import DeviceError
from melt.probes.base import Availability, Probe, ProbeInfo
from melt.probes.sampler import SamplerStats
from melt.runners.base import DetectedProbes, SampleSink
from melt.traces.sample import Sample

STOP_TIMEOUT_S = 10.0
NOT_ON_PHONES = {
    "rapl": "no Intel/AMD RAPL on an Android phone",
    "cpu_power_model": "the estimated CPU power model is for the local device only",
}


@dataclass(frozen=True, slots=True)
class PhoneProbe:
    """One probe read by the on-device sampler; `read` is one tick over adb (cooldown)."""

    name: str
    device: AdbDevice
    plan: SamplerPlan
    probe_info: ProbeInfo

    def available(self) -> Availability:
        return Availability.found(f"on phone '{self.device.name}'")

    def info(self) -> ProbeInfo:
        return self.probe_info

    def read(self, t_ns: int) -> list[Sample]:
        clock = self.device.clock_source().key
        sampler = AndroidSampler.start(self.device, self.plan, 0.0, clock, count=1)
        samples = [s for s in sampler.samples() if s.probe == self.name]
        sampler.process.wait(STOP_TIMEOUT_S)
        return [replace(s, t_ns=t_ns) for s in samples]


def detect_phone_probes(device: AdbDevice) -> DetectedProbes:
    """What the phone's sysfs offers the sampler (battery, thermal zones, cpufreq)."""
    plan = discover(device)
    clock = device.clock_source().name
    infos = {i.name: i for i in plan.infos(f"on the phone's {clock}")}
    probes = tuple(PhoneProbe(name, device, plan, info) for name, info in infos.items())
    unavailable = dict(NOT_ON_PHONES)
    for name in ("battery", "thermal", "cpufreq"):
        if name not in infos:
            unavailable[name] = f"phone '{device.name}' has no readable {name} files in /sys"
    return DetectedProbes(probes, unavailable)


class PhoneSampler:
    """The sh loop on the phone for the chosen probes; a reader thread hands each tick (on the
    phone's clock) to `sink` as it arrives."""

    def __init__(
        self, device: AdbDevice, probes: Sequence[Probe], rate_hz: float, sink: SampleSink
    ) -> None:
        self.device = device
        self.rate_hz = rate_hz
        self._sink = sink
        names = {p.name for p in probes}
        plans = [p.plan for p in probes if isinstance(p, PhoneProbe)]
        columns = plans[0].columns if plans else ()
        self.plan = SamplerPlan(tuple(c for c in columns if c.probe in names))
        self.samples: list[Sample] = []
        self._ticks = 0
        self._error: str | None = None
        self._sampler: AndroidSampler | None = None
        self._thread: threading.Thread | None = None
        self._started_ns = 0
        self._wall_anchor_ns = 0

    def start(self) -> None:
        self._wall_anchor_ns = time.time_ns()
        self._started_ns = self.device.now_ns()
        if not self.plan.columns:
            return
        clock = self.device.clock_source().key
        self._sampler = AndroidSampler.start(self.device, self.plan, 1.0 / self.rate_hz, clock)
        self._thread = threading.Thread(target=self._read, name="phone-sampler", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._sampler is not None
        try:
            for line in self._sampler.process.lines():
                if not line:
                    continue
                batch = parse_line(line, self.plan)
                self._ticks += 1
                self.samples.extend(batch)
                self._sink(batch)
        except (DeviceError, OSError, ValueError) as exc:
            self._error = f"{type(exc).__name__}: {exc}"

    def stop(self) -> SamplerStats:
        lost: str | None = None
        cpu = SamplerCpu(None, "not measured: no sampler ran (no probe files on the phone)")
        if self._sampler is not None:
            try:
                cpu = self._sampler.cpu()
            except DeviceError as exc:
                cpu = SamplerCpu(None, f"not measured: {exc}")
            try:
                self._sampler.stop(STOP_TIMEOUT_S)
            except DeviceError as exc:
                lost = str(exc)
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_S)
        if lost is not None:
            raise DeviceError(lost)
        times = [s.t_ns for s in self.samples]
        return SamplerStats(
            target_hz=self.rate_hz,
            wall_anchor_ns=self._wall_anchor_ns,
            started_ns=min(times, default=self._started_ns),
            stopped_ns=max(times) if times else self.device.now_ns(),
            ticks=self._ticks,
            dropped=0,
            samples=len(self.samples),
            cpu_s=cpu.seconds,
            cpu_source=cpu.source,
            error=self._error,
        )
