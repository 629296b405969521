"""A run's device signals as the store holds them (the `signals` document of the run's
summary, `RunSignals.as_dict()`): timelines, energy (or why there is none), temperature (or
why there is none), throttling, interference and the sampler's own figures. `melt bench`,
`melt report` and `melt runs show` print them from the store through these.

Energy rows appear only when a power source exists; an estimated source is labelled
ESTIMATED on every row that uses it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.table import Table
from rich.text import Text

from melt.report.backends import ACCELERATOR_PROBES
from melt.report.units import BYTE_UNITS, fmt, fmt_bytes, fmt_own_cpu
from melt.traces.sample import Provenance

Doc = Mapping[str, Any]  # a signals document, or a part of one

SIGNAL_LABELS = {
    "cpu": "CPU utilisation",
    "cpufreq": "CPU frequency",
    "memory": "Memory",
    "thermal": "Temperature",
    "battery": "Battery",
    "rapl": "RAPL power",
    "ina3221": "INA3221 rail",
    "cpu_power_model": "CPU power model",
    "nvml": "NVIDIA GPU (NVML)",
    "jetson_gpu": "Jetson GPU",
    "kgsl": "Adreno GPU (kgsl)",
    "mali": "Mali GPU",
    "devfreq": "devfreq device",
    "intel_gpu": "Intel GPU",
    "amdgpu": "AMD GPU",
}


def _estimated(part: Doc) -> bool:
    return part.get("provenance") == str(Provenance.ESTIMATED)


def _value(timeline: Doc, key: str) -> str:
    value = timeline.get(key)
    if timeline["unit"] in BYTE_UNITS:
        return fmt_bytes(None if value is None else int(value))
    return fmt(value, 1 if timeline["unit"] in ("%", "MHz", "°C") else 3)


def timeline_table(signals: Doc, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("signal", "channel", "unit", "source", "min", "mean", "max", "last"):
        left = column in ("signal", "channel", "unit", "source")
        table.add_column(column, justify="left" if left else "right")
    for t in signals.get("timelines") or ():
        table.add_row(
            SIGNAL_LABELS.get(t["probe"], t["probe"]),
            t["channel"],
            t["unit"],
            "ESTIMATED" if _estimated(t) else "measured",
            *(_value(t, key) for key in ("min", "mean", "max", "last")),
        )
    return table


def _agg_row(table: Table, label: str, unit: str, agg: Doc, digits: int) -> None:
    table.add_row(
        label, unit, str(agg["n"]), fmt(agg.get("median"), digits), fmt(agg.get("mean"), digits)
    )


def energy_table(energy: Doc) -> Table:
    tag = "ESTIMATED " if _estimated(energy) else ""
    table = Table(
        title=f"{tag}energy per turn ({energy['source']}; "
        f"{energy.get('integration', 'trapezoid')} integration)",
        title_justify="left",
    )
    for column in ("metric", "unit", "n", "median", "mean"):
        table.add_column(column, justify="left" if column in ("metric", "unit") else "right")
    rows = (
        ("prefill energy per prompt token", "J/tok", "j_per_prompt_token", 4),
        ("decode energy per generated token", "J/tok", "j_per_generated_token", 4),
        ("average power, prefill", "W", "prefill_avg_power_w", 3),
        ("average power, decode", "W", "decode_avg_power_w", 3),
        ("energy_pt (MELT comparison, trapezoid)", "mWh/tok", "energy_pt_mwh_per_token", 5),
    )
    for label, unit, key, digits in rows:
        _agg_row(table, f"{tag}{label}", unit, energy[key], digits)
    discharge = energy.get("discharge_pt_mah_per_token") or {}
    if discharge.get("n"):
        label = f"{tag}discharge_pt (MELT comparison, trapezoid)"
        _agg_row(table, label, "mAh/tok", discharge, 5)
    return table


def energy_lines(energy: Doc) -> Text:
    tag = "ESTIMATED " if _estimated(energy) else ""
    text = Text()
    baseline = energy.get("idle_baseline_w")
    if baseline is not None:
        text.append(
            f"{tag}idle baseline {fmt(baseline, 3)} W; per-token figures have it "
            "subtracted, energy_pt is raw\n"
        )
    run = energy.get("run")
    if run is not None:
        net = run.get("net_energy_j")
        text.append(
            f"{tag}run energy {fmt(run['energy_j'], 2)} J raw"
            + (f", {fmt(net, 2)} J above idle" if net is not None else "")
            + f" over {fmt(run['duration_s'], 2)} s\n"
        )
    b = energy.get("battery")
    if b is not None:
        text.append(
            f"{tag}battery: {fmt(b['percent_per_conversation'], 3)}% of "
            f"{fmt(b['charge_full_mah'], 0)} mAh per conversation, "
            f"{fmt(b['conversations_per_charge'], 0)} conversations per full charge\n"
        )
    return text


def thermal_table(signals: Doc) -> Table:
    zones: Doc = signals["thermal"]
    threshold = next(iter(zones.values()))["threshold_c"]
    table = Table(title="Temperature per zone", title_justify="left")
    for column in ("zone", "start °C", "max °C", "rise °C", f"time above {threshold:g} °C s"):
        table.add_column(column, justify="left" if column == "zone" else "right")
    for zone, z in zones.items():
        keys = ("start_c", "max_c", "rise_c", "time_above_s")
        table.add_row(zone, *(fmt(z[k], 1) for k in keys))
    return table


def throttling_line(signals: Doc) -> str:
    findings = signals.get("throttling") or ()
    flagged = [f for f in findings if f["throttled"]]
    if flagged:
        parts = [
            f"{f['rule']} rule {f['subject']} from {fmt(f['onset_s'], 1)} s "
            f"({_evidence(f['evidence'])})"
            for f in flagged
        ]
        return "throttling: DETECTED by " + "; ".join(parts)
    checked = [f["rule"] for f in findings]
    if not checked:
        return "throttling: not evaluated (no frequency samples and fewer than 3 turns)"
    return f"throttling: none detected ({', '.join(sorted(set(checked)))} rules checked)"


def _evidence(evidence: Doc) -> str:
    keep = ("plateau", "limit", "min", "early_decode_tok_per_s", "late_decode_tok_per_s")
    return ", ".join(f"{k} {fmt(evidence[k], 1)}" for k in keep if k in evidence)


def sampler_line(signals: Doc) -> str:
    s = signals["sampling"]
    cooldown = (signals.get("windows") or {}).get("cooldown", {})
    line = (
        f"sampler: {fmt(s['target_hz'], 1)} Hz target, {fmt(s['achieved_hz'], 2)} Hz achieved, "
        f"{s['dropped']} dropped ticks, {s['samples']} samples over {fmt(s['duration_s'], 1)} s, "
        + fmt_own_cpu(s.get("cpu_s"), s.get("cpu_s_per_s"))
    )
    if s.get("read_errors"):
        line += f"; read errors {s['read_errors']}"
    if s.get("error") is not None:
        line += f"; sampler FAILED: {s['error']}, {s['unflushed_samples']} sample(s) not stored"
    if cooldown.get("mode", "off") != "off":
        line += f"; cooldown {cooldown['mode']} waited {fmt(cooldown['waited_s'], 1)} s"
    return line


def signals_parts(signals: Doc, run_id: int) -> list[Any]:
    """Everything about one run's device signals, in reading order."""
    parts: list[Any] = [timeline_table(signals, f"Device signals, run {run_id}")]
    energy = signals.get("energy")
    if energy is not None:
        parts.append(energy_table(energy))
        parts.append(energy_lines(energy))
    if signals.get("thermal"):
        parts.append(thermal_table(signals))
    parts.extend(availability_lines(signals))
    if signals.get("over_time"):
        parts.append(over_time_table(signals))
    parts.append(Text(throttling_line(signals)))
    parts.append(Text(interference_line(signals)))
    parts.append(Text(sampler_line(signals)))
    return parts


def interference_line(signals: Doc) -> str:
    """Whether something else ran on the device while it was measured (the flag, with its
    evidence, is stored in the run's summary)."""
    if "interference" not in signals:
        return "interference: not recorded (the run was stored before melt judged it)"
    found = signals["interference"]
    if found is None:
        return "interference: not judged (no measured turns)"
    if found["flagged"]:
        return "interference: FLAGGED, the figures are not a quiet device's: " + "; ".join(
            found["reasons"]
        )
    seen = []
    if found.get("other_cores") is not None:
        seen.append(f"other processes {found['other_cores']:.2f} cores")
    if found.get("steal_pct") is not None:
        seen.append(f"steal {found['steal_pct']:.1f}%")
    unknown = f"; {'; '.join(found['unknown'])}" if found.get("unknown") else ""
    return f"interference: none seen ({', '.join(seen) or 'nothing measurable'}){unknown}"


def _timeline_values(signals: Doc, key: str, probe: str, channel: str | None) -> list[float]:
    return [
        t[key]
        for t in signals.get("timelines") or ()
        if t["probe"] == probe and (channel is None or t["channel"] == channel)
        and t.get(key) is not None
    ]  # fmt: skip


def _timeline_mean(signals: Doc, probe: str, channel: str | None = None) -> float | None:
    values = _timeline_values(signals, "mean", probe, channel)
    return sum(values) / len(values) if values else None


def _timeline_max(signals: Doc, probe: str, channel: str | None = None) -> float | None:
    values = _timeline_values(signals, "max", probe, channel)
    return max(values) if values else None


def accelerator_load(signals: Doc) -> float | None:
    """The mean load of the busiest accelerator channel in % (None: no accelerator probe)."""
    means = [
        t["mean"]
        for t in signals.get("timelines") or ()
        if t["probe"] in ACCELERATOR_PROBES and t["unit"] == "%" and t.get("mean") is not None
    ]
    return max(means) if means else None


def runs_signals_table(rows: list[tuple[int, str, Doc]]) -> Table:
    """One line of device signals per run, for sweeps and repeats; the accelerator, energy
    and temperature columns appear only when some run has them."""
    has_accel = any(accelerator_load(sig) is not None for _, _, sig in rows)
    has_energy = any(sig.get("energy") is not None for _, _, sig in rows)
    has_thermal = any(sig.get("thermal") for _, _, sig in rows)
    table = Table(title="Device signals per run", title_justify="left")
    columns = ["run", "variant", "CPU % (mean)", "CPU MHz (mean)", "process RSS max"]
    columns += ["accelerator load % (mean)"] * has_accel
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
        if has_accel:
            cells.append(fmt(accelerator_load(sig), 1))
        if has_energy:
            cells.append(_decode_joules(sig.get("energy")))
        if has_thermal:
            cells.append(fmt(_timeline_max(sig, "thermal"), 1))
        throttled = [f["rule"] for f in sig.get("throttling") or () if f["throttled"]]
        achieved_hz = (sig.get("sampling") or {}).get("achieved_hz")
        cells += [", ".join(throttled) or "no", fmt(achieved_hz, 2)]
        table.add_row(*cells)
    return table


def _decode_joules(energy: Doc | None) -> str:
    if energy is None:
        return "–"
    text = fmt(energy["j_per_generated_token"].get("median"), 4)
    if _estimated(energy):
        text += " ESTIMATED"
    return text


def availability_lines(signals: Doc) -> list[Text]:
    """The one-line statements of what could not be measured."""
    lines = []
    if signals.get("energy") is None:
        lines.append(Text(f"energy: unavailable ({signals.get('energy_unavailable')})"))
    if not signals.get("thermal"):
        lines.append(Text(f"temperature: unavailable ({signals.get('thermal_unavailable')})"))
    return lines


def over_time_table(signals: Doc) -> Table:
    table = Table(title="Sustained run over time", title_justify="left")
    for column in ("from s", "to s", "turns", "decode tok/s", "power W", "max temp °C"):
        table.add_column(column, justify="right")
    for b in signals["over_time"]:
        table.add_row(
            fmt(b["start_s"], 0),
            fmt(b["end_s"], 0),
            str(b["turns"]),
            fmt(b["decode_tok_per_s"], 1),
            fmt(b["avg_power_w"], 3),
            fmt(b["max_temp_c"], 1),
        )
    return table
