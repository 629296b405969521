"""Terminal tables for per-op profiles, energy figures and a run's summary."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from melt.metrics.consistency import CONSISTENCY_WARN_FRACTION
from melt.metrics.ops import OpShare
from melt.report.backends import UNKNOWN, compute_label, gpu_layers_asked
from melt.report.units import fmt, fmt_bytes
from melt.traces.importers import Malformed

MAX_MALFORMED_LISTED = 20

SUMMARY_METRICS = (
    ("ttft_s", "TTFT", "s", 3),
    ("prefill_tok_per_s", "Prefill", "tok/s", 1),
    ("decode_tok_per_s", "Decode", "tok/s", 1),
    ("e2e_s", "Turn latency", "s", 3),
    ("cpu_time_s", "CPU time per turn", "s", 3),
)


def op_table(shares: Sequence[OpShare], top: int, title: str, key_label: str = "op") -> Table:
    """The `top` groups by wall time: wall ms, share of all wall time, calls, nodes."""
    table = Table(title=title, title_justify="left")
    for column in (key_label, "wall ms", "share", "calls", "nodes", "cpu ms"):
        table.add_column(column, justify="left" if column == key_label else "right")
    for row in shares[:top]:
        table.add_row(
            row.key,
            fmt(row.wall_us / 1e3, 3),
            f"{row.share * 100:.1f}%",
            str(row.calls),
            str(row.nodes),
            fmt(row.cpu_us / 1e3 if row.cpu_us is not None else None, 3),
        )
    rest = shares[top:]
    if rest:
        table.add_row(
            f"({len(rest)} more)",
            fmt(sum(r.wall_us for r in rest) / 1e3, 3),
            f"{sum(r.share for r in rest) * 100:.1f}%",
            str(sum(r.calls for r in rest)),
            str(sum(r.nodes for r in rest)),
            "",
        )
    return table


def energy_table(rows: Sequence[dict[str, Any]]) -> Table:
    """Energy figures with the mode that integrated them and the source of the samples."""
    table = Table(title="energy", title_justify="left")
    for column in ("window", "rail", "mode", "mWh", "mAh", "samples", "s", "source"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["window"],
            r["rail"],
            r["mode"],
            fmt(r["energy_mwh"], 4),
            fmt(r["charge_mah"], 4),
            str(r["samples"]),
            fmt(r["duration_s"], 3),
            f"{r['provenance']} by {r['source']}",
        )
    return table


def summary_table(run: dict[str, Any]) -> Table:
    """What ran, where, with which settings, and its medians (n, median, 95% CI)."""
    table = Table(title=f"run {run['id']} ({run['status']})", title_justify="left")
    table.add_column("")
    table.add_column("")
    settings = run.get("settings") or {}
    imported = settings.get("imported")
    for key, value in (
        ("device", run["device"]),
        ("framework", f"{run['framework']} {run['framework_version']}"),
        ("compute", compute_label(run)),
        ("model", f"{run['model_name']} {run['model_quant']}"),
        ("threads / ctx / batch", f"{run['threads']} / {run['ctx']} / {run['batch']}"),
        ("max new tokens", run["max_new_tokens"]),
        ("workload", run["workload_name"]),
    ):
        table.add_row(key, str(value))
    if gpu_layers_asked(run) != UNKNOWN:
        table.add_row("gpu layers asked", gpu_layers_asked(run))
    if imported:
        table.add_row("imported", f"{imported['format']}: {', '.join(imported['sources'])}")
        if imported["turn_figures_from"]:
            table.add_row("turn figures from", imported["turn_figures_from"])
        if imported["unknown_settings"]:
            table.add_row("not in the source", ", ".join(imported["unknown_settings"]))
    aggregates = (run.get("summary") or {}).get("aggregates", {})
    if "turns" in aggregates:
        table.add_row("turns", str(aggregates["turns"]))
    if aggregates.get("generated_tokens") is not None:
        table.add_row("tokens", _tokens_text(aggregates))
    for name, label, unit, digits in SUMMARY_METRICS:
        agg = aggregates.get(name) or {}
        if agg.get("n"):
            ci = f"{fmt(agg['ci_low'], digits)}–{fmt(agg['ci_high'], digits)}"
            text = f"{fmt(agg['median'], digits)} {unit} (median of {agg['n']}, 95% CI {ci})"
            table.add_row(label, text)
    for key, value in _load_and_memory_rows(run):
        table.add_row(key, value)
    for zone, (low, high) in ((run.get("summary") or {}).get("thermal_c") or {}).items():
        table.add_row(f"thermal {zone}", f"{low:.1f}–{high:.1f} °C")
    return table


def _tokens_text(aggregates: dict[str, Any]) -> str:
    """Prompt tokens the engine evaluated, those its cache reused, tokens generated."""
    reused = aggregates.get("prompt_tokens_reused")
    cache = "(cache reuse not reported)" if reused is None else f"+ {reused} reused from cache"
    return (
        f"{fmt(aggregates.get('prompt_tokens_evaluated'))} prompt tokens evaluated {cache}, "
        f"{aggregates['generated_tokens']} generated"
    )


def _load_and_memory_rows(run: dict[str, Any]) -> list[tuple[str, str]]:
    """Load time, the model's memory, peak RSS (with what measured it), and how far the
    decode rate from token timestamps is from the engine's own counters: those recorded."""
    summary = run.get("summary") or {}
    rows = []
    if run.get("load_time_s") is not None:
        rows.append(("load time", f"{fmt(run['load_time_s'], 3)} s"))
    if run.get("model_bytes") is not None:
        rows.append(("model memory", fmt_bytes(run["model_bytes"])))
    if run.get("peak_rss_bytes") is not None:
        source = summary.get("peak_rss_source")
        peak = fmt_bytes(run["peak_rss_bytes"])
        rows.append(("peak RSS", f"{peak} ({source})" if source else peak))
    diff = run.get("decode_consistency_rel_diff")
    if diff is not None:
        limit = CONSISTENCY_WARN_FRACTION
        flag = f" ⚠ over {limit:.0%}" if abs(diff) > limit else ""
        rows.append(("decode vs engine counters", f"{100 * diff:+.2f}%{flag}"))
    return rows


def print_malformed(malformed: Sequence[Malformed]) -> None:
    """Count the lines that were not imported and list the first ones on stderr."""
    if not malformed:
        return
    err = Console(stderr=True)
    err.print(f"melt: {len(malformed)} malformed line(s) not imported:", markup=False)
    for bad in malformed[:MAX_MALFORMED_LISTED]:
        err.print(f"  {bad}", markup=False, soft_wrap=True)
    if len(malformed) > MAX_MALFORMED_LISTED:
        err.print(f"  … and {len(malformed) - MAX_MALFORMED_LISTED} more", markup=False)
