"""Offload on a real Vulkan device (lavapipe), in melt's process and in llama-server: the
stored compute record names the device and says what llama.cpp's own load log says, a build
that finds no device is refused, and greedy output matches the CPU run's.

lavapipe emulates a GPU on the CPU, so its rates mean nothing; these tests check records and
refusals only, on one short greedy turn."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from tests.compute.runtime import VISIBLE, Bench, bench, error_lines, vulkan_runtime
from tests.fixtures.llama_server import free_local_port

from melt.frameworks.llamacpp.engine import LlamaCpp
from melt.models import Artifact

OFFLOADED = re.compile(r"offloaded (\d+)/(\d+) layers to GPU")


@pytest.fixture(scope="module")
def runtime() -> Path:
    return vulkan_runtime()


def in_process(runtime: Path, tmp_path: Path, *args: str, visible: bool = True) -> Bench:
    env = {"LLAMA_CPP_LIB_PATH": str(runtime), **(VISIBLE if visible else {})}
    return bench(tmp_path, *args, env=env)


def server(runtime: Path, tmp_path: Path, *args: str, visible: bool = True) -> Bench:
    binary = ["--framework", "llama-server", "--server-binary", str(runtime / "llama-server")]
    return bench(tmp_path, *binary, *args, env=VISIBLE if visible else {})


def engine_offload_lines(stderr: str) -> list[tuple[int, int]]:
    """The "offloaded N/M layers" counts llama.cpp logged (melt -v routes its log)."""
    return [(int(a), int(b)) for a, b in OFFLOADED.findall(stderr)]


def server_logged_offload(binary: Path, model: Path) -> tuple[int, int] | None:
    """The "offloaded N/M layers" line llama-server itself logs (at -lv 4) loading `model`
    with every layer offloaded; the server is stopped once it has said it."""
    argv = [str(binary), "--model", str(model), "--gpu-layers", "all", "--ctx-size", "256"]
    argv += ["--threads", "1", "--port", str(free_local_port()), "--log-verbosity", "4"]
    with subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=VISIBLE
    ) as process:
        try:
            assert process.stderr is not None
            for line in process.stderr:
                found = OFFLOADED.search(line)
                if found:
                    return int(found.group(1)), int(found.group(2))
            return None
        finally:
            process.kill()


def assert_vulkan_record(record: dict, layers: int | None = None) -> None:
    assert record["backend"] == "Vulkan"
    device = record["devices"][0]
    assert (device["api"], device["name"], device["kind"]) == ("Vulkan", "Vulkan0", "gpu")
    assert "llvmpipe" in device["description"]
    assert record["label"].startswith(f"Vulkan0 {device['description']}")
    assert any(d["name"] == "Vulkan0" for d in record["available"])
    total = record["layers_total"]
    assert record["layers_offloaded"] == (total if layers is None else layers)
    assert (
        f"load_tensors: offloaded {record['layers_offloaded']}/{total} layers to GPU"
        in (record["evidence"])
    )


@pytest.mark.slow
def test_in_process_all_layers_on_lavapipe(runtime: Path, tmp_path: Path) -> None:
    done = in_process(runtime, tmp_path, "--gpu-layers", "all")
    assert done.returncode == 0, done.stderr[-3000:]
    (run,) = done.runs()
    assert run["status"] == "completed"
    assert_vulkan_record(run["compute"])
    assert run["compute"]["kv_on_device"] is True
    # the stored count is the engine's own: what llama.cpp logged during this load
    stored = (run["compute"]["layers_offloaded"], run["compute"]["layers_total"])
    assert engine_offload_lines(done.stderr) == [stored]
    assert f"compute {run['compute']['label']}" in done.stdout


@pytest.mark.slow
def test_in_process_sweep_0_8_all(runtime: Path, tmp_path: Path) -> None:
    done = in_process(runtime, tmp_path, "--gpu-layers", "0,8,all")
    assert done.returncode == 0, done.stderr[-3000:]
    runs = done.runs()
    assert [r["status"] for r in runs] == ["completed"] * 3
    records = [r["compute"] for r in runs]
    assert [r["layers_offloaded"] for r in records] == [0, 8, records[2]["layers_total"]]
    assert records[0]["backend"] == "CPU" and records[0]["label"] == "CPU"
    assert records[0]["kv_on_device"] is False
    assert_vulkan_record(records[1], layers=8)
    assert_vulkan_record(records[2])
    logged = engine_offload_lines(done.stderr)
    assert logged == [(r["layers_offloaded"], r["layers_total"]) for r in records]


# Greedy tokens that must agree before the backends' rounding may part them (see below).
SHARED_PREFIX_TOKENS = 4


@pytest.mark.slow
def test_in_process_greedy_output_matches_the_cpu_run(
    runtime: Path, tmp_path: Path, bundled: Artifact
) -> None:
    """Same model, same greedy prompt: the Vulkan run's first tokens are the CPU run's.

    Not all of them: for a Q4_1 matmul the CPU backend quantizes the activations to q8_1
    and accumulates in int32/fp32, while the Vulkan shaders dequantize the weights and
    accumulate in fp16/fp32, so the logits differ in their low bits and greedy decoding
    parts where two candidates are nearly tied (on this prompt, after "1. Red:")."""
    cpu = bench(tmp_path)
    gpu = in_process(runtime, tmp_path, "--gpu-layers", "all")
    assert cpu.returncode == 0 and gpu.returncode == 0, gpu.stderr[-3000:]
    (cpu_run,), (gpu_run,) = cpu.runs(), gpu.runs()
    assert cpu_run["compute"]["backend"] == "CPU"
    assert gpu_run["compute"]["backend"] == "Vulkan"
    tokenize = LlamaCpp().tokenizer(bundled)
    (cpu_text,), (gpu_text,) = cpu.outputs(cpu_run["id"]), gpu.outputs(gpu_run["id"])
    cpu_tokens, gpu_tokens = tokenize(cpu_text), tokenize(gpu_text)
    assert len(cpu_tokens) >= SHARED_PREFIX_TOKENS
    assert gpu_tokens[:SHARED_PREFIX_TOKENS] == cpu_tokens[:SHARED_PREFIX_TOKENS]


def test_in_process_hidden_device_is_refused(runtime: Path, tmp_path: Path) -> None:
    """Without GGML_VK_VISIBLE_DEVICES ggml hides lavapipe and llama.cpp would run
    `--gpu-layers all` on the CPU: refused before anything runs, naming what the build has."""
    done = in_process(runtime, tmp_path, "--gpu-layers", "all", visible=False)
    assert done.returncode == 2, done.stderr[-3000:]
    (line,) = error_lines(done.stderr)
    assert "--gpu-layers all" in line and "backends built in: Vulkan, CPU" in line
    assert "Traceback" not in done.stderr
    assert done.runs() == []


@pytest.mark.slow
def test_server_sweep_0_8_all(runtime: Path, tmp_path: Path, bundled: Artifact) -> None:
    done = server(runtime, tmp_path, "--gpu-layers", "0,8,all")
    assert done.returncode == 0, done.stderr[-3000:]
    runs = done.runs()
    assert [r["status"] for r in runs] == ["completed"] * 3
    records = [r["compute"] for r in runs]
    assert [r["layers_offloaded"] for r in records] == [0, 8, records[2]["layers_total"]]
    assert records[0]["label"] == "CPU"
    assert_vulkan_record(records[1], layers=8)
    assert_vulkan_record(records[2])
    assert all("--list-devices" in r["source"] for r in records)
    argv = runs[2]["settings"]
    assert '"--gpu-layers": "all"' in argv and '"--no-op-offload"' in runs[0]["settings"]
    # llama-server's own log at the same offload says the same count
    assert server_logged_offload(runtime / "llama-server", bundled.path) == (
        records[2]["layers_offloaded"],
        records[2]["layers_total"],
    )
    for record in records:
        assert f"compute {record['label']}" in done.stdout


def test_server_hidden_device_is_refused(runtime: Path, tmp_path: Path) -> None:
    done = server(runtime, tmp_path, "--gpu-layers", "all", visible=False)
    assert done.returncode == 2, done.stderr[-3000:]
    (line,) = error_lines(done.stderr)
    assert "--gpu-layers all asked for offload" in line and "devices: CPU" in line
    assert done.runs() == []
