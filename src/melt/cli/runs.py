"""`melt runs`: list, show and export what the store holds."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from melt.errors import MeltError
from melt.report.console import stdout_console
from melt.report.units import fmt, fmt_bytes
from melt.store import open_store
from melt.store.export import export_csv, export_json

app = typer.Typer(help="Runs in the results store.", no_args_is_help=True)

STORE_HELP = "Results store: a path or SQLAlchemy URL."


def _median(summary: dict | None, name: str) -> float | None:
    if not summary:
        return None
    return (summary.get("aggregates", {}).get(name) or {}).get("median")


@app.command("list")
def list_runs(
    store: str = typer.Option(None, help=STORE_HELP),
    limit: int = typer.Option(50, help="Show the newest N runs."),
) -> None:
    """The newest runs, one line each."""
    rows = open_store(store).list_runs(limit)
    table = Table()
    for column in (
        "id",
        "exp",
        "started (UTC)",
        "status",
        "model",
        "quant",
        "threads",
        "turns",
        "TTFT s",
        "decode tok/s",
    ):
        table.add_column(column)
    for r in rows:
        turns = (r["summary"] or {}).get("aggregates", {}).get("turns")
        table.add_row(
            str(r["id"]),
            str(r["experiment_id"]),
            r["started_at"][:19],
            r["status"],
            r["model_name"],
            r["model_quant"],
            fmt(r["threads"]),
            fmt(turns),
            fmt(_median(r["summary"], "ttft_s"), 3),
            fmt(_median(r["summary"], "decode_tok_per_s"), 1),
        )
    stdout_console().print(table)


@app.command("show")
def show(run_id: int, store: str = typer.Option(None, help=STORE_HELP)) -> None:
    """Everything stored about one run."""
    db = open_store(store)
    run = db.run(run_id)
    env = run.pop("environment") or {}
    console = stdout_console()
    table = Table(show_header=False, title=f"run {run_id}", title_justify="left")
    table.add_column("key")
    table.add_column("value")
    for key in (
        "status",
        "error",
        "started_at",
        "ended_at",
        "device",
        "framework_version",
        "model_name",
        "model_path",
        "model_sha256",
        "model_quant",
        "workload_name",
        "workload_conversations",
        "threads",
        "ctx",
        "batch",
        "max_new_tokens",
        "seed",
        "warmup_turns",
        "load_time_s",
        "decode_consistency_rel_diff",
    ):
        table.add_row(key, str(run[key]))
    for key in ("model_size_bytes", "model_bytes", "model_rss_bytes", "peak_rss_bytes"):
        table.add_row(key, fmt_bytes(run[key]))
    for key in ("host", "cpu_model", "physical_cores", "ram_bytes", "os", "kernel", "python"):
        table.add_row(f"env.{key}", str(env.get(key)))
    console.print(table)
    if run["summary"]:
        console.print_json(json.dumps(run["summary"]["aggregates"]))
    turns = Table(title="turns", title_justify="left")
    for column in (
        "conv",
        "turn",
        "warmup",
        "prompt",
        "eval",
        "reused",
        "gen",
        "stop",
        "TTFT s",
        "prefill tok/s",
        "decode tok/s",
    ):
        turns.add_column(column)
    for t in db.turns(run_id):
        turns.add_row(
            str(t["conversation_index"]),
            str(t["turn_index"]),
            "yes" if t["warmup"] else "",
            str(t["prompt_tokens"]),
            str(t["prompt_tokens_evaluated"]),
            str(t["prompt_tokens_reused"]),
            str(t["generated_tokens"]),
            t["stop_reason"],
            fmt(t["ttft_s"], 3),
            fmt(t["prefill_tok_per_s"], 1),
            fmt(t["decode_tok_per_s"], 1),
        )
    console.print(turns)


@app.command("export")
def export(
    run_id: int,
    format: str = typer.Option("json", "--format", help="json or csv."),
    store: str = typer.Option(None, help=STORE_HELP),
) -> None:
    """Print a run as JSON (run, environment, turns, token timestamps) or CSV (turns)."""
    exporters = {"json": export_json, "csv": export_csv}
    if format not in exporters:
        raise MeltError(f"--format must be json or csv (got '{format}')")
    print(exporters[format](open_store(store), run_id), end="")
