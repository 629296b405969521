"""`melt runs`: list, show and export what the store holds."""

from __future__ import annotations

import json

import typer

from melt.errors import MeltError
from melt.report.console import stdout_console
from melt.report.runs import names_table, run_table, runs_table, turns_table
from melt.report.samples import (
    all_series,
    pick_series,
    points_text,
    sampling_text,
    series_table,
    sources_text,
    summarise_series,
)
from melt.report.selection import resolve_reference
from melt.store import Store, open_store
from melt.store.export import (
    CSV_TABLES,
    SAMPLE_COLUMNS,
    export_csv,
    export_json,
    export_samples_csv,
    origin_ns,
    probe_sources,
)
from melt.store.names import check_name, save_name, saved_names
from melt.store.samples import run_samples, run_sampling
from melt.values import integer

app = typer.Typer(help="Runs in the results store.", no_args_is_help=True)

STORE_HELP = "Results store: a path or SQLAlchemy URL."
EXPORT_HELP = "\n\n".join(
    (
        "Print a run as JSON or CSV.",
        "JSON: one document with the run, its environment, its turns with token timestamps, "
        "the sampler's record ('sampling': target and achieved rate, dropped ticks, own CPU "
        "time, probes and their sources, what was unavailable), every sample series "
        "('samples', keyed probe/channel: unit, provenance measured or estimated, the "
        "probe's source, parallel t_ns and value lists), and the event intervals and energy "
        "figures of imported runs.",
        "CSV --table turns (default): one row per turn.",
        "CSV --table samples: one row per sample, in time order (long format), columns "
        f"{', '.join(SAMPLE_COLUMNS)}. series is the probe's channel; value is in unit; "
        "t_ns is the device's monotonic clock (that of the turns' timestamps) and t_s "
        "seconds from the sampler's start. In pandas: pd.read_csv(path).pivot_table("
        'index="t_s", columns=["probe", "series"], values="value") gives one column per '
        "series.",
    )
)


@app.command("list")
def list_runs(
    store: str = typer.Option(None, help=STORE_HELP),
    limit: int = typer.Option(50, help="Show the newest N runs."),
    as_json: bool = typer.Option(False, "--json", help="Print the run rows as one JSON list."),
) -> None:
    """The newest runs, one line each."""
    rows = open_store(store, create=False).list_runs(integer(limit, "--limit"))
    if as_json:
        print(json.dumps(rows, indent=2, default=str))
        return
    stdout_console().print(runs_table(rows))


@app.command("name")
def name(
    name: str = typer.Argument(
        ..., help="The name: a letter or _ first, then letters, digits, _ . -"
    ),
    reference: str = typer.Argument(..., metavar="REF", help="A run id, exp:ID or a saved name."),
    store: str = typer.Option(None, help=STORE_HELP),
) -> None:
    """Save NAME for a run or experiment, for 'melt compare NAME ...' and 'melt report NAME'.
    Saving a name again moves it (and says where it pointed)."""
    check_name(name)
    target, runs = resolve_reference(open_store(store, create=False), reference)
    before = save_name(open_store(store, write=True), name, target)
    shown = f"{name} → {target} ({len(runs)} run(s))"
    if before is None or before == target:
        print(shown)
    else:
        print(f"{shown}; it pointed at {before} before")


@app.command("names")
def names(
    store: str = typer.Option(None, help=STORE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the names as one JSON list."),
) -> None:
    """The names saved with 'melt runs name', each with the run id or exp:ID it stands for."""
    rows = saved_names(open_store(store, create=False))
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    if not rows:
        print("no saved names (save one with 'melt runs name NAME RUN_ID|exp:ID')")
        return
    stdout_console().print(names_table(rows))


def _print_samples(db: Store, run_id: int, series_name: str | None) -> None:
    """The run's sample series and sampling record, or the raw points of one series."""
    console = stdout_console()
    samples = run_samples(db, run_id)
    sampling = run_sampling(db, run_id)
    series = all_series(samples)
    sources = probe_sources(sampling)
    origin = origin_ns(sampling, samples) or 0
    if series_name is not None:
        picked = pick_series(series, series_name)
        print(points_text(picked, sources.get(picked.probe), origin), end="")
        return
    if series:
        rows = [summarise_series(s, sources.get(s.probe), origin) for s in series]
        console.print(series_table(rows))
        console.print(sources_text(rows))
    else:
        console.print("sample series: none stored for this run")
    if sampling:
        console.print(sampling_text(sampling))


@app.command("show")
def show(
    run_id: int,
    store: str = typer.Option(None, help=STORE_HELP),
    series: str = typer.Option(
        None,
        "--series",
        metavar="PROBE/CHANNEL",
        help="Print only the raw points of one sample series (e.g. rapl/package-0, "
        "memory/process_rss, or a channel name that is unique): t in s from the run's "
        "start, value in the series' unit.",
    ),
) -> None:
    """Everything stored about one run: settings, environment, turns, and each sample
    series the probes stored (unit, measured/ESTIMATED and by which probe, n, achieved
    rate, min/median/max, first/last time) with the sampler's record."""
    db = open_store(store, create=False)
    run = db.run(run_id)
    if series is not None:
        _print_samples(db, run_id, series)
        return
    env = run.pop("environment") or {}
    console = stdout_console()
    console.print(run_table(run_id, run, env))
    if run["summary"]:
        console.print_json(json.dumps(run["summary"]["aggregates"]))
    console.print(turns_table(db.turns(run_id)))
    _print_samples(db, run_id, None)


@app.command("export", help=EXPORT_HELP)
def export(
    run_id: int,
    format: str = typer.Option("json", "--format", help="json or csv."),
    table: str = typer.Option(
        "turns",
        "--table",
        help="With --format csv: 'turns' (one row per turn) or 'samples' (one row per "
        f"sample, long format: {', '.join(SAMPLE_COLUMNS)}).",
    ),
    store: str = typer.Option(None, help=STORE_HELP),
) -> None:
    """Print a run as JSON or CSV (see --help)."""
    if format not in ("json", "csv"):
        raise MeltError(f"--format must be json or csv (got '{format}')")
    if table not in CSV_TABLES:
        raise MeltError(f"--table must be {' or '.join(CSV_TABLES)} (got '{table}')")
    db = open_store(store, create=False)
    if format == "json":
        if table != "turns":
            raise MeltError("--table applies to --format csv; the JSON document has every table")
        text = export_json(db, run_id)
    else:
        text = export_samples_csv(db, run_id) if table == "samples" else export_csv(db, run_id)
    print(text, end="")
