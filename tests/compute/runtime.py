"""The llama.cpp build with a Vulkan backend the offload tests run on lavapipe (Mesa's
software Vulkan device), and `melt bench` subprocesses over it.

The build is a directory holding `llama-server` and the shared `libllama.so`/`libggml*.so`
(llama.cpp built with `-DGGML_VULKAN=ON -DBUILD_SHARED_LIBS=ON`, RPATH `$ORIGIN`): the
server path runs its `llama-server`, the in-process path points llama-cpp-python at its
libraries (`LLAMA_CPP_LIB_PATH`). `$MELT_VULKAN_RUNTIME` names it, else the linux-x86_64
vulkan runtime `.ci/build-llama-cpp-tools` builds into the CI cache (`melt runtimes build`).
A missing build fails the tests that need it, with what to set; only `MELT_VULKAN=off` (a
machine that cannot build it) skips them, saying so.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.bench_process import SRC

from melt.frameworks.llama_server.framework import ci_runtimes
from melt.runtimes.cache import matching

RUNTIME_ENV = "MELT_VULKAN_RUNTIME"
OFF_ENV = "MELT_VULKAN"
# ggml hides CPU-type Vulkan devices (lavapipe is one) unless they are listed here.
VISIBLE = {"GGML_VK_VISIBLE_DEVICES": "0"}
BENCH_TIMEOUT_S = 540
# Which device and which libllama a test's bench uses are the test's to say.
INHERITED_NOT = ("GGML_VK_VISIBLE_DEVICES", "LLAMA_CPP_LIB_PATH")


def vulkan_runtime() -> Path:
    """The Vulkan llama.cpp build's directory (see module); fails when it is missing."""
    if os.environ.get(OFF_ENV) == "off":
        pytest.skip(f"{OFF_ENV}=off: no Vulkan llama.cpp build on this machine")
    if os.environ.get(RUNTIME_ENV):
        folder = Path(os.environ[RUNTIME_ENV])
    else:
        built = matching("linux-x86_64", "vulkan", "llama-server", root=ci_runtimes())
        folder = Path(built.binary("llama-server")).parent if built else ci_runtimes() / "none"
    missing = [n for n in ("llama-server", "libllama.so") if not (folder / n).is_file()]
    if missing:
        pytest.fail(
            f"no Vulkan llama.cpp build at {folder} ({', '.join(missing)} missing): set "
            f"{RUNTIME_ENV} to its bin directory, or {OFF_ENV}=off where none can be built"
        )
    return folder


@dataclass
class Bench:
    """A finished `python -m melt bench` and its store."""

    returncode: int
    stdout: str
    stderr: str
    store: Path

    def runs(self) -> list[dict[str, Any]]:
        if not self.store.exists():
            return []
        with sqlite3.connect(self.store) as conn:
            conn.row_factory = sqlite3.Row
            try:
                rows = conn.execute("select * from runs order by id").fetchall()
            except sqlite3.OperationalError:  # no tables: nothing was ever stored
                return []
        return [
            {**dict(r), "compute": json.loads(r["compute"]) if r["compute"] else None} for r in rows
        ]

    def outputs(self, run_id: int) -> list[str]:
        with sqlite3.connect(self.store) as conn:
            rows = conn.execute(
                "select output_text from turns where run_id = ? and warmup = 0 order by id",
                (run_id,),
            ).fetchall()
        return [r[0] for r in rows]


def bench(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Bench:
    """`melt bench` on one short greedy turn, one thread, this checkout's sources."""
    workload = tmp_path / "hi.json"
    workload.write_text(json.dumps([["Name three colours."]]))
    store = tmp_path / f"melt-{len(list(tmp_path.glob('melt-*.db')))}.db"
    argv = [sys.executable, "-m", "melt", "-v", "bench", "--workload", str(workload)]
    argv += ["--store", str(store), "--max-new-tokens", "6", "--ctx", "256", "--warmup", "0"]
    argv += ["--threads", "1", "--temperature", "0", *args]
    base = {k: v for k, v in os.environ.items() if k not in INHERITED_NOT}
    done = subprocess.run(
        argv,
        env={**base, "PYTHONPATH": str(SRC), "COLUMNS": "200", **(env or {})},
        capture_output=True,
        text=True,
        timeout=BENCH_TIMEOUT_S,
        check=False,
    )
    return Bench(done.returncode, done.stdout, done.stderr, store)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("melt: error:")]
