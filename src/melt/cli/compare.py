"""`melt compare BASELINE CANDIDATE`: did it get faster or slower, and by how much, with
confidence; `--fail-on-regression` makes it a CI gate."""

from __future__ import annotations

import json

import typer

from melt.errors import MeltError
from melt.metrics.compare import METRICS, compare
from melt.report.compare import comparison_document, comparison_parts
from melt.report.console import stdout_console
from melt.report.selection import resolve, run_sample
from melt.store import open_store
from melt.values import finite

EXIT_REGRESSION = 1
REFERENCE_HELP = "Run id, exp:ID, or a name from 'melt runs names'."
METRIC_HELP = f"Only these metrics (repeatable): {', '.join(METRICS)}."


def parse_threshold(text: str) -> float:
    """``5%`` or ``5`` → 5.0 (percent)."""
    number = text.strip().removesuffix("%")
    try:
        value = float(number)
    except ValueError:
        raise MeltError(f"--fail-on-regression '{text}' is not a percentage (e.g. 5%)") from None
    return finite(value, "--fail-on-regression", at_least=0)


def compare_command(
    baseline: str = typer.Argument(..., help=REFERENCE_HELP),
    candidate: str = typer.Argument(..., help=REFERENCE_HELP),
    metric: list[str] = typer.Option(None, "--metric", help=METRIC_HELP),
    fail_on_regression: str = typer.Option(
        None,
        "--fail-on-regression",
        metavar="PCT",
        help="Exit 1 if a matched metric is worse by more than PCT (e.g. 5%) with its 95% CI "
        "excluding zero; 2 if the runs cannot show it (a side failed or measured nothing); "
        "0 otherwise.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    store: str = typer.Option(None, help="Results store: a path or SQLAlchemy URL."),
) -> None:
    """Compare two runs or experiments metric by metric (candidate − baseline)."""
    unknown = [m for m in metric or () if m not in METRICS]
    if unknown:
        raise MeltError(f"--metric {unknown[0]} is not one of {', '.join(METRICS)}")
    threshold = None if fail_on_regression is None else parse_threshold(fail_on_regression)
    db = open_store(store, create=False)
    sides = [[run_sample(db, run) for run in resolve(db, ref)] for ref in (baseline, candidate)]
    result = compare(sides[0], sides[1], metrics=metric or None, threshold_pct=threshold)
    if not result.rows:
        raise MeltError(
            f"no row of {baseline} matches a row of {candidate} on the properties that vary "
            "inside them; compare runs of the same sweep shape"
        )
    if as_json:
        print(json.dumps(comparison_document(result), indent=2))
    else:
        stdout_console().print(comparison_parts(result))
    if threshold is not None and result.unusable:
        more = f" (and {len(result.unusable) - 1} more)" if len(result.unusable) > 1 else ""
        raise MeltError(
            f"--fail-on-regression cannot pass: {result.unusable[0]}{more}; "
            "compare finished runs that measured every compared metric (or pick --metric)"
        )
    if threshold is not None and result.regressed:
        raise typer.Exit(EXIT_REGRESSION)
