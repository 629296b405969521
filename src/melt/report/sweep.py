"""The sweep table of stored runs: one row per cell (one model artifact at one setting, on
one device through one framework), the measured turns of its repeats pooled.

Rows are grouped by model and sorted by bits per weight, so the trade-off between size,
speed and (when a power source exists) energy reads top to bottom. Energy columns are per
source: measured and estimated never share one; without a source there are none. Everything
in it is read from the store, so `melt bench` and `melt report` print the same table.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.table import Table
from rich.text import Text

from melt.config.settings import RunSettings, engine_knobs
from melt.metrics.cell_energy import CellEnergy, EnergySource, cell_energy
from melt.metrics.stats import Aggregate, aggregate
from melt.report.backends import compute_label
from melt.report.selection import measured_turns
from melt.report.units import fmt, fmt_bytes
from melt.store import Store

EnergyKey = tuple[EnergySource, bool]
SETTING_KEYS = tuple(RunSettings.model_fields)


@dataclass(frozen=True, slots=True)
class StoredCell:
    """The stored runs of one cell and their measured turns, pooled."""

    runs: tuple[dict[str, Any], ...]
    turns: tuple[dict[str, Any], ...]

    @property
    def first(self) -> dict[str, Any]:
        return self.runs[0]

    @property
    def settings(self) -> dict[str, Any]:
        return self.first.get("settings") or {}

    @property
    def bits_per_weight(self) -> float | None:
        for run in self.runs:
            params = (run.get("settings") or {}).get("model_params")
            if params and run.get("model_bytes"):
                return 8 * run["model_bytes"] / params
        return None

    def metric(self, name: str) -> Aggregate:
        return aggregate([t[name] for t in self.turns])

    def energy(self) -> tuple[CellEnergy, ...]:
        return cell_energy([_energy_document(r) for r in self.runs])


def _energy_document(run: Mapping[str, Any]) -> dict[str, Any] | None:
    signals = (run.get("summary") or {}).get("signals") or {}
    return signals.get("energy") or None


def cell_key(run: Mapping[str, Any]) -> str:
    """What makes two runs repeats of one cell: device, framework, artifact, settings, and
    the compute backend the engine reported (a GPU run is never a repeat of a CPU run)."""
    settings = run.get("settings") or {}
    shape = {k: settings.get(k) for k in SETTING_KEYS}
    return json.dumps(
        [run["device"], run["framework"], run["model_sha256"], shape, compute_label(run)],
        sort_keys=True,
        default=str,
    )


def cell_groups(runs: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The runs grouped into cells, in order of each cell's first run (no store reads)."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        grouped.setdefault(cell_key(run), []).append(run)
    return list(grouped.values())


def stored_cells(store: Store, runs: Sequence[dict[str, Any]]) -> list[StoredCell]:
    """The runs' cells, each with its runs' measured turns pooled."""
    return [
        StoredCell(tuple(g), tuple(t for r in g for t in measured_turns(store, r["id"])))
        for g in cell_groups(runs)
    ]


def _sort_key(cell: StoredCell) -> tuple[Any, ...]:
    run = cell.first
    return (
        run["model_name"],
        -(cell.bits_per_weight or 0.0),
        *(run.get(k) or 0 for k in ("threads", "ctx", "batch", "max_new_tokens")),
    )


def _energy_note(mark: int, energy: CellEnergy) -> str:
    net = "above the idle baseline" if energy.baseline_subtracted else "raw (no idle baseline)"
    return (
        f"[{mark}] {energy.source.description}: J/tok = decode energy {net} per generated "
        "token (generated − 1 decode steps), W = average power over the decode window (raw); "
        "medians over turns, 95% CI in --json; trapezoid integration"
    )


def sweep_parts(cells: Sequence[StoredCell]) -> list[Any]:
    """The sweep table and, when it has energy columns, the footnotes naming their source."""
    sources: dict[EnergyKey, CellEnergy] = {}
    for cell in cells:
        for energy in cell.energy():
            sources.setdefault(energy.key, energy)
    parts: list[Any] = [sweep_table(cells, list(sources))]
    if sources:
        notes = [_energy_note(i, e) for i, e in enumerate(sources.values(), start=1)]
        parts.append(Text("\n".join(notes)))
    return parts


def _med_ci(a: Aggregate, digits: int) -> str:
    ci = f"{fmt(a.ci_low, digits)}–{fmt(a.ci_high, digits)}" if a.n else "–"
    return f"{fmt(a.median, digits)} [{ci}]"


def _energy_cells(cell: StoredCell, energy_keys: Sequence[EnergyKey]) -> list[str]:
    found = {e.key: e for e in cell.energy()}
    out: list[str] = []
    for key in energy_keys:
        e = found.get(key)
        out += (
            [fmt(e.j_per_generated_token.median, 4), fmt(e.decode_power_w.median, 3)]
            if e is not None
            else ["–", "–"]
        )
    return out


COLUMNS = (
    "model",
    "quant",
    "size",
    "bits/weight",
    "threads",
    "ctx",
    "settings",
    "compute",
    "TTFT s",
    "prefill tok/s",
    "decode tok/s",
    "peak RSS",
    "load s",
    "turns",
)


def sweep_table(cells: Sequence[StoredCell], energy_keys: Sequence[EnergyKey] = ()) -> Table:
    """One row per cell; each of `energy_keys` (from `sweep_parts`) adds two columns."""
    table = Table(title="Sweep: median [95% CI] per variant × setting", title_justify="left")
    for column in COLUMNS:
        left = column in ("model", "quant", "compute")
        table.add_column(column, justify="left" if left else "right")
    for mark, (source, _) in enumerate(energy_keys, start=1):
        tag = "ESTIMATED " if source.estimated else ""
        table.add_column(f"{tag}J/tok [{mark}]", justify="right", no_wrap=True)
        table.add_column(f"{tag}W [{mark}]", justify="right", no_wrap=True)
    previous_model = None
    for cell in sorted(cells, key=_sort_key):
        run = cell.first
        if previous_model is not None and run["model_name"] != previous_model:
            table.add_section()
        previous_model = run["model_name"]
        peaks = [r["peak_rss_bytes"] for r in cell.runs if r.get("peak_rss_bytes") is not None]
        loads = [r["load_time_s"] for r in cell.runs if r.get("load_time_s") is not None]
        table.add_row(
            run["model_name"],
            run["model_quant"],
            fmt_bytes(run["model_size_bytes"]),
            fmt(cell.bits_per_weight, 2),
            fmt(run.get("threads")),
            fmt(run.get("ctx")),
            engine_knobs(cell.settings.get("engine") or {}),
            compute_label(run),
            _med_ci(cell.metric("ttft_s"), 3),
            _med_ci(cell.metric("prefill_tok_per_s"), 1),
            _med_ci(cell.metric("decode_tok_per_s"), 1),
            fmt_bytes(max(peaks, default=None)),
            fmt(min(loads, default=None), 3),
            str(len(cell.turns)),
            *_energy_cells(cell, energy_keys),
        )
    return table
