"""The tables of `melt runs list` and `melt runs show`: the store's runs, one run's record,
and its turns. Each fits the terminal (`report.layout`): statuses and stop reasons are never
cut, and the least important columns go first when the terminal is narrow."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from melt.config.settings import engine_knobs
from melt.report.backends import compute_label
from melt.report.layout import Column, FittedTable
from melt.report.units import fmt, fmt_bytes

RUN_KEYS = (
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
)
BYTE_KEYS = ("model_size_bytes", "model_bytes", "model_rss_bytes", "peak_rss_bytes")
ENV_KEYS = ("host", "cpu_model", "physical_cores", "ram_bytes", "os", "kernel", "python")


def _median(summary: Mapping[str, Any] | None, name: str) -> float | None:
    if not summary:
        return None
    return (summary.get("aggregates", {}).get(name) or {}).get("median")


def _started(value: Any) -> str:
    """``2026-12-01 20:06:21``: a date and a time, which wrap between them when narrow."""
    return str(value)[:19].replace("T", " ")


def runs_table(rows: Sequence[Mapping[str, Any]]) -> FittedTable:
    columns = (
        Column("id", 0, "right"),
        Column("status", 0, whole=True),
        Column("device", 2),
        Column("quant", 1, whole=True),
        Column("threads", 2, "right"),
        Column("turns", 3, "right"),
        Column("TTFT s", 3, "right"),
        Column("decode tok/s", 1, "right"),
        Column("started (UTC)", 2),
        Column("model", 1),
        Column("framework", 2),
        Column("compute", 2),
        Column("settings", 3),
        Column("exp", 4, "right"),
    )
    cells = []
    for r in rows:
        summary = r["summary"] or {}
        cells.append(
            (
                str(r["id"]),
                str(r["status"]),
                str(r.get("device") or "–"),
                str(r["model_quant"]),
                fmt(r["threads"]),
                fmt(summary.get("aggregates", {}).get("turns")),
                fmt(_median(summary, "ttft_s"), 3),
                fmt(_median(summary, "decode_tok_per_s"), 1),
                _started(r["started_at"]),
                str(r["model_name"]),
                str(r.get("framework") or "–"),
                compute_label(r),
                engine_knobs(((r.get("settings") or {}).get("engine")) or {}) or "–",
                str(r["experiment_id"]),
            )
        )
    return FittedTable(columns, cells)


def run_table(run_id: int, run: Mapping[str, Any], env: Mapping[str, Any]) -> FittedTable:
    """One run's record as key/value lines; long keys and values fold, never end in '…'."""
    rows = [(key, str(run[key])) for key in RUN_KEYS]
    rows.append(("compute", compute_label(run)))
    rows += [(key, fmt_bytes(run[key])) for key in BYTE_KEYS]
    rows += [(f"env.{key}", str(env.get(key))) for key in ENV_KEYS]
    columns = (Column("key", 0), Column("value", 0))
    return FittedTable(columns, rows, title=f"run {run_id}", show_header=False)


def turns_table(turns: Sequence[Mapping[str, Any]], title: str = "turns") -> FittedTable:
    columns = (
        Column("turn", 0, "right"),
        Column("stop", 0, whole=True),
        Column("gen", 0, "right"),
        Column("decode tok/s", 1, "right"),
        Column("TTFT s", 1, "right"),
        Column("warmup", 2),
        Column("prompt", 2, "right"),
        Column("prefill tok/s", 3, "right"),
        Column("conv", 3, "right"),
        Column("eval", 4, "right"),
        Column("reused", 4, "right"),
    )
    rows = [
        (
            str(t["turn_index"]),
            str(t["stop_reason"]),
            str(t["generated_tokens"]),
            fmt(t["decode_tok_per_s"], 1),
            fmt(t["ttft_s"], 3),
            "yes" if t["warmup"] else "",
            fmt(t["prompt_tokens"]),
            fmt(t["prefill_tok_per_s"], 1),
            str(t["conversation_index"]),
            fmt(t["prompt_tokens_evaluated"]),
            fmt(t["prompt_tokens_reused"]),
        )
        for t in turns
    ]
    return FittedTable(columns, rows, title=title)


def names_table(rows: Sequence[Mapping[str, Any]]) -> FittedTable:
    """`melt runs names`: each saved name and the run id or exp:ID it stands for."""
    columns = (Column("name", 0, whole=True), Column("points at", 0), Column("saved (UTC)", 1))
    cells = [(str(r["name"]), str(r["reference"]), _started(r["created_at"])) for r in rows]
    return FittedTable(columns, cells, title="saved names")
