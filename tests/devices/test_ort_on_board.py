"""`--framework onnxruntime-genai --device board` (issue 24): ONNX Runtime GenAI runs on the
local device only, said in one line before melt deploys or runs anything for it, not a
traceback from the board's Python (which has no pydantic)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from melt.models import Artifact


@pytest.mark.slow
def test_ort_on_a_board_is_one_line_before_anything_runs(
    melt: Callable[..., object],
    inventory: Callable[..., Path],
    ort_int4: Artifact,
    tmp_path: Path,
    workload_file,
) -> None:
    workload = workload_file([["Name a colour."]])
    db = tmp_path / "melt.db"
    result = melt(
        "bench", "--device", "board", "--devices", str(inventory()),
        "--framework", "onnxruntime-genai", "--workload", str(workload), "--store", str(db),
        "--max-new-tokens", "4", "--warmup", "0",
    )  # fmt: skip
    assert result.code == 2, result.err
    assert result.err.strip() == (
        "melt: error: --framework onnxruntime-genai runs on the local device only (its engine "
        "needs numpy, pydantic and onnxruntime-genai in the device's Python and its model is "
        "an export folder, which melt's runner does not deploy); for device 'board' pass "
        "--framework llama.cpp or llama-server, or run with --device local"
    )
    assert not (tmp_path / "device-workdir" / "models").exists()  # no model was sent
    if db.exists():
        with sqlite3.connect(db) as conn:
            assert conn.execute("select count(*) from runs").fetchone() == (0,)
