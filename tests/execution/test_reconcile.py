"""`melt bench --reconcile` on the local device: llama.cpp's llama-bench (the build beside the
run's llama-server) runs after each run at the run's settings and the shape of its stored
turns, its rows are stored in `tool_rows`, and melt vs llama-bench is printed with the ratio;
outside ±5% the differences both sides recorded are named."""

from __future__ import annotations

import json
import re
import sqlite3
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

BENCH = ["--threads", "1", "--max-new-tokens", "4", "--temperature", "0", "--warmup", "0"]
CONVERSATION = [["Name a colour.", "And another one?", "Why that one?"]]


def rows(db: Path, sql: str, *args: object) -> list[dict[str, Any]]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(sql, args)]


def bench(melt: Callable[..., Any], db: Path, workload: Path, *args: str) -> Any:
    result = melt(
        "bench", "--workload", str(workload), "--store", str(db), *BENCH, "--reconcile", *args
    )
    assert result.code == 0, result.err
    return result


@pytest.fixture
def workload(workload_file: Callable[..., Path]) -> Path:
    return workload_file(CONVERSATION)


@pytest.mark.parametrize("framework", ["llama.cpp", "llama-server"])
def test_llama_bench_runs_at_the_runs_shape_and_its_rows_are_stored_and_compared(
    melt: Callable[..., Any],
    tmp_path: Path,
    workload: Path,
    llama_server_binary: Path,
    framework: str,
) -> None:
    db = tmp_path / "melt.db"
    result = bench(melt, db, workload, "--framework", framework)
    (run,) = rows(db, "select * from runs")
    turns = rows(db, "select * from turns where run_id = ? and warmup = 0", run["id"])
    tool = rows(db, "select * from tool_rows where run_id = ? order by id", run["id"])
    assert [t["tool"] for t in tool] == ["llama-bench", "llama-bench"]
    prompt = statistics.median_low(t["prompt_tokens_evaluated"] for t in turns)
    depth = statistics.median_low(t["prompt_tokens_reused"] for t in turns)
    assert depth > 0  # later turns reuse the earlier ones: llama-bench measures at that depth
    pp, tg = tool
    assert (pp["n_prompt"], pp["n_gen"], pp["n_depth"]) == (prompt, 0, depth)
    assert (tg["n_prompt"], tg["n_gen"], tg["n_depth"]) == (0, 4, depth)
    assert pp["test"] == f"pp{prompt} @ d{depth}"
    argv = json.loads(pp["argv"])
    assert argv[0] == str(llama_server_binary.with_name("llama-bench"))  # the same build
    flags = dict(zip(argv[3::2], argv[4::2], strict=False))
    assert flags["-t"] == "1" and flags["-b"] == flags["-ub"] == str(run["batch"])
    assert (flags["-fa"], flags["-ctk"], flags["-ctv"], flags["-ngl"]) == (
        "auto",
        "f16",
        "f16",
        "0",
    )
    row = json.loads(pp["row"])
    assert (row["n_threads"], row["n_prompt"], row["avg_ts"]) == (1, prompt, pp["avg_tok_per_s"])
    assert len(row["melt_tool_sha256"]) == 64
    # printed: melt's median over the measured turns against llama-bench's mean, and the ratio
    out = " ".join(result.out.split())
    assert "melt vs llama-bench on the device" in out
    melt_pp = statistics.median(t["prefill_tok_per_s"] for t in turns)
    melt_tg = statistics.median(t["decode_tok_per_s"] for t in turns)
    for melt_rate, tool_row in ((melt_pp, pp), (melt_tg, tg)):
        ratio = melt_rate / tool_row["avg_tok_per_s"]
        assert re.search(
            rf"{re.escape(tool_row['test'])} │ {melt_rate:.1f} │ "
            rf"{tool_row['avg_tok_per_s']:.1f} ± [\d.]+ │ {ratio:.3f}",
            out,
        ), out


def test_a_llama_bench_row_measured_at_another_depth_is_named_as_the_difference(
    melt: Callable[..., Any], tmp_path: Path, workload: Path
) -> None:
    """A llama-bench row that did not measure what melt did (here: another KV-cache depth and
    twice melt's rate) shows the ratio outside ±5% and names the depth from both records."""
    db = tmp_path / "melt.db"
    bench(melt, db, workload)
    ((run_id, depth),) = [
        (r["id"], r["depth"])
        for r in rows(
            db,
            "select runs.id, tool_rows.n_depth as depth from runs join tool_rows "
            "on tool_rows.run_id = runs.id where tool_rows.n_gen > 0",
        )
    ]
    turns = rows(db, "select * from turns where run_id = ? and warmup = 0", run_id)
    melt_tg = statistics.median(t["decode_tok_per_s"] for t in turns)
    with sqlite3.connect(db) as conn:
        conn.execute(
            "update tool_rows set n_depth = 4000, avg_tok_per_s = ? where n_gen > 0",
            (2 * melt_tg,),
        )
    report = melt("report", str(run_id), "--store", str(db))
    assert report.code == 0, report.err
    out = " ".join(report.out.split())
    assert "0.500" in out
    named = f"depth: melt's median {depth} tokens already in the KV cache, llama-bench 4000"
    assert named in out
    exported = melt("report", str(run_id), "--store", str(db), "--format", "json")
    assert exported.code == 0, exported.err
    (decode,) = [r for r in json.loads(exported.out)["reconcile"] if r["phase"] == "decode"]
    assert decode["ratio"] == pytest.approx(0.5) and named in decode["note"]


def test_llama_bench_beside_an_agreeing_run_names_no_difference(
    melt: Callable[..., Any], tmp_path: Path, workload: Path
) -> None:
    """Within ±5% nothing is named: a row set to melt's own rate has ratio 1.000 and an empty
    differences cell, though the shapes differ (the note is for a gap, not for every row)."""
    db = tmp_path / "melt.db"
    bench(melt, db, workload)
    (run,) = rows(db, "select * from runs")
    turns = rows(db, "select * from turns where run_id = ? and warmup = 0", run["id"])
    melt_pp = statistics.median(t["prefill_tok_per_s"] for t in turns)
    with sqlite3.connect(db) as conn:
        conn.execute("update tool_rows set avg_tok_per_s = ? where n_prompt > 0", (melt_pp,))
    report = melt("report", str(run["id"]), "--store", str(db))
    line = next(ln for ln in report.out.splitlines() if "prefill" in ln and "│" in ln)
    assert "1.000" in line
    assert line.rstrip().rstrip("│").rstrip().endswith("│")  # the differences cell is empty
