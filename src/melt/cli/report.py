"""`melt report`: one run's summary in the terminal, or a report over many runs as a
self-contained HTML file (`--html`) or tables (`--format md|csv|json|parquet`)."""

from __future__ import annotations

from pathlib import Path

import typer

from melt.errors import MeltError
from melt.metrics.qoe import DEFAULT_READING_WPM
from melt.report.console import stdout_console
from melt.report.content import build_report
from melt.report.output import check_output, writing
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
    html: Path = typer.Option(
        None, "--html", help="Write a self-contained HTML report here (with --format: both)."
    ),
    format: str = typer.Option(None, "--format", help=f"Tables as {'|'.join(FORMATS)}."),
    output: Path = typer.Option(
        None, "--output", help="Where --format writes (default stdout; csv/parquet: the stem)."
    ),
    reading_wpm: float = typer.Option(
        DEFAULT_READING_WPM, "--reading-wpm", help="Reading speed for the QoE verdict."
    ),
    store: str = typer.Option(None, help="Results store: a path or SQLAlchemy URL."),
) -> None:
    """A run's summary (RUN_ID), or a report over runs as HTML or tables."""
    finite(reading_wpm, "--reading-wpm", above=0)  # words per minute
    if format is not None:
        check_format(format, output)
    elif output is not None:
        raise MeltError(
            f"--output '{output}' is where --format writes; add --format {'|'.join(FORMATS)} "
            "(the HTML report goes to --html PATH)"
        )
    if html is not None and output is not None and html.resolve() == output.resolve():
        raise MeltError(f"--html and --output both name '{html}'; give each its own file")
    if html is not None:
        check_output(html, "--html", "report.html")
    if output is not None:
        check_output(output, "--output", f"report.{format}")
    db = open_store(store, create=False)
    runs = select_runs(db, run_ids or [], experiment, last)
    if html is None and format is None:
        stdout_console().print(terminal_report(db, runs, reading_wpm))
        return
    content = build_report(db, runs, reading_wpm)
    if html is not None:
        from melt.report.html import render_html

        page = render_html(content, db.spec)
        with writing(html, "--html"):
            html.write_text(page, encoding="utf-8")
        typer.echo(
            f"wrote {html} ({html.stat().st_size / 1e6:.1f} MB, {len(runs)} run(s))", err=True
        )
    if format in TEXT_FORMATS:
        text = TEXT_FORMATS[format](content.tables())
        if output is None:
            print(text)
        else:
            with writing(output, "--output"):
                output.write_text(text, encoding="utf-8")
            typer.echo(f"wrote {output}", err=True)
    elif format in FILE_FORMATS:
        with writing(output, "--output"):
            written = FILE_FORMATS[format](content.tables(), output)
        for path in written:
            typer.echo(f"wrote {path}", err=True)
