"""The `melt bench` summary: a rich table for people, one JSON document for programs."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from melt.metrics.run import TurnAggregates
from melt.metrics.stats import Aggregate
from melt.report.units import fmt, fmt_bytes
from melt.session import BenchResult

METRIC_ROWS = (
    ("ttft_s", "TTFT", "s", 3),
    ("prefill_tok_per_s", "Prefill", "tok/s", 1),
    ("decode_tok_per_s", "Decode", "tok/s", 1),
    ("e2e_s", "Turn latency (end to end)", "s", 3),
    ("cpu_time_s", "CPU time per turn", "s", 3),
)


def aggregate_table(aggregates: TurnAggregates, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("metric", "unit", "n", "median", "95% CI (median)", "mean", "p90"):
        table.add_column(column, justify="left" if column in ("metric", "unit") else "right")
    for name, label, unit, digits in METRIC_ROWS:
        agg: Aggregate = getattr(aggregates, name)
        ci = f"{fmt(agg.ci_low, digits)} – {fmt(agg.ci_high, digits)}" if agg.n else "–"
        table.add_row(
            label,
            unit,
            str(agg.n),
            fmt(agg.median, digits),
            ci,
            fmt(agg.mean, digits),
            fmt(agg.p90, digits),
        )
    return table


def bench_summary(result: BenchResult) -> Group:
    a, s = result.artifact, result.settings
    head = Text()
    head.append(f"{a.name}", style="bold")
    head.append(f"  {a.quant}, {fmt_bytes(a.size_bytes)}, sha256 {a.sha256[:12]}\n")
    head.append(
        f"{result.framework_version} on {result.device['cpu_model']} "
        f"({result.device['physical_cores']} cores, {fmt_bytes(result.device['ram_bytes'])})\n"
    )
    head.append(
        f"threads {s.threads}, ctx {s.ctx}, batch {s.batch}, max new tokens "
        f"{s.max_new_tokens}, seed {s.sampling.seed}, temperature {s.sampling.temperature}\n"
    )
    n_turns = result.workload.n_turns
    head.append(
        f"workload {result.workload.name}: {len(result.workload.conversations)} conversations, "
        f"{n_turns} turns × {len(result.runs)} run(s); {result.warmup_turns} warmup turn(s) "
        "per run, stored, not aggregated"
    )
    parts: list[Any] = [head]
    if result.aggregates is not None:
        agg = result.aggregates
        parts.append(
            aggregate_table(
                agg,
                f"All runs: {agg.turns} turns, {agg.prompt_tokens_evaluated} prompt tokens "
                f"evaluated + {agg.prompt_tokens_reused} reused from cache, "
                f"{agg.generated_tokens} generated",
            )
        )
    parts.append(runs_table(result))
    parts.append(Text(f"stored in {result.store} (experiment {result.experiment_id})"))
    return Group(*parts)


def runs_table(result: BenchResult) -> Table:
    table = Table(title="Per run", title_justify="left")
    for column in (
        "run",
        "status",
        "load s",
        "model mem",
        "peak RSS",
        "decode tok/s (median)",
        "decode vs llama.cpp counters",
    ):
        table.add_column(column, justify="left" if column in ("status",) else "right")
    for run in result.runs:
        consistency = "–"
        if run.consistency is not None:
            consistency = f"{100 * run.consistency.relative_diff:+.2f}%"
            if run.consistency.suspicious:
                consistency += " ⚠"
        table.add_row(
            str(run.run_id),
            run.status,
            fmt(run.load_time_s, 3),
            fmt_bytes(run.model_bytes),
            fmt_bytes(run.peak_rss_bytes),
            fmt(run.aggregates.decode_tok_per_s.median, 1),
            consistency,
        )
    return table


def bench_document(result: BenchResult) -> dict[str, Any]:
    """Everything the summary shows, with units in the key names."""
    a = result.artifact
    return {
        "experiment_id": result.experiment_id,
        "store": result.store,
        "model": {
            "name": a.name,
            "path": str(a.path),
            "format": a.format,
            "quant": a.quant,
            "sha256": a.sha256,
            "size_bytes": a.size_bytes,
            "source": a.origin.source,
        },
        "framework": {"name": result.framework, "version": result.framework_version},
        "device": result.device,
        "settings": result.settings.model_dump(),
        "workload": {
            "name": result.workload.name,
            "sha256": result.workload.sha256,
            "conversations": len(result.workload.conversations),
            "turns": result.workload.n_turns,
            "warmup_turns": result.warmup_turns,
        },
        "aggregates": None if result.aggregates is None else result.aggregates.as_dict(),
        "run_median_decode_tok_per_s": None
        if result.run_decode_tok_per_s is None
        else result.run_decode_tok_per_s.as_dict(),
        "runs": [
            {
                "run_id": r.run_id,
                "repeat_index": r.repeat_index,
                "status": r.status,
                "load_time_s": r.load_time_s,
                "model_bytes": r.model_bytes,
                "model_rss_bytes": r.model_rss_bytes,
                "peak_rss_bytes": r.peak_rss_bytes,
                "aggregates": r.aggregates.as_dict(),
                "decode_consistency": None
                if r.consistency is None
                else {
                    "timestamps_tok_per_s": r.consistency.timestamps_tok_per_s,
                    "engine_tok_per_s": r.consistency.engine_tok_per_s,
                    "relative_diff": r.consistency.relative_diff,
                },
            }
            for r in result.runs
        ],
    }
