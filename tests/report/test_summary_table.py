"""A stored run's summary table: its medians, and load time, memory, peak RSS with its
source and the decode check against the engine's counters, each only when recorded."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from melt.report.profile import summary_table

RUN: dict[str, Any] = {
    "id": 7,
    "status": "completed",
    "device": "orin",
    "framework": "llama.cpp",
    "framework_version": "0.3.36",
    "model_name": "tiny",
    "model_quant": "Q4_0",
    "threads": 1,
    "ctx": 512,
    "batch": 512,
    "max_new_tokens": 8,
    "workload_name": "chat",
    "settings": {},
    "load_time_s": 0.25,
    "model_bytes": 96 * 1024 * 1024,
    "peak_rss_bytes": 300 * 1024 * 1024,
    "decode_consistency_rel_diff": -0.045,
    "summary": {
        "aggregates": {
            "turns": 3,
            "prompt_tokens_evaluated": 90,
            "prompt_tokens_reused": None,
            "generated_tokens": 24,
            "cpu_time_s": {"n": 3, "median": 1.5, "ci_low": 1.0, "ci_high": 2.0},
        },
        "peak_rss_source": "VmHWM",
    },
}


def _rows(run: dict[str, Any]) -> dict[str, str]:
    console = Console(width=200, record=True)
    console.print(summary_table(run))
    cells = [
        [c.strip() for c in line.strip("│").split("│")]
        for line in console.export_text().splitlines()
        if line.startswith("│")
    ]
    return {row[0]: row[1] for row in cells}


def test_recorded_load_memory_and_decode_check_are_shown() -> None:
    rows = _rows(RUN)
    assert rows["tokens"] == ("90 prompt tokens evaluated (cache reuse not reported), 24 generated")
    assert rows["CPU time per turn"] == "1.500 s (median of 3, 95% CI 1.000–2.000)"
    assert rows["load time"] == "0.250 s"
    assert rows["model memory"] == "96.0 MiB"
    assert rows["peak RSS"] == "300.0 MiB (VmHWM)"
    assert rows["decode vs engine counters"] == "-4.50% ⚠ over 3%"


def test_what_was_not_recorded_is_left_out_not_shown_as_zero() -> None:
    unknown = ("load_time_s", "model_bytes", "peak_rss_bytes", "decode_consistency_rel_diff")
    rows = _rows({**RUN, **dict.fromkeys(unknown)})
    for label in ("load time", "model memory", "peak RSS", "decode vs engine counters"):
        assert label not in rows
    assert "decode vs engine counters" in _rows({**RUN, "decode_consistency_rel_diff": 0.01})
    assert (
        "⚠" not in _rows({**RUN, "decode_consistency_rel_diff": 0.01})["decode vs engine counters"]
    )
