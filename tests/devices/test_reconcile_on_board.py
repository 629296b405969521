"""`melt bench --reconcile` on the loopback SSH board: llama-bench, the build beside the run's
llama-server, is pushed to the board by content like the server and run there through the
device's own transport after the run, at the run's settings and turn shape; its rows are
stored beside the run and melt vs llama-bench is printed with the ratio."""

from __future__ import annotations

import json
import sqlite3
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from melt.devices.deploy import file_sha256
from melt.frameworks.llama_server.framework import ci_runtimes

BENCH = ["--max-new-tokens", "4", "--threads", "1", "--temperature", "0", "--warmup", "0"]


def _rows(db: Path, sql: str, *args: object) -> list[dict[str, Any]]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(sql, args)]


@pytest.mark.parametrize("framework", ["llama-server", "llama.cpp"])
def test_llama_bench_runs_on_the_board_beside_the_run(
    melt: Callable[..., Any],
    inventory: Callable[..., Path],
    tmp_path: Path,
    workload_file: Callable[..., Path],
    llama_server_binary: Path,
    framework: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # melt's runtime cache is CI's: the board (this machine over SSH) runs its x86-64 build
    monkeypatch.setenv("MELT_RUNTIMES", str(ci_runtimes()))
    workload = workload_file([["Name a colour.", "And another one?", "Why that one?"]])
    db = tmp_path / "melt.db"
    server = ["--server-binary", str(llama_server_binary)] if framework == "llama-server" else []
    result = melt(
        "bench", "--device", "board", "--devices", str(inventory()), "--framework", framework,
        *server, "--workload", str(workload), "--store", str(db), *BENCH, "--reconcile",
    )  # fmt: skip
    assert result.code == 0, result.err
    (run,) = _rows(db, "select * from runs")
    assert (run["status"], run["device"]) == ("completed", "board")
    turns = _rows(db, "select * from turns where run_id = ? and warmup = 0", run["id"])
    pp, tg = _rows(db, "select * from tool_rows where run_id = ? order by id", run["id"])
    depth = statistics.median_low(t["prompt_tokens_reused"] for t in turns)
    prompt = statistics.median_low(t["prompt_tokens_evaluated"] for t in turns)
    assert (pp["n_prompt"], pp["n_gen"], pp["n_depth"]) == (prompt, 0, depth)
    assert (tg["n_prompt"], tg["n_gen"], tg["n_depth"]) == (0, 4, depth)
    argv = json.loads(pp["argv"])
    workdir = str(tmp_path / "device-workdir")
    assert argv[0].startswith(workdir) and argv[0].endswith("llama-bench")  # pushed there
    assert argv[argv.index("-m") + 1].startswith(workdir)  # the board's copy of the model
    local_tool = llama_server_binary.with_name("llama-bench")
    assert json.loads(pp["row"])["melt_tool_sha256"] == file_sha256(local_tool)
    out = " ".join(result.out.split())
    ratio = statistics.median(t["decode_tok_per_s"] for t in turns) / tg["avg_tok_per_s"]
    assert f"{tg['test']} │" in out and f"│ {ratio:.3f} │" in out, out
