"""A phone's probes: the registered probes whose reading is a channel plan, discovered on
the phone through its file view and sampled there by the sh loop (devices/android_sampler.py),
as the `DetectedProbes` and `SamplerLike` the monitor uses.

Each tick is timestamped on the phone's clock by the script itself, and stays there: the run
is on the device's clock (the server framework's traces are mapped onto it, see
runners/controller.py), and each probe's source names the sampler and the clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from melt.devices.adb import AdbDevice
from melt.devices.android_sampler import SAMPLER_NAME, AndroidSampler, SamplerCpu, parse_tick
from melt.devices.base import DeviceError
from melt.devices.fspath import DevicePath
from melt.devices.snapshot import SnapshotView
from melt.probes import detect
from melt.probes.base import Availability, Probe, ProbeInfo, ProbeReadError
from melt.probes.channels import PlannedProbe, ProbePlan
from melt.probes.registry import registered
from melt.probes.sampler import SamplerStats
from melt.runners.base import DetectedProbes, SampleSink
from melt.traces.sample import Sample

STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class PhoneProbe:
    """A planned probe discovered on the phone; its info names the on-device sampler and the
    phone's clock, and `read` (cooldown) reads its plan's files in one adb round trip."""

    probe: PlannedProbe
    device: AdbDevice
    clock: str

    @property
    def name(self) -> str:
        return self.probe.name

    def plan(self) -> ProbePlan:
        return self.probe.plan()

    def available(self) -> Availability:
        return self.probe.available()

    def info(self) -> ProbeInfo:
        info = self.probe.info()
        files = ", ".join(self.plan().files())
        source = f"{info.source}; on-device sh sampler ({SAMPLER_NAME}) reading {files}"
        return replace(info, source=f"{source}; timestamps {self.clock}")

    def read(self, t_ns: int) -> list[Sample]:
        reader = self.probe.reader()  # the probe's own counters, from one cooldown read to the next
        return reader.samples(t_ns, self.device.read_many(reader.files(t_ns)))


def _planned_only(probe: Probe) -> str | None:
    """Why the phone's sampler cannot run a probe: it executes channel plans only, of files
    the phone has (not of melt's own process, which does not run there)."""
    if not isinstance(probe, PlannedProbe):
        return "not a channel plan (probes/channels.py): the phone's sh sampler runs only those"
    if probe.reads_own_process:
        return (
            "reads melt's own process, which does not run on the phone (the server's memory "
            "and CPU time are the run's, read by runners/server_host.py)"
        )
    return None


def detect_phone_probes(device: AdbDevice, configured: Mapping[str, Any]) -> DetectedProbes:
    """The registered device probes the phone's files offer, discovered through its file view
    (the trees the planned probes walk taken in one snapshot); a probe whose plan finds no
    file there is unavailable."""
    trees = {
        ("/" + path, depth)
        for factory in registered().values()
        if isinstance(factory, type) and issubclass(factory, PlannedProbe)
        for path, depth in factory.trees
    }
    root = DevicePath(SnapshotView(device, sorted(trees)), "/")
    found = detect(root, configured, runs_on=("device",), accept=_planned_only)
    clock = f"on the phone's {device.clock_source().name}"
    probes: list[Probe] = []
    unavailable = dict(found.unavailable)
    for probe in found.probes:
        assert isinstance(probe, PlannedProbe)
        try:
            files = probe.plan().files()
        except ProbeReadError as exc:
            files, unavailable[probe.name] = [], str(exc)
        if files:
            probes.append(PhoneProbe(probe, device, clock))
        else:
            unavailable.setdefault(probe.name, f"phone '{device.name}' has no files for it in /sys")
    return DetectedProbes(tuple(probes), unavailable)


class PhoneSampler:
    """The sh loop on the phone for the chosen probes; a reader thread hands each tick (on the
    phone's clock) to `sink` as it arrives."""

    def __init__(
        self, device: AdbDevice, probes: Sequence[Probe], rate_hz: float, sink: SampleSink
    ) -> None:
        self.device = device
        self.rate_hz = rate_hz
        self._sink = sink
        self.plan = sum((p.plan() for p in probes if isinstance(p, PhoneProbe)), ProbePlan())
        self.reader = self.plan.reader()
        self.samples: list[Sample] = []
        self._errors: dict[str, int] = {}
        self._last_error: dict[str, str] = {}
        self._ticks = 0
        self._error: str | None = None
        self._sampler: AndroidSampler | None = None
        self._thread: threading.Thread | None = None
        self._started_ns = 0
        self._wall_anchor_ns = 0

    def start(self) -> None:
        self._wall_anchor_ns = time.time_ns()
        self._started_ns = self.device.now_ns()
        if not self.plan.files():
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
                batch, errors = parse_tick(line, self.reader)
                for probe, message in errors:  # counted as the in-process sampler does
                    self._errors[probe] = self._errors.get(probe, 0) + 1
                    self._last_error[probe] = message
                self._ticks += 1
                self.samples.extend(batch)
                self._sink(batch)
        except (DeviceError, OSError, ValueError, ProbeReadError) as exc:
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
            read_errors=dict(self._errors),
            last_error=dict(self._last_error),
            error=self._error,
        )
