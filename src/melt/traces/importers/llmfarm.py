"""LLMFarm timing CSV: a header ``t_start_ms,t_end_ms,t_load_ms,t_sample_ms,t_p_eval_ms,
t_eval_ms,n_sample,n_p_eval,n_eval`` and one row per prompt (llama.cpp's counters as
LLMFarm exposes them)."""

from __future__ import annotations

import csv
from pathlib import Path

from melt.traces.importers.base import (
    ImportedRun,
    ImportedTurn,
    ImportResult,
    Malformed,
    read_text,
)
from melt.traces.importers.registry import register

COLUMNS = (
    "t_start_ms",
    "t_end_ms",
    "t_load_ms",
    "t_sample_ms",
    "t_p_eval_ms",
    "t_eval_ms",
    "n_sample",
    "n_p_eval",
    "n_eval",
)


@register
class LlmFarm:
    name = "llmfarm-csv"
    description = "LLMFarm timing CSV rows"
    reads_folders = False

    def sniff(self, path: Path, head: str) -> bool:
        first = head.splitlines()[0] if head.strip() else ""
        return tuple(c.strip() for c in first.split(",")) == COLUMNS

    def read(self, path: Path) -> ImportResult:
        rows = list(csv.reader(read_text(path).splitlines()))
        run = ImportedRun(label=path.name, sources=[str(path)], framework="llmfarm")
        malformed: list[Malformed] = []
        for number, row in enumerate(rows[1:], start=2):
            if not any(cell.strip() for cell in row):
                continue
            try:
                if len(row) != len(COLUMNS):
                    raise ValueError(f"{len(row)} fields, expected {len(COLUMNS)}")
                v = {k: float(cell) for k, cell in zip(COLUMNS, row, strict=True)}
            except ValueError as exc:
                malformed.append(Malformed(str(path), number, ",".join(row), str(exc)))
                continue
            run.turns.append(
                ImportedTurn(
                    index=len(run.turns),
                    prompt_tokens=int(v["n_p_eval"]),
                    generated_tokens=int(v["n_sample"]),
                    decode_steps=int(v["n_eval"]),
                    prefill_ms=v["t_p_eval_ms"],
                    decode_ms=v["t_eval_ms"],
                    total_ms=v["t_end_ms"] - v["t_start_ms"],
                    prefill_tok_per_s=(
                        v["n_p_eval"] / v["t_p_eval_ms"] * 1e3 if v["t_p_eval_ms"] > 0 else None
                    ),
                    decode_tok_per_s=(
                        v["n_eval"] / v["t_eval_ms"] * 1e3 if v["t_eval_ms"] > 0 else None
                    ),
                    counters=v,
                )
            )
        return ImportResult(self.name, [run], malformed, [f"{len(run.turns)} prompt row(s)"])
