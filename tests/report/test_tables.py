"""The tables of `runs list`, `runs show` and the series table at 80 and 40 columns: every
status, stop reason and series name appears whole, never cut to '…'."""

from __future__ import annotations

from typing import Any

import pytest
from rich.console import Console

from melt.report.layout import Column, FittedTable
from melt.report.runs import run_table, runs_table, turns_table
from melt.report.samples import SeriesOverview, series_table
from melt.traces.sample import Provenance

STATUSES = ("completed", "interrupted", "imported", "abandoned", "terminated", "failed")
SERIES = (
    ("cpufreq", "cpu0_scaling_cur_freq", "MHz"),
    ("cpufreq", "cpu1_scaling_cur_freq", "MHz"),
    ("memory", "process_rss", "B"),
    ("memory", "process_pss", "B"),
    ("thermal", "x86_pkg_temp", "°C"),
    ("cpu_power_model", "power", "W"),
)


def _render(renderable: Any, width: int) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= width
    return text


def _run(i: int, status: str) -> dict[str, Any]:
    aggregates = {"turns": 6, "decode_tok_per_s": {"median": 151.2}, "ttft_s": {"median": 0.01}}
    return {
        "id": 1000 + i,
        "experiment_id": 12,
        "status": status,
        "model_name": "Pixel7/llama.cpp/Llama-3.2-1B-Instruct-Q4_K_M/run_cs2048_mgl64#0",
        "model_quant": "Q4_K_M",
        "threads": 2,
        "started_at": "2026-12-01T20:06:21.123456",
        "summary": {"aggregates": aggregates},
    }


@pytest.mark.parametrize("width", [80, 40])
def test_runs_list_shows_every_status_whole(width: int) -> None:
    text = _render(runs_table([_run(i, s) for i, s in enumerate(STATUSES)]), width)
    assert "…" not in text
    for i, status in enumerate(STATUSES):
        assert f" {1000 + i} │ {status} " in text


def test_runs_list_at_80_columns_keeps_what_identifies_a_run() -> None:
    run = {**_run(0, "completed"), "device": "orin"}
    text = _render(runs_table([run]), 80)
    assert "Q4_K_M" in text and "151.2" in text and "│ orin " in text
    # the device a run was measured on outranks when it started
    assert (
        "not shown at this width: turns, TTFT s, started (UTC), framework, compute, settings, exp"
    ) in " ".join(text.split())
    wide = _render(runs_table([run]), 160)
    assert "2026-12-01" in wide and "20:06:21" in wide


@pytest.mark.parametrize("width", [80, 40])
def test_series_names_and_units_are_whole(width: int) -> None:
    rows = [
        SeriesOverview(p, c, u, Provenance.MEASURED, None, 10, 9.9, 1.0, 2.0, 3.0, 0.1, 1.2)
        for p, c, u in SERIES
    ]
    text = _render(series_table(rows), width)
    assert "…" not in text
    for probe, channel, unit in SERIES:
        assert f"│ {probe}/{channel} " in text
        assert f" {unit} " in text


@pytest.mark.parametrize("width", [80, 40])
def test_turns_keep_their_stop_reason_and_runs_show_its_keys(width: int) -> None:
    turns = [
        {
            "conversation_index": 0,
            "turn_index": i,
            "warmup": i == 0,
            "prompt_tokens": 120,
            "prompt_tokens_evaluated": 100,
            "prompt_tokens_reused": 20,
            "generated_tokens": 64,
            "stop_reason": stop,
            "ttft_s": 0.05,
            "prefill_tok_per_s": 900.0,
            "decode_tok_per_s": 150.0,
        }
        for i, stop in enumerate(("max_tokens", "eos", "interrupted", "imported"))
    ]
    text = _render(turns_table(turns), width)
    for stop in ("max_tokens", "eos", "interrupted", "imported"):
        assert f" {stop} " in text
    run = {k: "x" for k in ("status", "error", "started_at", "ended_at")} | {"status": "abandoned"}
    record = _render(run_table(7, _full_run(run), {}), width)
    assert "…" not in record
    assert " abandoned " in record
    assert ("│ decode_consistency_rel_diff │" in record) == (width == 80)


def _full_run(overrides: dict[str, Any]) -> dict[str, Any]:
    from melt.report.runs import BYTE_KEYS, RUN_KEYS

    run: dict[str, Any] = {k: "/a/long/path/that/must/wrap/model-name.gguf" for k in RUN_KEYS}
    run |= {k: 1 << 20 for k in BYTE_KEYS}
    return run | overrides


def test_columns_are_dropped_least_important_first() -> None:
    columns = (Column("key", 0, whole=True), Column("b", 2), Column("a", 1), Column("c", 2))
    table = FittedTable(columns, [("a-long-key", "bbbbbb", "aaaaaa", "cccccc")])
    assert table.kept(200) == [0, 1, 2, 3]
    # key 10 + three columns of 6 + chrome 3 × 4 + 1 = 41
    assert table.kept(41) == [0, 1, 2, 3]
    assert table.kept(40) == [0, 1, 2]  # the last of the highest priority number goes first
    assert table.kept(31) == [0, 2]
    assert table.kept(5) == [0]  # priority 0 always stays
