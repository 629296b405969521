"""`melt bench` prints its figures as the store holds them: the same tables `melt report`
and `melt runs show` print for the run ids it just wrote, read back from the store."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

TINY = ("--max-new-tokens", "4", "--warmup", "0", "--ctx", "512")


def table_rows(out: str, title: str) -> list[list[str]]:
    """The body rows of the table titled `title` in rich's output, cells stripped."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == title)
    rows = []
    for line in lines[start + 1 :]:
        if line.startswith("└"):
            return rows
        if line.startswith("│"):
            rows.append([cell.strip() for cell in line.strip("│").split("│")])
    raise AssertionError(f"table {title!r} has no end")


def stored_turns(store: Path, run_id: int) -> int:
    with sqlite3.connect(store / "melt.db") as db:
        return db.execute("select count(*) from turns where run_id = ?", (run_id,)).fetchone()[0]


@pytest.mark.slow
def test_one_run_prints_what_report_and_runs_show_print(
    melt: Callable[..., object], two_turns: Path, tmp_path: Path
) -> None:
    store = tmp_path / "res"
    bench = melt(
        "bench", *TINY, "--threads", "1", "--workload", str(two_turns), "--store", str(store)
    )
    assert bench.code == 0, bench.err
    report = melt("report", "1", "--store", str(store))
    shown = melt("runs", "show", "1", "--store", str(store))
    head = bench.out.splitlines()[:6]  # device, compute, workload, artifact, settings, knobs
    assert head == report.out.splitlines()[:6]
    assert head[1].startswith("compute CPU (llama.cpp's load log")
    assert head[2].startswith("workload ") and "2 turns × 1 run(s) per cell" in head[2]
    assert head[4].startswith("threads 1, ctx 512, batch 512, max new tokens 4")
    summary = table_rows(bench.out, "run 1 (completed)")
    assert summary == table_rows(report.out, "run 1 (completed)")
    assert "(median of 2, 95% CI " in {row[0]: row[1] for row in summary}["TTFT"]
    turns = table_rows(bench.out, "run 1: turns")
    assert turns == table_rows(shown.out, "turns")
    assert len(turns) == stored_turns(store, 1) == 2  # the stored turns, each shown


@pytest.mark.slow
def test_a_sweep_prints_the_report_table_of_its_runs(
    melt: Callable[..., object], two_turns: Path, tmp_path: Path
) -> None:
    store = tmp_path / "res"
    bench = melt(
        "bench", *TINY, "--threads", "1,2", "--workload", str(two_turns), "--store", str(store)
    )
    assert bench.code == 0, bench.err
    report = melt("report", "1", "2", "--store", str(store))
    assert bench.out.splitlines()[:2] == report.out.splitlines()[:2]  # device, workload
    title = "rates: median of per-turn rates [95% CI] and total tokens / total time"
    ours, theirs = table_rows(bench.out, title), table_rows(report.out, title)
    assert [row[0] for row in ours] == ["1", "2"]
    # every column but the roofline's, whose bandwidth each report measures afresh here
    assert [row[:-1] for row in ours] == [row[:-1] for row in theirs]
    assert table_rows(bench.out, "quality of experience") == table_rows(
        report.out, "quality of experience"
    )
    sweep = "Sweep: median [95% CI] per variant × setting"
    cells = table_rows(bench.out, sweep)
    assert cells == table_rows(report.out, sweep)
    firsts = [row for row in cells if row[0]]  # a cell's first line (a CI may wrap below it)
    assert [(row[4], row[-1]) for row in firsts] == [("1", "2"), ("2", "2")]  # threads, turns
    assert all(row[3] != "–" for row in firsts)  # bits per weight, from the stored params
    for run_id in (1, 2):
        shown = melt("runs", "show", str(run_id), "--store", str(store))
        turns = table_rows(bench.out, f"run {run_id}: turns")
        assert turns == table_rows(shown.out, "turns")
        assert len(turns) == stored_turns(store, run_id) == 2


@pytest.mark.slow
def test_a_fleet_bench_prints_each_devices_figures_from_the_store(
    melt: Callable[..., object], two_turns: Path, tmp_path: Path
) -> None:
    """`--retries` takes the fleet's path (one device here): its summary too is read back."""
    store = tmp_path / "res"
    bench = melt(
        "bench", *TINY, "--threads", "1", "--workload", str(two_turns), "--store", str(store),
        "--device", "local", "--retries", "1",
    )  # fmt: skip
    assert bench.code == 0, bench.err
    report = melt("report", "1", "--store", str(store))
    assert table_rows(bench.out, "run 1 (completed)") == table_rows(report.out, "run 1 (completed)")
    assert table_rows(bench.out, "devices of experiment 1") == [
        ["local", "completed", "1", "0", "0", ""]
    ]
