"""Device signals in the `melt bench` summary: timelines, energy (or why there is none),
temperature (or why there is none), throttling and the sampler's own figures.

Energy rows appear only when a power source exists; an estimated source is labelled
ESTIMATED on every row that uses it.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from melt.metrics.signals import EnergyReport, Timeline
from melt.metrics.stats import Aggregate
from melt.monitor import RunSignals
from melt.report.units import fmt, fmt_bytes
from melt.traces.sample import Provenance

SIGNAL_LABELS = {
    "cpu": "CPU utilisation",
    "cpufreq": "CPU frequency",
    "memory": "Memory",
    "thermal": "Temperature",
    "battery": "Battery",
    "rapl": "RAPL power",
    "ina3221": "INA3221 rail",
    "cpu_power_model": "CPU power model",
}


def _value(timeline: Timeline, value: float) -> str:
    if timeline.unit == "B":
        return fmt_bytes(int(value))
    return fmt(value, 1 if timeline.unit in ("%", "MHz", "°C") else 3)


def timeline_table(signals: RunSignals, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("signal", "channel", "unit", "source", "min", "mean", "max", "last"):
        left = column in ("signal", "channel", "unit", "source")
        table.add_column(column, justify="left" if left else "right")
    for t in signals.metrics.timelines:
        s = t.summary
        table.add_row(
            SIGNAL_LABELS.get(t.probe, t.probe),
            t.channel,
            t.unit,
            "ESTIMATED" if t.provenance is Provenance.ESTIMATED else "measured",
            _value(t, s.min),
            _value(t, s.mean),
            _value(t, s.max),
            _value(t, s.last),
        )
    return table


def _agg_row(table: Table, label: str, unit: str, agg: Aggregate, digits: int) -> None:
    table.add_row(label, unit, str(agg.n), fmt(agg.median, digits), fmt(agg.mean, digits))


def energy_table(energy: EnergyReport) -> Table:
    estimated = energy.source.provenance is Provenance.ESTIMATED
    tag = "ESTIMATED " if estimated else ""
    table = Table(
        title=f"{tag}energy per turn ({energy.source.description}; trapezoid integration)",
        title_justify="left",
    )
    for column in ("metric", "unit", "n", "median", "mean"):
        table.add_column(column, justify="left" if column in ("metric", "unit") else "right")
    _agg_row(table, f"{tag}prefill energy per prompt token", "J/tok", energy.j_per_prompt_token, 4)
    _agg_row(
        table, f"{tag}decode energy per generated token", "J/tok", energy.j_per_generated_token, 4
    )
    _agg_row(table, f"{tag}average power, prefill", "W", energy.prefill_power_w, 3)
    _agg_row(table, f"{tag}average power, decode", "W", energy.decode_power_w, 3)
    _agg_row(
        table,
        f"{tag}energy_pt (MELT comparison, trapezoid)",
        "mWh/tok",
        energy.energy_pt_mwh_per_token,
        5,
    )
    if energy.discharge_pt_mah_per_token.n:
        _agg_row(
            table,
            f"{tag}discharge_pt (MELT comparison, trapezoid)",
            "mAh/tok",
            energy.discharge_pt_mah_per_token,
            5,
        )
    return table


def energy_lines(energy: EnergyReport) -> Text:
    tag = "ESTIMATED " if energy.source.provenance is Provenance.ESTIMATED else ""
    text = Text()
    if energy.baseline_w is not None:
        text.append(
            f"{tag}idle baseline {fmt(energy.baseline_w, 3)} W; per-token figures have it "
            "subtracted, energy_pt is raw\n"
        )
    if energy.run is not None:
        net = energy.run.net_energy_j
        text.append(
            f"{tag}run energy {fmt(energy.run.energy_j, 2)} J raw"
            + (f", {fmt(net, 2)} J above idle" if net is not None else "")
            + f" over {fmt(energy.run.duration_s, 2)} s\n"
        )
    if energy.battery is not None:
        b = energy.battery
        text.append(
            f"{tag}battery: {fmt(b.percent_per_conversation, 3)}% of "
            f"{fmt(b.charge_full_mah, 0)} mAh per conversation, "
            f"{fmt(b.conversations_per_charge, 0)} conversations per full charge\n"
        )
    return text


def thermal_table(signals: RunSignals) -> Table:
    zones = signals.metrics.thermal
    threshold = next(iter(zones.values())).threshold_c
    table = Table(title="Temperature per zone", title_justify="left")
    for column in ("zone", "start °C", "max °C", "rise °C", f"time above {threshold:g} °C s"):
        table.add_column(column, justify="left" if column == "zone" else "right")
    for zone, z in zones.items():
        table.add_row(
            zone, fmt(z.start_c, 1), fmt(z.max_c, 1), fmt(z.rise_c, 1), fmt(z.time_above_s, 1)
        )
    return table


def throttling_line(signals: RunSignals) -> str:
    flagged = [f for f in signals.metrics.throttling if f.throttled]
    if flagged:
        parts = [
            f"{f.rule} rule {f.subject} from {fmt(f.onset_s, 1)} s ({_evidence(f.evidence)})"
            for f in flagged
        ]
        return "throttling: DETECTED by " + "; ".join(parts)
    checked = [f.rule for f in signals.metrics.throttling]
    if not checked:
        return "throttling: not evaluated (no frequency samples and fewer than 3 turns)"
    return f"throttling: none detected ({', '.join(sorted(set(checked)))} rules checked)"


def _evidence(evidence: dict[str, Any]) -> str:
    keep = ("plateau", "limit", "min", "early_decode_tok_per_s", "late_decode_tok_per_s")
    return ", ".join(f"{k} {fmt(evidence[k], 1)}" for k in keep if k in evidence)


def sampler_line(signals: RunSignals) -> str:
    s = signals.sampling
    cooldown = signals.windows.get("cooldown", {})
    share = None if s.cpu_s_per_s is None else 100 * s.cpu_s_per_s
    line = (
        f"sampler: {fmt(s.target_hz, 1)} Hz target, {fmt(s.achieved_hz, 2)} Hz achieved, "
        f"{s.dropped} dropped ticks, {s.samples} samples over {fmt(s.duration_s, 1)} s, "
        f"own CPU {fmt(s.cpu_s, 3)} s ({fmt(share, 2)}% of one core)"
    )
    if s.read_errors:
        line += f"; read errors {s.read_errors}"
    if cooldown.get("mode", "off") != "off":
        line += f"; cooldown {cooldown['mode']} waited {fmt(cooldown['waited_s'], 1)} s"
    return line


def signals_parts(signals: RunSignals, run_id: int) -> list[Any]:
    """Everything about one run's device signals, in reading order."""
    parts: list[Any] = [timeline_table(signals, f"Device signals, run {run_id}")]
    energy = signals.metrics.energy
    if energy is not None:
        parts.append(energy_table(energy))
        parts.append(energy_lines(energy))
    if signals.metrics.thermal:
        parts.append(thermal_table(signals))
    parts.extend(availability_lines(signals))
    if signals.metrics.over_time:
        parts.append(over_time_table(signals))
    parts.append(Text(throttling_line(signals)))
    parts.append(Text(sampler_line(signals)))
    return parts


def _timeline_mean(signals: RunSignals, probe: str, channel: str | None = None) -> float | None:
    values = [
        t.summary.mean
        for t in signals.metrics.timelines
        if t.probe == probe and (channel is None or t.channel == channel)
    ]
    return sum(values) / len(values) if values else None


def _timeline_max(signals: RunSignals, probe: str, channel: str | None = None) -> float | None:
    values = [
        t.summary.max
        for t in signals.metrics.timelines
        if t.probe == probe and (channel is None or t.channel == channel)
    ]
    return max(values) if values else None


def runs_signals_table(rows: list[tuple[int, str, RunSignals]]) -> Table:
    """One line of device signals per run, for sweeps and repeats; the energy and
    temperature columns appear only when some run has them."""
    has_energy = any(sig.metrics.energy is not None for _, _, sig in rows)
    has_thermal = any(sig.metrics.thermal for _, _, sig in rows)
    table = Table(title="Device signals per run", title_justify="left")
    columns = ["run", "variant", "CPU % (mean)", "CPU MHz (mean)", "process RSS max"]
    columns += ["decode J/tok"] * has_energy + ["max °C"] * has_thermal
    for column in (*columns, "throttled", "sampler Hz"):
        table.add_column(column, justify="left" if column == "variant" else "right")
    for run_id, label, sig in rows:
        rss = _timeline_max(sig, "memory", "process_rss")
        cells = [
            str(run_id),
            label,
            fmt(_timeline_mean(sig, "cpu", "cpu"), 1),
            fmt(_timeline_mean(sig, "cpufreq"), 0),
            fmt_bytes(None if rss is None else int(rss)),
        ]
        if has_energy:
            cells.append(_decode_joules(sig.metrics.energy))
        if has_thermal:
            cells.append(fmt(_timeline_max(sig, "thermal"), 1))
        throttled = [f.rule for f in sig.metrics.throttling if f.throttled]
        cells += [", ".join(throttled) or "no", fmt(sig.sampling.achieved_hz, 2)]
        table.add_row(*cells)
    return table


def _decode_joules(energy: EnergyReport | None) -> str:
    if energy is None:
        return "–"
    text = fmt(energy.j_per_generated_token.median, 4)
    if energy.source.provenance is Provenance.ESTIMATED:
        text += " ESTIMATED"
    return text


def availability_lines(signals: RunSignals) -> list[Text]:
    """The one-line statements of what could not be measured."""
    lines = []
    if signals.metrics.energy is None:
        lines.append(Text(f"energy: unavailable ({signals.energy_unavailable})"))
    if not signals.metrics.thermal:
        lines.append(Text(f"temperature: unavailable ({signals.thermal_unavailable})"))
    return lines


def over_time_table(signals: RunSignals) -> Table:
    table = Table(title="Sustained run over time", title_justify="left")
    for column in ("from s", "to s", "turns", "decode tok/s", "power W", "max temp °C"):
        table.add_column(column, justify="right")
    for b in signals.metrics.over_time:
        table.add_row(
            fmt(b["start_s"], 0),
            fmt(b["end_s"], 0),
            str(b["turns"]),
            fmt(b["decode_tok_per_s"], 1),
            fmt(b["avg_power_w"], 3),
            fmt(b["max_temp_c"], 1),
        )
    return table
