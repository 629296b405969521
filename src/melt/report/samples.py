"""A stored run's sample series for `melt runs show`: one summary line per series, the
sampler's record, and the raw points of one series.

Times are seconds from the run's start on the device's monotonic clock: the sampler's start
when the run has a sampling record, else its first sample (`store.export.origin_ns`). Every
series says its unit and its provenance: measured by which probe (and what that probe read),
or ESTIMATED by which model.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text

from melt.errors import MeltError
from melt.metrics.timeline import NS_PER_S, Series, group_series
from melt.report.layout import Column, FittedTable
from melt.report.units import BYTE_UNITS, fmt, fmt_bytes, fmt_own_cpu
from melt.traces.sample import Provenance, Sample


@dataclass(frozen=True, slots=True)
class SeriesOverview:
    """One stored series: what it is, where it comes from, and its values at a glance."""

    probe: str
    channel: str
    unit: str
    provenance: Provenance
    source: str | None
    n: int
    rate_hz: float | None
    min: float
    median: float
    max: float
    first_s: float
    last_s: float

    @property
    def name(self) -> str:
        return f"{self.probe}/{self.channel}"

    @property
    def provenance_text(self) -> str:
        if self.provenance is Provenance.ESTIMATED:
            return f"ESTIMATED by {self.probe}"
        return f"measured by {self.probe}"


def all_series(samples: Sequence[Sample]) -> list[Series]:
    """Every (probe, channel) series of a run, in first-seen order."""
    return group_series(samples)


def summarise_series(series: Series, source: str | None, origin_ns: int) -> SeriesOverview:
    values = [v for _, v in series.points]
    first_ns, last_ns = series.points[0][0], series.points[-1][0]
    span_s = (last_ns - first_ns) / NS_PER_S
    return SeriesOverview(
        probe=series.probe,
        channel=series.channel,
        unit=series.unit,
        provenance=series.provenance,
        source=source,
        n=len(values),
        rate_hz=(len(values) - 1) / span_s if span_s > 0 else None,
        min=min(values),
        median=statistics.median(values),
        max=max(values),
        first_s=(first_ns - origin_ns) / NS_PER_S,
        last_s=(last_ns - origin_ns) / NS_PER_S,
    )


def fmt_value(value: float, unit: str) -> str:
    if unit in BYTE_UNITS:
        return fmt_bytes(int(value))
    return fmt(value, 1 if unit in ("%", "MHz", "°C") else 3)


def series_table(rows: Sequence[SeriesOverview]) -> FittedTable:
    """One line per series; the series name and its unit are never cut (provenance is also
    in `sources_text`, so it is among the columns left out first on a narrow terminal)."""
    columns = (
        Column("series", 0, whole=True),
        Column("unit", 0, whole=True),
        Column("median", 1, "right"),
        Column("n", 2, "right"),
        Column("min", 2, "right"),
        Column("max", 2, "right"),
        Column("provenance", 3),
        Column("rate Hz", 3, "right"),
        Column("from s", 4, "right"),
        Column("to s", 4, "right"),
    )
    cells = [
        (
            r.name,
            r.unit,
            fmt_value(r.median, r.unit),
            str(r.n),
            fmt_value(r.min, r.unit),
            fmt_value(r.max, r.unit),
            r.provenance_text,
            fmt(r.rate_hz, 2),
            fmt(r.first_s, 3),
            fmt(r.last_s, 3),
        )
        for r in rows
    ]
    return FittedTable(columns, cells, title="sample series")


def sources_text(rows: Sequence[SeriesOverview]) -> Text:
    """What each probe of the table read, one line per probe."""
    seen = dict.fromkeys((r.probe, r.provenance, r.source) for r in rows)
    lines = [
        f"{'ESTIMATED' if prov is Provenance.ESTIMATED else 'measured'} by {probe}: "
        f"{source or 'source not recorded'}"
        for probe, prov, source in seen
    ]
    return Text("\n".join(lines))


def sampling_text(sampling: Mapping[str, Any]) -> Text:
    """The sampler's record: rates, drops, its own cost, what was unavailable and why."""
    duration_s = (sampling["stopped_ns"] - sampling["started_ns"]) / NS_PER_S
    lines = [
        f"sampler: {fmt(sampling['target_hz'], 1)} Hz target, "
        f"{fmt(sampling['achieved_hz'], 2)} Hz achieved, {sampling['ticks']} ticks over "
        f"{fmt(duration_s, 3)} s, {sampling['dropped']} dropped ticks, "
        + fmt_own_cpu(sampling["cpu_s"], sampling.get("cpu_s_per_s"))
    ]
    record = sampling.get("read_errors") or {}
    errors = record.get("counts") or {}
    if errors:
        lines.append(f"read errors: {', '.join(f'{k} {v}' for k, v in errors.items())}")
    if record.get("sampler_error"):
        lines.append(
            f"sampler FAILED: {record['sampler_error']}; "
            f"{record.get('unflushed_samples', 0)} sample(s) not stored"
        )
    windows = sampling.get("windows") or {}
    idle = windows.get("idle_baseline")
    if idle:
        start_s = (idle["start_ns"] - sampling["started_ns"]) / NS_PER_S
        lines.append(f"idle baseline: {fmt(idle['duration_s'], 3)} s from {fmt(start_s, 3)} s")
    cooldown = windows.get("cooldown") or {}
    if cooldown.get("mode", "off") != "off":
        lines.append(f"cooldown {cooldown['mode']}: waited {fmt(cooldown['waited_s'], 1)} s")
    for probe, why in (sampling.get("unavailable") or {}).items():
        lines.append(f"unavailable: {probe}: {why}")
    return Text("\n".join(lines))


def pick_series(series: Sequence[Series], name: str) -> Series:
    """The series named `probe/channel`, else the one whose channel is `name`, else the
    one of probe `name`; an ambiguous or unknown name lists the candidates."""
    candidates: list[Series] = []
    for matches in (
        lambda s: f"{s.probe}/{s.channel}" == name,
        lambda s: s.channel == name,
        lambda s: s.probe == name,
    ):
        candidates = [s for s in series if matches(s)]
        if len(candidates) == 1:
            return candidates[0]
        if candidates:
            break
    names = ", ".join(f"{s.probe}/{s.channel}" for s in (candidates or series)) or "none stored"
    what = "is ambiguous" if candidates else "is not a series of this run"
    raise MeltError(f"--series '{name}' {what} (series: {names})")


def points_text(series: Series, source: str | None, origin_ns: int) -> str:
    """The raw points of one series, one `t_s value` line each, under a header that says
    the unit, the provenance and where t = 0 is."""
    row = summarise_series(series, source, origin_ns)
    header = (
        f"# {row.name}: {len(series.points)} samples, unit {series.unit}, "
        f"{row.provenance_text}: {source or 'source not recorded'}; "
        "t in s from the run's start\n"
        f"{'t_s':>12}  value_{series.unit}\n"
    )
    lines = [f"{(t - origin_ns) / NS_PER_S:12.6f}  {v:.9g}" for t, v in series.points]
    return header + "\n".join(lines) + "\n"
