"""`melt profile RUN_ID|LOG`: where inference time went, op by op."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer

from melt.errors import MeltError
from melt.metrics.ops import OpTiming, graph_shares, graph_totals_us, module_shares, op_shares
from melt.report.console import stdout_console
from melt.report.profile import op_table, print_malformed
from melt.store import open_store
from melt.store.profiles import op_timings
from melt.traces.importers.registry import AUTO, read
from melt.traces.importers.tvm_log import graph_names

GROUPINGS = ("op", "module", "graph")


def load_timings(
    target: str, store: str | None, format: str
) -> tuple[str, list[OpTiming], Mapping[str, Any]]:
    """Op timings of a stored run (an id) or of a log file read directly (whose malformed
    lines are listed on stderr), with the settings that name its graphs."""
    path = Path(target)
    if target.isdigit() and not path.exists():
        db = open_store(store, create=False)
        run = db.run(int(target))  # a MeltError naming the store when there is no such run
        timings = op_timings(db, run["id"])
        settings = (run.get("settings") or {}) if timings else {}
        return f"run {run['id']}", timings, settings
    result = read(path, format)
    print_malformed(result.malformed)
    settings = result.runs[0].settings if result.runs else {}
    return str(path), [op for run in result.runs for op in run.ops], settings


def profile(
    target: str = typer.Argument(..., metavar="RUN_ID|LOG", help="A stored run id or a log."),
    by: str = typer.Option("op", "--by", help="op, module (node index × op) or graph."),
    top: int = typer.Option(15, "--top", min=1, help="Show the N largest rows."),
    format: str = typer.Option(AUTO, "--format", help="Format of LOG (see 'melt import')."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    store: str = typer.Option(None, help="Results store: a path or SQLAlchemy URL."),
) -> None:
    """Top ops by wall time, their share of all wall time, and calls."""
    if by not in GROUPINGS:
        raise MeltError(f"--by must be one of {', '.join(GROUPINGS)} (got '{by}')")
    name, timings, settings = load_timings(target, store, format)
    if not timings:
        raise MeltError(
            f"{name} has no per-op timings (import a GGML_PERF llama.cpp log or a TVM "
            "profiler report with 'melt import')"
        )
    graphs = graph_totals_us(timings)
    if by == "graph":
        shares = graph_shares(timings, graph_names(settings))
    else:
        shares = {"op": op_shares, "module": module_shares}[by](timings)
    if as_json:
        doc = {
            "source": name,
            "by": by,
            "nodes": len(timings),
            "graphs": len(graphs),
            "wall_us": sum(graphs.values()),
            "rows": [asdict(row) for row in shares],
        }
        print(json.dumps(doc, indent=2))
        return
    console = stdout_console()
    console.print(
        f"{name}: {len(timings)} timed nodes in {len(graphs)} graph(s), "
        f"{sum(graphs.values()) / 1e3:.3f} ms wall in all",
        markup=False,
    )
    console.print(op_table(shares, top, f"by {by}", key_label=by))
