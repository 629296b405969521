"""`melt import PATH`: bring MELT's logs, profiles, captures and folders into the store."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer

from melt.ingest import import_path
from melt.report.console import stdout_console
from melt.report.profile import print_malformed
from melt.store import open_store
from melt.traces.importers.registry import AUTO, names


def import_(
    path: Path = typer.Argument(..., help="A MELT log, capture, stats file or results folder."),
    format: str = typer.Option(
        AUTO, "--format", help=f"{AUTO} (detect by content) or one of: {', '.join(names())}."
    ),
    store: str = typer.Option(None, help="Results store: a path or SQLAlchemy URL."),
) -> None:
    """Read foreign traces into the store as runs ('melt runs list' then shows them)."""
    db = open_store(store, write=True)
    summary = import_path(db, path, format, shlex.join(["melt", *sys.argv[1:]]))
    out = stdout_console()
    how = "detected" if format == AUTO else "read as"
    out.print(f"{path}: {how} {summary.format}", markup=False)
    for line in [*summary.found, *summary.notes]:
        out.print(f"  {line}", markup=False)
    for figure in summary.energy:
        e = figure.energy
        out.print(
            f"  energy {figure.window} {figure.rail} [{e.mode}]: {e.energy_mwh:.4f} mWh"
            + (f", {e.charge_mah:.4f} mAh" if e.charge_mah is not None else "")
            + f" over {e.samples} samples ({figure.provenance} by {figure.source})",
            markup=False,
        )
    print_malformed(summary.malformed)
    runs = ", ".join(str(r) for r in summary.run_ids)
    out.print(
        f"stored experiment {summary.experiment_id}, run(s) {runs} in {db.spec}", markup=False
    )
