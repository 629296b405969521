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
from pathlib import Path
from typing import Any

from melt.config.device_profile import DeviceProfile
from melt.devices.base import DeviceError
from melt.errors import MeltError
from melt.metrics.energy import TurnWindows
from melt.metrics.interference import Interference, assess_interference
from melt.metrics.signals import (
    MeasuredTurnWindow,
    PowerSource,
    RunSignalMetrics,
    run_signal_metrics,
)
from melt.metrics.thermal import DEFAULT_COMFORT_C
from melt.metrics.turn import turn_metrics
from melt.probes import Probe, ProbeInfo
from melt.probes.cpu import is_core
from melt.probes.monsoon import MonsoonProbe, MonsoonSettings
from melt.probes.sampler import DEFAULT_RATE_HZ, SamplerStats, check_rate
from melt.runners.base import PowerModel, Runner, SamplerLike
from melt.store import Store
from melt.store.samples import SampleWriter, add_sampling
from melt.traces import TurnTrace
from melt.traces.sample import Provenance, Sample
from melt.values import finite

log = logging.getLogger(__name__)

MEASURED_POWER_PROBES = ("ina3221", "battery", "rapl", "nvml")
# An external monitor the user configured wins over the device's own sensors (which, on a
# device it powers, see the monitor's supply, not a battery's).
EXTERNAL_POWER_PROBES = ("monsoon",)
POWER_MODELS = ("estimated",)
AUTO_IDLE_BASELINE_S = 3.0
COOLDOWN_POLL_S = 1.0
DEFAULT_COOLDOWN_TOLERANCE_C = 2.0
DEFAULT_COOLDOWN_TIMEOUT_S = 300.0


def parse_cooldown(text: str) -> float | str | None:
    """`off` → None, `auto` → "auto", or seconds (`30`, `30s`, `2m`)."""
    if text in ("off", "auto"):
        return None if text == "off" else "auto"
    try:
        seconds = parse_duration_s(text)
    except MeltError:
        raise MeltError(
            f"--cooldown: expected off, auto or a duration like 30s or 2m (got '{text}')"
        ) from None
    return seconds


def parse_duration_s(text: str) -> float:
    """Seconds from `90`, `90s`, `10m` or `1h`."""
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    body, scale = text.strip(), 1.0
    if body and body[-1] in units:
        body, scale = body[:-1], units[body[-1]]
    try:
        value = float(body) * scale
    except ValueError:
        raise MeltError(f"expected a duration like 90s, 10m or 1h (got '{text}')") from None
    if value < 0:
        raise MeltError(f"a duration cannot be negative (got '{text}')")
    return value


@dataclass(frozen=True, slots=True)
class ProbeSettings:
    rate_hz: float = DEFAULT_RATE_HZ
    idle_baseline_s: float | None = None
    cooldown: float | str | None = None
    cooldown_tolerance_c: float = DEFAULT_COOLDOWN_TOLERANCE_C
    cooldown_timeout_s: float = DEFAULT_COOLDOWN_TIMEOUT_S
    power_model: str | None = None
    profile: DeviceProfile | None = None
    comfort_c: float = DEFAULT_COMFORT_C
    root: Path = Path("/")
    over_time_buckets: int = 0
    monsoon: MonsoonSettings | None = None

    def __post_init__(self) -> None:
        finite(self.comfort_c, "--comfort-temp")  # °C: a NaN would pass every comparison


@dataclass(frozen=True, slots=True)
class RunSignals:
    """What the probes saw during one run, and the metrics computed from it."""

    sampling: SamplerStats
    probes: tuple[ProbeInfo, ...]
    unavailable: dict[str, str]
    energy_unavailable: str | None
    thermal_unavailable: str | None
    windows: dict[str, Any]
    metrics: RunSignalMetrics
    samples: tuple[Sample, ...] = ()
    interference: Interference | None = None

    def series_document(self) -> dict[str, dict[str, Any]]:
        """Every sample series, keyed `probe/channel`, as parallel lists (t_ns on the
        monotonic clock; `sampling.wall_anchor_ns` places `started_ns` in calendar time)."""
        out: dict[str, dict[str, Any]] = {}
        for s in self.samples:
            series = out.setdefault(
                f"{s.probe}/{s.channel}",
                {"unit": s.unit, "provenance": str(s.provenance), "t_ns": [], "value": []},
            )
            series["t_ns"].append(s.t_ns)
            series["value"].append(s.value)
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "sampling": self.sampling.as_dict(),
            "probes": [p.as_dict() for p in self.probes],
            "unavailable": self.unavailable,
            "energy_unavailable": self.energy_unavailable,
            "thermal_unavailable": self.thermal_unavailable,
            "windows": self.windows,
            **self.metrics.as_dict(),
            "interference": None if self.interference is None else self.interference.as_dict(),
        }


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
        """The probes that can run on the runner's device (detected there, on its files);
        without a runner, on the local device rooted at `settings.root`."""
        if runner is None:
            from melt.devices.local import LocalDevice
            from melt.runners.inprocess import InProcessRunner

            runner = InProcessRunner(LocalDevice(root=settings.root))
        check_rate(settings.rate_hz)
        power_model = cls._power_model(settings)
        found = runner.detect_probes(power_model)
        probes = list(found.probes)
        monitor = cls(settings, unavailable=dict(found.unavailable), runner=runner)
        if settings.monsoon is not None:
            if runner.device.transport != "local":
                raise MeltError(
                    "--monsoon-vout: a Monsoon on the controller's USB is supported only with "
                    "--device local so far"
                )
            probes.append(monitor._monsoon_probe(settings.monsoon))
        monitor.probes = tuple(probes)
        monitor.power = monitor._power_source()
        monitor.reference_c = monitor._temperatures()
        return monitor

    @staticmethod
    def _power_model(settings: ProbeSettings) -> PowerModel | None:
        if settings.power_model is None:
            return None
        if settings.power_model not in POWER_MODELS:
            raise MeltError(
                f"--power-model: unknown model '{settings.power_model}' "
                f"(known: {', '.join(POWER_MODELS)})"
            )
        profile = settings.profile
        if profile is None or profile.power_model is None:
            raise MeltError(
                "--power-model estimated needs power_model.idle_w and "
                "power_model.active_w_per_core; pass --device-profile FILE.yaml that sets them"
            )
        model = profile.power_model
        return PowerModel(model.idle_w, model.active_w_per_core, model.source)

    def _monsoon_probe(self, monsoon: MonsoonSettings) -> Probe:
        """The Monsoon the user configured; asked for explicitly, so its absence is an error."""
        probe = MonsoonProbe(self.settings.root, monsoon)
        availability = probe.available()
        if not availability.ok:
            raise MeltError(f"--monsoon-vout: {availability.reason}")
        self.unavailable.pop(probe.name, None)
        return probe

    def _power_source(self) -> PowerSource | None:
        """The best measured power probe; the estimated model only when asked for (and
        then it alone, so estimated and measured are never mixed)."""
        by_name = {p.name: p for p in self.probes}
        if self.settings.power_model is not None:
            info = by_name["cpu_power_model"].info()
            return PowerSource("cpu_power_model", Provenance.ESTIMATED, f"ESTIMATED: {info.source}")
        for name in (*EXTERNAL_POWER_PROBES, *MEASURED_POWER_PROBES):
            if name in by_name:
                info = by_name[name].info()
                charge_full = info.facts.get("charge_full_mah")
                if charge_full is None and self.settings.profile is not None:
                    charge_full = self.settings.profile.battery_capacity_mah
                return PowerSource(
                    probe=name,
                    provenance=Provenance.MEASURED,
                    description=f"measured by {name}: {info.source}",
                    current_channel="current" if name == "battery" else None,
                    charge_full_mah=charge_full if name == "battery" else None,
                )
        return None

    @property
    def energy_unavailable(self) -> str | None:
        if self.power is not None:
            return None
        probes = (*MEASURED_POWER_PROBES, *EXTERNAL_POWER_PROBES)
        reasons = [f"{n}: {self.unavailable[n]}" for n in probes if n in self.unavailable]
        return f"no sensor: {'; '.join(reasons)}"

    @property
    def thermal_probe(self) -> Probe | None:
        return next((p for p in self.probes if p.name == "thermal"), None)

    @property
    def thermal_unavailable(self) -> str | None:
        return None if self.thermal_probe is not None else self.unavailable.get("thermal")

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
            [_measured_window(t) for t in traces],
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


def run_interference(
    samples: Sequence[Sample], traces: Sequence[TurnTrace], throttled: bool
) -> Interference | None:
    """Other work on the device while the measured turns ran (metrics.interference): the
    cores busy per /proc/stat against the engine process's own CPU seconds, and steal, over
    the turns' windows (submit → end)."""
    windows = [(t.submit_ns, t.end_ns) for t in traces if t.end_ns > t.submit_ns]
    if not windows:
        return None
    cpu = [t.cpu_time_ns for t in traces]
    engine_cpu_s = None if any(c is None for c in cpu) else sum(c or 0 for c in cpu) / 1e9

    def inside(t_ns: int) -> bool:
        return any(start <= t_ns <= end for start, end in windows)

    busy: dict[str, list[float]] = {}
    steal: list[float] = []
    for s in samples:
        if s.probe != "cpu" or not inside(s.t_ns):
            continue
        if is_core(s.channel):
            busy.setdefault(s.channel, []).append(s.value)
        elif s.channel == "steal":
            steal.append(s.value)
    window_s = sum(end - start for start, end in windows) / 1e9
    return assess_interference(
        busy, steal, engine_cpu_s, window_s, max(len(busy), 1), throttled, "the measured turns"
    )


def _measured_window(trace: TurnTrace) -> MeasuredTurnWindow:
    return MeasuredTurnWindow(
        conversation_index=trace.conversation_index,
        windows=TurnWindows(
            submit_ns=trace.submit_ns,
            prefill_start_ns=trace.prefill_start_ns,
            prefill_done_ns=trace.prefill_done_ns,
            first_token_ns=trace.token_ns[0] if trace.token_ns else None,
            last_token_ns=trace.token_ns[-1] if trace.token_ns else None,
            end_ns=trace.end_ns,
            prompt_tokens_evaluated=trace.prompt_tokens_evaluated,
            generated_tokens=trace.generated_tokens,
        ),
        decode_tok_per_s=turn_metrics(trace).decode_tok_per_s,
    )
