"""The summary of a bench on many devices: each device's own summary, then one table of how
every device ended and what did not run, and why."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from melt.report.bench import bench_document
from melt.report.stored import run_ids_of, stored_summary
from melt.results import STATUS_COMPLETED, DeviceOutcome, FleetResult
from melt.store import Store


def _counts(outcome: DeviceOutcome) -> dict[str, int]:
    completed = sum(1 for r in outcome.runs if r.status == STATUS_COMPLETED)
    return {
        "completed": completed,
        "unfinished": len(outcome.unfinished),
        "not_run": len(outcome.not_run),
    }


def devices_table(result: FleetResult) -> Table:
    table = Table(title=f"devices of experiment {result.experiment_id}", title_justify="left")
    for column in ("device", "status", "runs completed", "runs unfinished", "not run", "reason"):
        table.add_column(column, justify="right" if column.startswith(("runs", "not")) else "left")
    for outcome in result.outcomes:
        counts = _counts(outcome)
        table.add_row(
            outcome.device,
            outcome.status,
            str(counts["completed"]),
            str(counts["unfinished"]),
            str(counts["not_run"]),
            outcome.error or "",
        )
    return table


def _missing_lines(result: FleetResult) -> list[Text]:
    lines = []
    for outcome in result.outcomes:
        for run in outcome.unfinished:
            lines.append(Text(f"{outcome.device}: run {run.run_id} {run.status}: {outcome.error}"))
        for planned in outcome.not_run:
            lines.append(Text(f"{outcome.device}: not run: {planned.label}: {outcome.error}"))
    return lines


def fleet_summary(result: FleetResult, store: Store) -> Group:
    """Each device's bench summary, its figures read back from `store`, then how each
    device ended."""
    parts: list[Any] = []
    for outcome in result.outcomes:
        if outcome.result is not None:
            parts.append(stored_summary(store, run_ids_of(outcome.result)))
    parts.append(devices_table(result))
    missing = _missing_lines(result)
    if missing:
        parts.append(Text("did not complete:", style="bold"))
        parts.extend(missing)
    parts.append(Text(f"stored in {result.store} (experiment {result.experiment_id})"))
    return Group(*parts)


def fleet_document(result: FleetResult) -> dict[str, Any]:
    return {
        "experiment_id": result.experiment_id,
        "store": result.store,
        "all_completed": result.all_completed,
        "devices": [
            {
                "device": o.device,
                "status": o.status,
                "error": o.error,
                "runs": [{"run_id": r.run_id, "key": r.key, "status": r.status} for r in o.runs],
                "not_run": [p.label for p in o.not_run],
                "bench": None if o.result is None else bench_document(o.result),
            }
            for o in result.outcomes
        ],
    }
