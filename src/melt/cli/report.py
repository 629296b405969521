"""`melt report RUN_ID`: a run's summary, its per-op profile and its energy figures."""

from __future__ import annotations

import typer

from melt.metrics.ops import op_shares
from melt.report.console import stdout_console
from melt.report.profile import energy_table, op_table, summary_table
from melt.store import open_store
from melt.store.profiles import energy_figures, op_timings

TOP_OPS = 10


def report(
    run_id: int = typer.Argument(..., help="A run id from 'melt runs list'."),
    store: str = typer.Option(None, help="Results store: a path or SQLAlchemy URL."),
) -> None:
    """Summary of one run, with its per-op profile and energy when it has them."""
    db = open_store(store)
    run = db.run(run_id)
    console = stdout_console()
    console.print(summary_table(run))
    timings = op_timings(db, run_id)
    if timings:
        console.print(op_table(op_shares(timings), TOP_OPS, "per-op profile (wall time)"))
    figures = energy_figures(db, run_id)
    if figures:
        console.print(energy_table(figures))
