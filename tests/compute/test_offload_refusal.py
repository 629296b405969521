"""Offload asked of a build that cannot do it: one line naming what the build has, exit 2,
nothing stored as `running` (in melt's process with the CPU-only wheel, and llama-server's
CPU-only build); and a load whose own report says no layer went to the device is refused
after the load, before anything is measured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.bench_process import SRC
from tests.compute.runtime import INHERITED_NOT, VISIBLE, bench, error_lines, vulkan_runtime

from melt.compute import ComputeAsk, ComputeUse, refuse_fallback
from melt.errors import MeltError


def runs_list(store: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "melt", "runs", "list", "--store", str(store)],
        env={**os.environ, "PYTHONPATH": str(SRC)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.stdout + done.stderr


@pytest.mark.parametrize("layers", ["all", "8"])
def test_in_process_cpu_wheel_refuses_offload(tmp_path: Path, layers: str) -> None:
    done = bench(tmp_path, "--gpu-layers", layers)
    assert done.returncode == 2, done.stderr[-3000:]
    (line,) = error_lines(done.stderr)
    assert line.startswith(f"melt: error: --gpu-layers {layers} asked for offload")
    assert "backends built in: CPU; devices: CPU" in line
    assert "Traceback" not in done.stderr
    assert done.runs() == []
    assert "running" not in runs_list(done.store)


def test_server_cpu_build_refuses_offload(tmp_path: Path, llama_server_binary: Path) -> None:
    done = bench(
        tmp_path,
        "--framework",
        "llama-server",
        "--server-binary",
        str(llama_server_binary),
        "--gpu-layers",
        "all",
    )
    assert done.returncode == 2, done.stderr[-3000:]
    (line,) = error_lines(done.stderr)
    assert line.startswith("melt: error: --gpu-layers all asked for offload")
    assert "devices: CPU" in line and "Vulkan" not in line
    assert done.runs() == []
    assert "running" not in runs_list(done.store)


def test_cpu_runs_record_the_cpu(tmp_path: Path) -> None:
    """The default (0 layers) is written out and the record says CPU, from the load log."""
    done = bench(tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    (run,) = done.runs()
    record = run["compute"]
    assert record["backend"] == "CPU" and record["label"] == "CPU"
    assert record["devices"][0]["kind"] == "cpu"
    assert "load_tensors: CPU_Mapped model buffer size = 92.10 MiB" in record["evidence"]
    assert json.loads(run["settings"])["engine"]["gpu_layers"] == 0


# A load on the Vulkan build with the device visible and no layer offloaded, reporting
# what melt records (the engine's own load report and ggml's registry) as JSON.
LOAD_NO_LAYERS = """
import json, sys
from melt.frameworks.llamacpp import ggml_devices
from melt.frameworks.llamacpp.engine import load_model
from melt.frameworks.llamacpp.ggml_devices import Offload
from melt.frameworks.llamacpp.load_log import compute_use
from melt.frameworks.llamacpp.settings import LlamaCppSettings
from melt.llama_backend import captured_log, init_backend
from melt.models import resolve_model
init_backend()
with captured_log() as lines:
    load_model(resolve_model(sys.argv[1]), vocab_only=False, offload=Offload(LlamaCppSettings()))
print(json.dumps(compute_use(lines, ggml_devices.devices(), "test").record()))
"""


def test_a_load_that_offloaded_nothing_is_refused() -> None:
    """The build has a visible Vulkan device, but llama.cpp's own report says 0 layers went
    there: a run that asked for offload and got that is refused, quoting the engine."""
    runtime = vulkan_runtime()
    base = {k: v for k, v in os.environ.items() if k not in INHERITED_NOT}
    done = subprocess.run(
        [sys.executable, "-c", LOAD_NO_LAYERS, "smollm2-135m-instruct"],
        env={**base, "PYTHONPATH": str(SRC), "LLAMA_CPP_LIB_PATH": str(runtime), **VISIBLE},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    used = ComputeUse.from_record(json.loads(done.stdout.splitlines()[-1]))
    assert used is not None
    assert [d.name for d in used.available] == ["Vulkan0", "CPU"]
    assert used.layers_offloaded == 0 and used.accelerator is None
    with pytest.raises(MeltError) as refused:
        refuse_fallback(ComputeAsk(gpu_layers="all"), used)
    message = str(refused.value)
    assert "\n" not in message
    assert "the engine said: load_tensors: offloaded 0/31 layers to GPU" in message
    assert "Vulkan0 llvmpipe" in message
