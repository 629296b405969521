"""A bench through llama-server records the runtime it ran (`runs.runtime`): melt's CI build
for this machine, chosen with no --server-binary, its id and the binary's sha256."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from melt.runtimes.cache import runtime_of


def test_a_local_llama_server_run_records_the_runtime_it_ran(
    melt: Callable[..., object],
    tmp_path: Path,
    workload_file: Callable[..., Path],
    llama_server_binary: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MELT_LLAMA_SERVER", raising=False)
    monkeypatch.setenv("MELT_RUNTIMES", str(tmp_path / "none-here"))  # CI's runtime, then
    runtime = runtime_of(llama_server_binary)
    assert runtime is not None  # the fixture's binary is a tool of CI's runtime
    db = tmp_path / "melt.db"
    result = melt(
        "bench", "--framework", "llama-server", "--workload", str(workload_file([["Hi."]])),
        "--max-new-tokens", "4", "--threads", "1", "--warmup", "0", "--store", str(db),
    )  # fmt: skip
    assert result.code == 0, result.err
    with sqlite3.connect(db) as conn:
        (recorded,) = conn.execute("select runtime from runs").fetchone()
    record = json.loads(recorded)
    assert record["id"] == runtime.id and record["sha256"] == runtime.sha256
    assert record["binary"] == "llama-server" and record["device"] is None
    digest = hashlib.sha256(llama_server_binary.read_bytes()).hexdigest()
    assert record["binary_sha256"] == digest
