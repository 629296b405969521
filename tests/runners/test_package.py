"""melt's runner archive runs on a device that has only the standard library (and, for the
engine, llama-cpp-python): no pydantic, no yaml, nothing of melt's dependencies."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from melt.runners.package import runner_archive

STDLIB_ONLY = [sys.executable, "-I", "-S"]  # isolated: no site-packages at all
IMPORTS = (
    "melt.runners.agent",
    "melt.runners.wire",
    "melt.devices.facts",
    "melt.devices.proc",
    "melt.probes.registry",
    "melt.probes.sampler",
    "melt.frameworks.base",
    "melt.workloads.conversation",
    "melt.traces",
)


def _archive(tmp_path: Path) -> Path:
    archive = runner_archive()
    path = tmp_path / archive.file_name
    path.write_bytes(archive.data)
    return path


def test_archive_is_reproducible_and_named_by_its_content() -> None:
    first = runner_archive()
    runner_archive.cache_clear()
    second = runner_archive()
    assert first.data == second.data and first.sha256 == second.sha256
    assert first.file_name == f"runner-{first.sha256[:16]}.pyz"


def test_the_runner_needs_only_the_standard_library(tmp_path: Path) -> None:
    pyz = _archive(tmp_path)
    probe = "import sys; sys.path.insert(0, sys.argv[1])\n" + "\n".join(
        f"import {m}" for m in IMPORTS
    )
    done = subprocess.run([*STDLIB_ONLY, "-c", probe, str(pyz)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    commands = [
        {"id": 1, "cmd": "hello"},
        {"id": 2, "cmd": "detect"},
        {"id": 3, "cmd": "sampler_start", "probes": ["cpu", "memory"], "rate_hz": 20},
        {"id": 4, "cmd": "read_probe", "name": "memory"},
        {"id": 5, "cmd": "sampler_stop"},
        {"id": 6, "cmd": "framework", "framework": "llama.cpp"},
        {"id": 7, "cmd": "exit"},
    ]
    # stdin stays open while the runner works: its end means the controller is gone
    proc = subprocess.Popen(
        [*STDLIB_ONLY, str(pyz), "serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    replies: dict[int, dict] = {}
    for command in commands:
        proc.stdin.write(json.dumps(command) + "\n")
        proc.stdin.flush()
        while command["id"] not in replies:
            message = json.loads(proc.stdout.readline())
            if "id" in message:
                replies[message["id"]] = message
    proc.stdin.close()
    served = proc
    assert replies[1]["ok"] and replies[1]["llama_cpp_python"] is None
    assert {"cpu", "memory"} <= {p["name"] for p in replies[2]["probes"]}
    assert replies[4]["ok"] and replies[5]["stats"]["ticks"] >= 2
    # without llama_cpp the framework is an error reply, not a dead runner
    assert not replies[6]["ok"] and "llama_cpp" in replies[6]["error"]
    assert replies[7]["ok"] and served.wait(30) == 0
