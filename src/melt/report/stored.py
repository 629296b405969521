"""The terminal report of stored runs, as `melt report RUN_ID…` prints it, and each run's
turns as `melt runs show` prints them. `melt bench` prints its summary through these,
read back from the store by the ids it just wrote, never from its in-memory result: what
the runs were, their figures, their turns, the device signals and what the device did to
them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Group
from rich.text import Text

from melt.metrics.ops import op_shares
from melt.metrics.qoe import DEFAULT_READING_WPM
from melt.report.backends import backends_table
from melt.report.content import build_report
from melt.report.header import header_parts
from melt.report.profile import energy_table, op_table, summary_table
from melt.report.reconcile import reconcile_parts
from melt.report.runs import turns_table
from melt.report.signals import availability_lines, runs_signals_table, signals_parts
from melt.report.sweep import cell_groups, stored_cells, sweep_parts
from melt.report.terminal import report_table
from melt.results import BenchResult
from melt.store import Store
from melt.store.profiles import energy_figures, op_timings

TOP_OPS = 10


def one_run_parts(store: Store, run: dict[str, Any]) -> list[Any]:
    """One run's summary, with its per-op profile and energy figures when it has them."""
    parts: list[Any] = [summary_table(run)]
    timings = op_timings(store, run["id"])
    if timings:
        parts.append(op_table(op_shares(timings), TOP_OPS, "per-op profile (wall time)"))
    figures = energy_figures(store, run["id"])
    if figures:
        parts.append(energy_table(figures))
    return parts


def figure_parts(
    store: Store, runs: Sequence[dict[str, Any]], reading_wpm: float = DEFAULT_READING_WPM
) -> list[Any]:
    """One run: its summary; several: the sweep table (their cells, repeats pooled), the runs
    side by side per compute backend when they ran on more than one, then the summary table
    with CIs and the QoE verdicts."""
    if len(runs) == 1:
        return one_run_parts(store, runs[0])
    sweep = sweep_parts(stored_cells(store, runs))  # reads turns: only when there is a sweep
    content = build_report(store, runs, reading_wpm)
    backends = [backends_table(content.backends)] if content.backends else []
    return [*sweep, *backends, report_table(content)]


def _head(runs: Sequence[dict[str, Any]]) -> list[Any]:
    if not runs:
        return []
    cells = cell_groups(runs)
    return header_parts(runs, len(cells), max(len(c) for c in cells))


def _signals(run: Mapping[str, Any]) -> dict[str, Any] | None:
    return (run.get("summary") or {}).get("signals") or None


def signal_parts(runs: Sequence[Mapping[str, Any]]) -> list[Any]:
    """The runs' device signals (report/signals.py): one run in full, several one line each
    with what could not be measured; nothing for runs without signals (imported ones)."""
    rows = [
        (run["id"], f"{run['model_name']} {run['model_quant']}", signals)
        for run in runs
        if (signals := _signals(run)) is not None
    ]
    if not rows:
        return []
    if len(rows) == 1:
        return signals_parts(rows[0][2], rows[0][0])
    return [runs_signals_table(rows), *availability_lines(rows[-1][2])]


def _device_note(run: Mapping[str, Any]) -> str | None:
    guard = ((run.get("settings") or {}).get("device_run") or {}).get("settings_guard") or {}
    return guard.get("usb_power_note")


def device_notes(runs: Sequence[Mapping[str, Any]]) -> list[Text]:
    """What the device did to the figures (a phone charging from USB while measured)."""
    notes: dict[str, list[int]] = {}
    for run in runs:
        note = _device_note(run)
        if note:
            notes.setdefault(note, []).append(run["id"])
    return [
        Text(f"energy: run {', '.join(map(str, ids))}: {note}", style="yellow")
        for note, ids in notes.items()
    ]


def terminal_report(
    store: Store, runs: Sequence[dict[str, Any]], reading_wpm: float = DEFAULT_READING_WPM
) -> Group:
    """What the runs were, their figures, their device signals and what the device did to
    them."""
    return Group(
        *_head(runs),
        *figure_parts(store, runs, reading_wpm),
        *reconcile_parts(store, [run["id"] for run in runs]),
        *signal_parts(runs),
        *device_notes(runs),
    )


def stored_summary(store: Store, run_ids: Sequence[int]) -> Group:
    """What the runs were, their figures, each run's turns, then their device signals and
    device notes: what `melt bench` prints."""
    runs = [store.run(i) for i in run_ids]
    turns = [turns_table(store.turns(i), f"run {i}: turns") for i in run_ids]
    return Group(
        *_head(runs),
        *figure_parts(store, runs),
        *turns,
        *reconcile_parts(store, run_ids),
        *signal_parts(runs),
        *device_notes(runs),
    )


def run_ids_of(result: BenchResult) -> list[int]:
    """The ids of the runs a bench wrote, in the order it ran them."""
    return [run.run_id for cell in result.cells for run in cell.runs]
