"""The `melt bench` summary: rich tables for people, one JSON document for programs.

The tables are the runs as the store holds them, read back by the ids the bench just wrote
(report/stored.py, the code behind `melt report`): what was run and how, the figures (the
sweep table of its cells, each run's summary), the turns, then each run's device signals.
`--json` is the whole in-memory result, samples included, with units in the key names.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from rich.console import Group
from rich.text import Text

from melt.metrics.cell_energy import CellEnergy, cell_energy
from melt.results import BenchResult, CellResult, RunResult


def bench_summary(result: BenchResult, stored: Group) -> Group:
    """`stored`, the runs read back from the store (report/stored.py: what they were, their
    figures, turns and device signals), and where they are stored."""
    return Group(stored, Text(f"stored in {result.store} (experiment {result.experiment_id})"))


def _cell_energy(cell: CellResult) -> tuple[CellEnergy, ...]:
    return cell_energy(
        [
            None if r.signals is None or r.signals.metrics.energy is None
            else r.signals.metrics.energy.as_dict()
            for r in cell.runs
        ]
    )  # fmt: skip


def _run_document(run: RunResult) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "repeat_index": run.repeat_index,
        "status": run.status,
        "load_time_s": run.load_time_s,
        "model_bytes": run.model_bytes,
        "model_params": run.model_params,
        "model_rss_bytes": run.model_rss_bytes,
        "peak_rss_bytes": run.peak_rss_bytes,
        "peak_rss_source": run.peak_rss_source,
        "device_notes": list(run.device_notes),
        "aggregates": run.aggregates.as_dict(),
        "decode_consistency": None if run.consistency is None else run.consistency.as_dict(),
        "signals": None if run.signals is None else run.signals.as_dict(),
        "samples": None if run.signals is None else run.signals.series_document(),
    }


def _cell_document(cell: CellResult) -> dict[str, Any]:
    a = cell.artifact
    return {
        "model": {
            "name": a.name,
            "path": str(a.path),
            "format": a.format,
            "quant": a.quant,
            "sha256": a.sha256,
            "size_bytes": a.size_bytes,
            "bits_per_weight": cell.bits_per_weight,
            "origin": asdict(a.origin),
        },
        "settings": cell.cell.settings.model_dump(),
        "aggregates": None if cell.aggregates is None else cell.aggregates.as_dict(),
        "run_median_decode_tok_per_s": None
        if cell.run_decode_tok_per_s is None
        else cell.run_decode_tok_per_s.as_dict(),
        "energy": [e.as_dict() for e in _cell_energy(cell)],
        "runs": [_run_document(r) for r in cell.runs],
    }


def bench_document(result: BenchResult) -> dict[str, Any]:
    """Everything the summary shows, with units in the key names."""
    return {
        "experiment_id": result.experiment_id,
        "store": result.store,
        "framework": {"name": result.framework, "version": result.framework_version},
        "device": result.device,
        "workload": {
            "name": result.workload.name,
            "sha256": result.workload.sha256,
            "conversations": len(result.workload.conversations),
            "turns": result.workload.n_turns,
            "warmup_turns": result.warmup_turns,
        },
        "repeats": result.repeats,
        "sustained_s": result.sustained_s,
        "cells": [_cell_document(c) for c in result.cells],
    }
