"""melt vs llama-bench on the same device (`melt bench --reconcile`), read from the store: per
run and phase, melt's median rate over its measured turns, llama-bench's mean over its
repetitions, their ratio, and outside ±5% the differences both sides recorded
(`metrics/reconcile.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.table import Table
from rich.text import Text

from melt.metrics.reconcile import compare, melt_side
from melt.store import Store

TITLE = (
    "melt vs llama-bench on the device (melt: median over measured turns; ratio melt/llama-bench)"
)


def reconcile_rows(store: Store, run_ids: Sequence[int]) -> list[dict[str, Any]]:
    """One flat row per run and phase that has llama-bench rows beside it."""
    by_run: dict[int, list[dict[str, Any]]] = {}
    for row in store.tool_rows(run_ids):
        by_run.setdefault(row["run_id"], []).append(row)
    out = []
    for run_id, rows in by_run.items():
        melt = melt_side(store.run(run_id), store.turns(run_id))
        for row, phase in zip(rows, compare(melt, rows), strict=True):
            out.append(
                {
                    "run_id": run_id,
                    "phase": phase.phase,
                    "test": row["test"],
                    "melt_tok_per_s": phase.melt_tok_per_s,
                    "llama_bench_tok_per_s": phase.tool_tok_per_s,
                    "llama_bench_stddev_tok_per_s": row["stddev_tok_per_s"],
                    "ratio": phase.ratio,
                    "note": phase.note(),
                }
            )
    return out


def reconcile_parts(store: Store, run_ids: Sequence[int]) -> list[Table]:
    """The comparison as a terminal table; nothing for runs without llama-bench rows."""
    rows = reconcile_rows(store, run_ids)
    if not rows:
        return []
    table = Table(title=TITLE, title_justify="left")
    for name, justify in (("run", "right"), ("phase", "left"), ("llama-bench test", "left"),
                          ("melt tok/s", "right"), ("llama-bench tok/s", "right"),
                          ("ratio", "right"), ("differences (outside ±5%)", "left")):  # fmt: skip
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for r in rows:
        ratio = r["ratio"]
        table.add_row(
            Text(str(r["run_id"])),
            Text(r["phase"]),
            Text(r["test"]),
            Text(_num(r["melt_tok_per_s"])),
            Text(f"{r['llama_bench_tok_per_s']:.1f} ± {r['llama_bench_stddev_tok_per_s']:.1f}"),
            Text("—" if ratio is None else f"{ratio:.3f}", style="" if not r["note"] else "yellow"),
            Text(r["note"]),
        )
    return [table]


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"
