"""Everything the samples of one run say: timelines, energy, battery, thermal, throttling.

Pure: takes the samples, the measured turns' windows and where the power comes from, and
returns value objects. Energy comes from exactly one power series (never a mix of measured
and estimated); when there is none, `energy` is None and the caller says why.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from melt.metrics.battery import BatteryCost, battery_cost
from melt.metrics.energy import (
    EnergyMode,
    TurnEnergy,
    TurnWindows,
    WindowEnergy,
    average,
    turn_energy,
    window_energy,
)
from melt.metrics.stats import Aggregate, aggregate
from melt.metrics.thermal import DEFAULT_COMFORT_C, ZoneThermal, zone_thermal
from melt.metrics.throttle import ThrottleFinding, decode_rate_throttling, frequency_throttling
from melt.metrics.timeline import (
    NS_PER_S,
    Point,
    Series,
    SeriesSummary,
    group_series,
    summarise,
    value_at,
)
from melt.traces.sample import Provenance, Sample

THERMAL_PROBE = "thermal"
FREQUENCY_PROBE = "cpufreq"
CPU_PROBE = "cpu"
BUSY_PERCENT = 50.0


@dataclass(frozen=True, slots=True)
class MeasuredTurnWindow:
    conversation_index: int
    windows: TurnWindows
    decode_tok_per_s: float | None


@dataclass(frozen=True, slots=True)
class PowerSource:
    """Which channel is the device's power, and (for a battery) its discharge current."""

    probe: str
    provenance: Provenance
    description: str
    channel: str = "power"
    current_channel: str | None = None
    charge_full_mah: float | None = None
    # a cumulative energy counter (J) of the same probe: window energies are its rises
    energy_channel: str | None = None


@dataclass(frozen=True, slots=True)
class Timeline:
    probe: str
    channel: str
    unit: str
    provenance: Provenance
    summary: SeriesSummary

    def as_dict(self) -> dict[str, Any]:
        return {
            "probe": self.probe,
            "channel": self.channel,
            "unit": self.unit,
            "provenance": str(self.provenance),
            **self.summary.as_dict(),
        }


@dataclass(frozen=True, slots=True)
class EnergyReport:
    source: PowerSource
    baseline_w: float | None
    run: WindowEnergy | None
    turns: tuple[TurnEnergy, ...]
    j_per_prompt_token: Aggregate
    j_per_generated_token: Aggregate
    prefill_power_w: Aggregate
    decode_power_w: Aggregate
    energy_pt_mwh_per_token: Aggregate
    discharge_pt_mah_per_token: Aggregate
    battery: BatteryCost | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source.description,
            "probe": self.source.probe,
            "provenance": str(self.source.provenance),
            "integration": str(
                EnergyMode.COUNTER if self.source.energy_channel else EnergyMode.TRAPEZOID
            ),
            "idle_baseline_w": self.baseline_w,
            "run": None if self.run is None else self.run.as_dict(),
            "j_per_prompt_token": self.j_per_prompt_token.as_dict(),
            "j_per_generated_token": self.j_per_generated_token.as_dict(),
            "prefill_avg_power_w": self.prefill_power_w.as_dict(),
            "decode_avg_power_w": self.decode_power_w.as_dict(),
            "energy_pt_mwh_per_token": self.energy_pt_mwh_per_token.as_dict(),
            "discharge_pt_mah_per_token": self.discharge_pt_mah_per_token.as_dict(),
            "battery": None if self.battery is None else self.battery.as_dict(),
            "turns": [t.as_dict() for t in self.turns],
        }


@dataclass(frozen=True, slots=True)
class RunSignalMetrics:
    timelines: tuple[Timeline, ...]
    energy: EnergyReport | None
    thermal: dict[str, ZoneThermal]
    throttling: tuple[ThrottleFinding, ...]
    over_time: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        return {
            "timelines": [t.as_dict() for t in self.timelines],
            "energy": None if self.energy is None else self.energy.as_dict(),
            "thermal": {zone: z.as_dict() for zone, z in self.thermal.items()},
            "throttling": [f.as_dict() for f in self.throttling],
            "over_time": list(self.over_time),
        }


Grouped = dict[tuple[str, str], Series]


def _points(samples: Grouped, probe: str, channel: str) -> tuple[Point, ...]:
    found = samples.get((probe, channel))
    return () if found is None else found.points


def _energy(
    samples: Grouped,
    turns: Sequence[MeasuredTurnWindow],
    source: PowerSource,
    idle: tuple[int, int] | None,
) -> EnergyReport | None:
    power = _points(samples, source.probe, source.channel)
    if not power:
        return None
    current = (
        _points(samples, source.probe, source.current_channel) if source.current_channel else ()
    )
    counter = _points(samples, source.probe, source.energy_channel) if source.energy_channel else ()
    baseline = average(power, *idle) if idle else None
    per_turn = [
        turn_energy(power, t.windows, baseline, current or None, counter or None) for t in turns
    ]
    energies = [e for e in per_turn if e is not None]
    run = (
        window_energy(
            power,
            turns[0].windows.submit_ns,
            turns[-1].windows.end_ns,
            baseline,
            counter_j=counter or None,
        )
        if turns
        else None
    )
    battery = None
    if source.charge_full_mah and current:
        by_conversation: dict[int, float] = defaultdict(float)
        for t, e in zip(turns, per_turn, strict=True):
            if e is not None and e.discharge_mah is not None:
                by_conversation[t.conversation_index] += e.discharge_mah
        battery = battery_cost(list(by_conversation.values()), source.charge_full_mah)
    return EnergyReport(
        source=source,
        baseline_w=baseline,
        run=run,
        turns=tuple(energies),
        j_per_prompt_token=aggregate([e.j_per_prompt_token for e in energies]),
        j_per_generated_token=aggregate([e.j_per_generated_token for e in energies]),
        prefill_power_w=aggregate([e.prefill.avg_power_w for e in energies if e.prefill]),
        decode_power_w=aggregate([e.decode.avg_power_w for e in energies if e.decode]),
        energy_pt_mwh_per_token=aggregate([e.energy_pt_mwh_per_token for e in energies]),
        discharge_pt_mah_per_token=aggregate([e.discharge_pt_mah_per_token for e in energies]),
        battery=battery,
    )


def _while_busy(freq: tuple[Point, ...], util: tuple[Point, ...]) -> tuple[Point, ...]:
    """The frequency samples taken while the core was at least half busy: an idle core
    clocking down is its governor saving power, not throttling. Without utilisation
    samples every frequency sample counts."""
    if not util:
        return freq
    return tuple((t, v) for t, v in freq if value_at(util, t) >= BUSY_PERCENT)


def _hottest(samples: Grouped) -> tuple[Point, ...]:
    zones = [s.points for (probe, _), s in samples.items() if probe == THERMAL_PROBE]
    if not zones:
        return ()
    return max(zones, key=lambda pts: max(v for _, v in pts))


def _over_time(
    samples: Grouped,
    turns: Sequence[MeasuredTurnWindow],
    power: tuple[Point, ...],
    buckets: int,
) -> tuple[dict[str, Any], ...]:
    """Decode rate, power and hottest temperature in equal slices of the measured span."""
    if not turns:
        return ()
    start, end = turns[0].windows.submit_ns, turns[-1].windows.end_ns
    step = (end - start) / buckets
    temps = _hottest(samples)
    out = []
    for i in range(buckets):
        lo, hi = int(start + i * step), int(start + (i + 1) * step)
        rates = [
            t.decode_tok_per_s
            for t in turns
            if t.decode_tok_per_s is not None and lo <= t.windows.submit_ns < hi
        ]
        out.append(
            {
                "start_s": (lo - start) / NS_PER_S,
                "end_s": (hi - start) / NS_PER_S,
                "turns": len(rates),
                "decode_tok_per_s": aggregate(rates).median if rates else None,
                "avg_power_w": average(power, lo, hi) if power else None,
                "max_temp_c": max((v for t, v in temps if lo <= t < hi), default=None),
            }
        )
    return tuple(out)


def run_signal_metrics(
    sampled: Sequence[Sample],
    turns: Sequence[MeasuredTurnWindow],
    power: PowerSource | None = None,
    idle: tuple[int, int] | None = None,
    comfort_c: float = DEFAULT_COMFORT_C,
    over_time_buckets: int = 0,
) -> RunSignalMetrics:
    samples = {(s.probe, s.channel): s for s in group_series(sampled)}
    timelines = [
        Timeline(s.probe, s.channel, s.unit, s.provenance, summarise(s.points))
        for s in samples.values()
    ]
    thermal = {}
    for probe, zone in samples:
        if probe == THERMAL_PROBE:
            pts = _points(samples, probe, zone)
            baseline = average(pts, *idle) if idle else None
            thermal[zone] = zone_thermal(pts, comfort_c, baseline)
    findings: list[ThrottleFinding] = []
    for probe, core in samples:
        if probe == FREQUENCY_PROBE:
            busy = _while_busy(_points(samples, probe, core), _points(samples, CPU_PROBE, core))
            if busy:
                findings.append(replace(frequency_throttling(busy), subject=core))
    rate_finding = decode_rate_throttling(
        [
            (t.windows.first_token_ns, t.decode_tok_per_s)
            for t in turns
            if t.decode_tok_per_s is not None and t.windows.first_token_ns is not None
        ],
        _hottest(samples) or None,
    )
    if rate_finding is not None:
        findings.append(rate_finding)
    energy = _energy(samples, turns, power, idle) if power is not None else None
    power_points = _points(samples, power.probe, power.channel) if power else ()
    return RunSignalMetrics(
        timelines=tuple(timelines),
        energy=energy,
        thermal=thermal,
        throttling=tuple(findings),
        over_time=_over_time(samples, turns, power_points, over_time_buckets)
        if over_time_buckets
        else (),
    )
