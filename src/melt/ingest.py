"""`melt import`: read a foreign trace with its importer and store it as melt runs.

Imported runs land in the same experiments/runs/turns tables as measured ones, with
status ``imported``, so `melt runs list/show` and `melt report` work on them. Their
per-turn figures come from the foreign tool's own counters (llama.cpp, LLMFarm, MLC), not
from melt's token timestamps, and say so in the run's settings. Energy figures are
computed here in both modes (`trapezoid` and `melt-compat`) for every power rail over the
whole capture and over every event interval that holds samples.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from melt.execution.rows import turn_row
from melt.metrics.energy import WindowEnergy, window_energy
from melt.metrics.melt_compat import melt_compat_energy
from melt.metrics.run import MeasuredTurn, aggregate_turns
from melt.metrics.timeline import Point
from melt.metrics.turn import TurnMetrics
from melt.store import Store
from melt.store.profiles import EnergyFigure, add_energy_figures, add_intervals, add_op_timings
from melt.traces.importers import ImportedRun, ImportedTurn, ImportResult, Malformed, get, read
from melt.traces.importers.base import check_result
from melt.traces.importers.sources import chunks

STATUS_IMPORTED = "imported"
QUANT = re.compile(r"(?i)(?:^|[-_.])(q\d\w*|iq\d\w*|bf16|f16|f32)$")
WHOLE = ("capture", float("-inf"), float("inf"))


@dataclass
class ImportSummary:
    """What one `melt import` stored, for the CLI to print."""

    format: str
    experiment_id: int
    run_ids: list[int] = field(default_factory=list)
    found: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    malformed: list[Malformed] = field(default_factory=list)
    energy: list[EnergyFigure] = field(default_factory=list)


def _windows(run: ImportedRun) -> list[tuple[str, float, float]]:
    """The whole capture, then each interval named ``<event>#<k>`` (k-th of that event)."""
    seen: Counter[str] = Counter()
    windows = [WHOLE]
    for interval in run.intervals:
        windows.append(
            (
                f"{interval.name}#{seen[interval.name]}",
                interval.start_ns / 1e9,
                interval.end_ns / 1e9,
            )
        )
        seen[interval.name] += 1
    return windows


def window_energies(run: ImportedRun) -> list[EnergyFigure]:
    """Both modes for every rail over the whole capture and every event interval with
    samples inside it (melt-compat needs current and voltage, so power-only rails get the
    trapezoid alone)."""
    figures: list[EnergyFigure] = []
    for trace in run.power:
        power_w = _points(trace.t_s, trace.power_mw)
        if not power_w:
            continue
        current_a = None if trace.current_ma is None else _points(trace.t_s, trace.current_ma)
        for name, start, end in _windows(run):
            # the whole capture is the span of its samples; an interval is its exact window
            lo = power_w[0][0] if math.isinf(start) else round(start * 1e9)
            hi = power_w[-1][0] if math.isinf(end) else round(end * 1e9)
            trapezoid = window_energy(power_w, lo, hi, current_a=current_a)
            found: list[WindowEnergy] = [] if trapezoid is None else [trapezoid]
            if trace.current_ma is not None and trace.voltage_v is not None:
                found.append(
                    melt_compat_energy(trace.t_s, trace.current_ma, trace.voltage_v, start, end)
                )
            figures += [
                EnergyFigure(name, trace.rail, energy, trace.source)
                for energy in found
                if energy.samples > 0
            ]
    return figures


def _points(t_s: Sequence[float], milli: Sequence[float]) -> list[Point]:
    """A capture's (s, mW or mA) samples as (ns, W or A) points."""
    return [(round(t * 1e9), v / 1000.0) for t, v in zip(t_s, milli, strict=True)]


def turn_metrics(turn: ImportedTurn) -> TurnMetrics:
    """A turn's metrics from the tool's counters; TTFT and CPU time are not in them."""
    known = [t for t in (turn.prefill_ms, turn.decode_ms) if t is not None]
    total_ms = turn.total_ms if turn.total_ms is not None else (sum(known) if known else None)
    return TurnMetrics(
        ttft_s=None,
        prefill_s=turn.prefill_ms / 1e3 if turn.prefill_ms is not None else None,
        prefill_tok_per_s=turn.prefill_tok_per_s,
        decode_s=turn.decode_ms / 1e3 if turn.decode_ms is not None else None,
        decode_tok_per_s=turn.decode_tok_per_s,
        e2e_s=total_ms / 1e3 if total_ms is not None else math.nan,
        cpu_time_s=None,
    )


def _turn_row(run: ImportedRun, turn: ImportedTurn, m: TurnMetrics) -> dict[str, object]:
    """The turn's row (`execution/rows.py`): no timestamps, the tool's own counters."""
    return turn_row(
        m,
        conversation_index=0,
        conversation_id=run.label,
        turn_index=turn.index,
        warmup=False,
        prompt_tokens=turn.prompt_tokens,
        prompt_tokens_evaluated=turn.prompt_tokens,
        prompt_tokens_reused=0,
        generated_tokens=turn.generated_tokens,
        stop_reason=STATUS_IMPORTED,
        engine_timers=turn.counters,
    )


def _sha256(paths: list[str]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        for chunk in chunks(Path(path)):  # checked and read as a stream, like every source
            digest.update(chunk)
    return digest.hexdigest()


def _run_columns(
    run: ImportedRun, fmt: str, environment_id: int, experiment_id: int
) -> dict[str, Any]:
    unknown = [k for k in ("threads", "ctx", "batch", "max_new_tokens") if not run.settings.get(k)]
    quant = QUANT.search(run.model)
    return {
        "experiment_id": experiment_id,
        "environment_id": environment_id,
        "repeat_index": run.repeat_index,
        "device": run.device,
        "framework": run.framework,
        "framework_version": "unknown",
        "model_name": run.model,
        "model_path": run.model,
        "model_sha256": "",
        "model_quant": run.settings.get("quant") or (quant.group(1) if quant else "unknown"),
        "model_size_bytes": 0,
        "model_source": "import",
        "workload_name": run.label,
        "workload_sha256": _sha256(run.sources),
        "workload_conversations": 1 if run.turns else 0,
        "threads": run.settings.get("threads"),
        "ctx": run.settings.get("ctx"),
        "batch": run.settings.get("batch"),
        "max_new_tokens": run.settings.get("max_new_tokens"),
        "seed": None,
        "warmup_turns": None,
        "settings": {
            **run.settings,
            "imported": {
                "format": fmt,
                "sources": run.sources,
                "turn_figures_from": "the tool's own counters" if run.turns else None,
                "unknown_settings": [*unknown, "seed", "warmup_turns"],
                "notes": run.notes,
            },
        },
    }


def store_result(store: Store, result: ImportResult, path: Path, command: str) -> ImportSummary:
    """Write every run of an import into the store (one experiment) and say what it held;
    a result with nothing storable is refused before any row is written."""
    check_result(result, path, get(result.format).description)
    experiment_id = store.create_experiment(
        name=f"import {path.name}",
        command=command,
        config={"import": str(path), "format": result.format, "found": result.found},
    )
    summary = ImportSummary(
        result.format, experiment_id, found=result.found, malformed=result.malformed
    )
    for run in result.runs:
        if run.empty:
            continue
        environment_id = store.environment_id({"device": run.device, "source": "import"})
        run_id = store.create_run(**_run_columns(run, result.format, environment_id, experiment_id))
        measured = []
        for turn in run.turns:
            metrics = turn_metrics(turn)
            store.add_turn(run_id, [], **_turn_row(run, turn, metrics))
            measured.append(
                MeasuredTurn(metrics, turn.prompt_tokens, 0, turn.generated_tokens, warmup=False)
            )
        add_op_timings(store, run_id, run.ops)
        add_intervals(store, run_id, run.intervals)
        figures = window_energies(run)
        add_energy_figures(store, run_id, figures)
        aggregates = aggregate_turns(measured).as_dict()
        store.finish_run(
            run_id,
            STATUS_IMPORTED,
            summary={"aggregates": aggregates, "thermal_c": run.thermal_c},
        )
        summary.run_ids.append(run_id)
        summary.notes += run.notes
        if run.power:
            covered = {f.window for f in figures}
            summary.notes += [
                f"{run.label}: no power samples inside the window {name}"
                for name, _, _ in _windows(run)
                if name not in covered
            ]
        summary.energy += figures
    return summary


def import_path(store: Store, path: Path, format: str, command: str) -> ImportSummary:
    return store_result(store, read(path, format), path, command)
