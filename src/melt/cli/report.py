"""`melt report`: one run's summary in the terminal, or a report over many runs as a
self-contained HTML file (`--html`) or tables (`--format md|csv|json|parquet`)."""

from __future__ import annotations

from pathlib import Path

import typer

from melt.metrics.qoe import DEFAULT_READING_WPM
from melt.report.console import stdout_console
from melt.report.content import build_report
from melt.report.selection import select_runs
from melt.report.stored import terminal_report
from melt.report.tables import FILE_FORMATS, FORMATS, TEXT_FORMATS, check_format
from melt.store import open_store
from melt.values import finite


def report(
    run_ids: list[str] = typer.Argument(
        None, help="Run ids from 'melt runs list', exp:ID, or names from 'melt runs names'."
    ),
    experiment: int = typer.Option(None, "--experiment", help="Every run of this experiment."),
    last: bool = typer.Option(False, "--last", help="Every run of the newest experiment."),
    html: Path = typer.Option(None, "--html", help="Write a self-contained HTML report here."),
    format: str = typer.Option(None, "--format", help=f"Tables as {'|'.join(FORMATS)}."),
    output: Path = typer.Option(None, "--output", help="Where --format writes (default stdout)."),
    reading_wpm: float = typer.Option(
        DEFAULT_READING_WPM, "--reading-wpm", help="Reading speed for the QoE verdict."
    ),
    store: str = typer.Option(None, help="Results store: a path or SQLAlchemy URL."),
) -> None:
    """A run's summary (RUN_ID), or a report over runs as HTML or tables."""
    finite(reading_wpm, "--reading-wpm", above=0)  # words per minute
    if format is not None:
        check_format(format, output)
    db = open_store(store, create=False)
    runs = select_runs(db, run_ids or [], experiment, last)
    if html is None and format is None:
        stdout_console().print(terminal_report(db, runs, reading_wpm))
        return
    content = build_report(db, runs, reading_wpm)
    if html is not None:
        from melt.report.html import render_html

        html.write_text(render_html(content, db.spec), encoding="utf-8")
        typer.echo(
            f"wrote {html} ({html.stat().st_size / 1e6:.1f} MB, {len(runs)} run(s))", err=True
        )
    if format in TEXT_FORMATS:
        text = TEXT_FORMATS[format](content.tables())
        if output is None:
            print(text)
        else:
            output.write_text(text, encoding="utf-8")
    elif format in FILE_FORMATS:
        for path in FILE_FORMATS[format](content.tables(), output):
            typer.echo(f"wrote {path}", err=True)
