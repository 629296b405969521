"""`melt bench --reconcile` refuses, in one line and before any run, what it cannot do: a
framework that is not llama.cpp, and a llama-server with no llama-bench of its build beside
it."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

BENCH = ["--threads", "1", "--max-new-tokens", "2", "--warmup", "0"]


@pytest.mark.parametrize(
    "framework",
    [
        ["--framework", "onnxruntime-genai"],
        ["--framework", "openai-http", "--endpoint", "http://127.0.0.1:9/v1"],
    ],
)
def test_reconcile_with_a_framework_that_is_not_llama_cpp_is_one_line(
    melt: Callable[..., Any], tmp_path: Path, framework: list[str]
) -> None:
    result = melt("bench", *framework, *BENCH, "--store", str(tmp_path / "m.db"), "--reconcile")
    assert result.code == 2
    (line,) = result.err.strip().splitlines()
    assert line.startswith("melt: error: --reconcile runs llama.cpp's llama-bench")
    assert "use --framework llama.cpp or llama-server, or drop --reconcile" in line


def test_a_llama_server_without_llama_bench_beside_it_is_refused_before_any_run(
    melt: Callable[..., Any],
    tmp_path: Path,
    llama_server_binary: Path,
    workload_file: Callable[..., Path],
) -> None:
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "llama-server").symlink_to(llama_server_binary)
    db = tmp_path / "m.db"
    result = melt(
        "bench", "--framework", "llama-server", "--server-binary", str(alone / "llama-server"),
        "--workload", str(workload_file([["Hi."]])), *BENCH, "--store", str(db), "--reconcile",
    )  # fmt: skip
    assert result.code == 2
    (line,) = result.err.strip().splitlines()
    assert line == (
        f"melt: error: no llama-bench at {alone / 'llama-bench'} (beside the run's "
        f"llama-server) for device 'local': build llama.cpp's tools there, or pass "
        f"--server-binary with a llama-server that has llama-bench beside it"
    )
    with sqlite3.connect(db) as conn:
        assert conn.execute("select count(*) from runs").fetchone() == (0,)
