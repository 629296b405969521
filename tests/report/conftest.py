"""A real sweep of the bundled model (Q8_0 and Q4_0, one conversation, 8 new tokens, one
thread), made once per session with the real `melt bench`, for the report and compare tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
SWEEP = ("--quant", "q8_0,q4_0", "--max-new-tokens", "8", "--conversations", "1")
SWEEP_TIMEOUT_S = 1800


@pytest.fixture(scope="session")
def sweep_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    store = tmp_path_factory.mktemp("sweep") / "melt.db"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    argv = [sys.executable, "-m", "melt", "bench", *SWEEP, "--threads", "1", "--store", str(store)]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=SWEEP_TIMEOUT_S)
    assert done.returncode == 0, done.stderr
    return str(store)
