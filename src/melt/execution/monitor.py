"""Device signals around each run: which probes run, the cooldown gate, the idle baseline,
the sampler thread, and the signal metrics once the run is over.

The session calls `BenchMonitor.run_monitor(store, run_id)` for every run, `start()` before
the first turn and `finish(traces)` after the last; the per-token loop of a framework never
sees any of this (sampling runs in its own thread).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from melt.devices.base import DeviceError
from melt.errors import MeltError
from melt.execution.monitor_settings import ProbeSettings
from melt.execution.monitor_signals import RunSignals, measured_window, run_interference
from melt.metrics.signals import PowerSource, run_signal_metrics
from melt.probes import Probe, detect
from melt.probes.registry import policy_of
from melt.probes.sampler import SamplerStats, check_rate
from melt.runners.base import Runner, SamplerLike
from melt.store import Store
from melt.store.samples import SampleWriter, add_sampling
from melt.traces import TurnTrace
from melt.traces.sample import Provenance

log = logging.getLogger(__name__)

AUTO_IDLE_BASELINE_S = 3.0
COOLDOWN_POLL_S = 1.0
POWER = "power"
TEMPERATURE = "temperature"


@dataclass(slots=True)
class BenchMonitor:
    """Probe detection and the reference temperatures, once per `melt bench`."""

    settings: ProbeSettings
    probes: tuple[Probe, ...] = ()
    unavailable: dict[str, str] = field(default_factory=dict)
    power: PowerSource | None = None
    reference_c: dict[str, float] = field(default_factory=dict)

    runner: Runner | None = None

    @classmethod
    def detect(cls, settings: ProbeSettings, runner: Runner | None = None) -> BenchMonitor:
        """The registered probes: those that run on the device detected there, on its files
        (without a runner, the local device rooted at `settings.root`); those that run on the
        controller (an instrument on its USB) detected here."""
        if runner is None:
            from melt.devices.local import LocalDevice
            from melt.runners.inprocess import InProcessRunner

            runner = InProcessRunner(LocalDevice(root=settings.root))
        check_rate(settings.rate_hz)
        configured = settings.configured_probes()
        configs = {name: c.config for name, c in configured.items()}
        local = runner.device.on_controller
        for name, chosen in configured.items():
            if policy_of(name).runs_on == "controller" and not local:
                raise MeltError(
                    f"{chosen.flag}: an instrument on the controller's USB is supported only "
                    "with --device local so far"
                )
        on_device = runner.detect_probes(configs)
        # an instrument on the controller's USB is looked for only when it is the device's
        on_controller = detect(settings.root, configs, runs_on=("controller",) if local else ())
        probes = (*on_device.probes, *on_controller.probes)
        unavailable = {**on_device.unavailable, **on_controller.unavailable}
        for name, chosen in configured.items():
            if name in unavailable:
                raise MeltError(f"{chosen.flag}: {unavailable[name]}")
        monitor = cls(settings, probes=probes, unavailable=unavailable, runner=runner)
        monitor.power = monitor._power_source()
        monitor.reference_c = monitor._temperatures()
        return monitor

    def _power_source(self) -> PowerSource | None:
        """The measured power probe of the lowest power rank; the estimated model only when
        asked for (and then it alone, so estimated and measured are never mixed)."""
        power = [p.info() for p in self.probes if policy_of(p.name).role == POWER]
        if self.settings.power_model is not None:
            info = next(i for i in power if i.provenance is Provenance.ESTIMATED)
            return PowerSource(info.name, Provenance.ESTIMATED, f"ESTIMATED: {info.source}")
        measured = [
            i for i in power if i.provenance is Provenance.MEASURED and i.power_rank is not None
        ]
        if not measured:
            return None
        info = min(measured, key=lambda i: i.power_rank or 0)
        charge_full = None
        if info.current_channel is not None:
            charge_full = info.facts.get("charge_full_mah")
            if charge_full is None and self.settings.profile is not None:
                charge_full = self.settings.profile.battery_capacity_mah
        return PowerSource(
            probe=info.name,
            provenance=Provenance.MEASURED,
            description=f"measured by {info.name}: {info.source}",
            current_channel=info.current_channel,
            charge_full_mah=charge_full,
            energy_channel=info.facts.get("energy_channel"),
        )

    @property
    def energy_unavailable(self) -> str | None:
        if self.power is not None:
            return None
        # the device's own sensors first, best first, then instruments on the controller
        ranked = sorted(
            (policy.runs_on == "controller", rank, name)
            for name in self.unavailable
            if (policy := policy_of(name)).role == POWER and (rank := policy.power_rank) is not None
        )
        reasons = [f"{name}: {self.unavailable[name]}" for *_, name in ranked]
        return f"no sensor: {'; '.join(reasons)}"

    @property
    def thermal_probe(self) -> Probe | None:
        return next((p for p in self.probes if policy_of(p.name).role == TEMPERATURE), None)

    @property
    def thermal_unavailable(self) -> str | None:
        if self.thermal_probe is not None:
            return None
        reasons = [
            why for name, why in self.unavailable.items() if policy_of(name).role == TEMPERATURE
        ]
        return "; ".join(reasons) or None

    def _temperatures(self) -> dict[str, float]:
        probe = self.thermal_probe
        if probe is None:
            return {}
        return {s.channel: s.value for s in probe.read(self._now_ns())}

    def _now_ns(self) -> int:
        """The device's monotonic clock (deadlines, idle windows and cooldowns use it)."""
        return time.monotonic_ns() if self.runner is None else self.runner.device.now_ns()

    def idle_baseline_s(self) -> float:
        chosen = self.settings.idle_baseline_s
        if chosen is not None:
            return chosen
        return AUTO_IDLE_BASELINE_S if self.power is not None else 0.0

    def cool_down(self) -> dict[str, Any]:
        """Wait as the cooldown setting says; returns what happened, for the record."""
        cooldown = self.settings.cooldown
        if cooldown is None:
            return {"mode": "off", "waited_s": 0.0}
        start = self._now_ns()

        def waited_s() -> float:
            return (self._now_ns() - start) / 1e9

        if cooldown != "auto":
            time.sleep(float(cooldown))
            return {"mode": "fixed", "waited_s": waited_s()}
        if not self.reference_c:
            return {"mode": "auto", "waited_s": 0.0, "reached": None, "why": "no thermal zones"}
        tolerance = self.settings.cooldown_tolerance_c
        while True:
            now = self._temperatures()
            excess = {z: now[z] - ref for z, ref in self.reference_c.items() if z in now}
            if all(e <= tolerance for e in excess.values()):
                reached = True
                break
            if waited_s() >= self.settings.cooldown_timeout_s:
                reached = False
                log.warning("cooldown timed out after %.0f s", self.settings.cooldown_timeout_s)
                break
            time.sleep(COOLDOWN_POLL_S)
        return {
            "mode": "auto",
            "waited_s": waited_s(),
            "reached": reached,
            "tolerance_c": tolerance,
            "excess_c": excess,
        }

    def run_monitor(self, store: Store, run_id: int) -> RunMonitor:
        return RunMonitor(self, store, run_id)


class RunMonitor:
    def __init__(self, bench: BenchMonitor, store: Store, run_id: int) -> None:
        self.bench = bench
        self.store = store
        self.run_id = run_id
        assert bench.runner is not None
        self.sampler: SamplerLike = bench.runner.sampler(
            bench.probes, bench.settings.rate_hz, SampleWriter(store, run_id)
        )
        self.windows: dict[str, Any] = {}
        self._idle: tuple[int, int] | None = None
        self.started = False

    def start(self) -> None:
        """Cooldown gate, then the sampler, then the idle baseline (model loaded, idle)."""
        self.windows["cooldown"] = self.bench.cool_down()
        self.sampler.start()
        self.started = True
        idle_s = self.bench.idle_baseline_s()
        if idle_s > 0:
            start = self.bench._now_ns()
            time.sleep(idle_s)
            self._idle = (start, self.bench._now_ns())
            self.windows["idle_baseline"] = {
                "start_ns": self._idle[0],
                "end_ns": self._idle[1],
                "duration_s": (self._idle[1] - self._idle[0]) / 1e9,
            }

    def finish(self, traces: Sequence[TurnTrace]) -> RunSignals:
        """Stop sampling, store the sampling record, compute the signal metrics. A sampler
        lost with its device still leaves a record: what arrived, and why it ended."""
        try:
            stats = self.sampler.stop()
        except DeviceError as exc:
            stats = self._lost_sampler(str(exc))
        infos = tuple(p.info() for p in self.bench.probes)
        metrics = run_signal_metrics(
            self.sampler.samples,
            [measured_window(t) for t in traces],
            power=self.bench.power,
            idle=self._idle,
            comfort_c=self.bench.settings.comfort_c,
            over_time_buckets=self.bench.settings.over_time_buckets,
        )
        add_sampling(
            self.store,
            self.run_id,
            **stats.store_columns(),
            probes=[i.as_dict() for i in infos],
            unavailable=self.bench.unavailable,
            windows=self.windows,
        )
        throttled = any(f.throttled for f in metrics.throttling)
        return RunSignals(
            interference=run_interference(self.sampler.samples, traces, throttled),
            sampling=stats,
            probes=infos,
            unavailable=self.bench.unavailable,
            energy_unavailable=self.bench.energy_unavailable,
            thermal_unavailable=self.bench.thermal_unavailable,
            windows=self.windows,
            metrics=metrics,
            samples=tuple(self.sampler.samples),
        )

    def _lost_sampler(self, reason: str) -> SamplerStats:
        samples = self.sampler.samples
        times = [s.t_ns for s in samples]
        return SamplerStats(
            target_hz=self.bench.settings.rate_hz,
            wall_anchor_ns=0,
            started_ns=min(times, default=0),
            stopped_ns=max(times, default=0),
            ticks=len(set(times)),
            dropped=0,
            samples=len(samples),
            cpu_s=None,
            cpu_source="not measured: the sampler was lost before it could report",
            read_errors={"sampler": 1},
            last_error={
                "sampler": f"sampler lost before it could report ({reason}); "
                "ticks are the distinct sample times received, CPU time unknown"
            },
        )
