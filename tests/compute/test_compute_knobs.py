"""llama.cpp's offload knobs as melt takes them (a sweepable `--gpu-layers`, the others as
llama.cpp names them), llama-server's command line for them, ONNX Runtime GenAI's provider
check, the record crossing from a device's runner, and `melt devices check`'s listing."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.compute.runtime import VISIBLE, vulkan_runtime

from melt.compute import ComputeUse
from melt.config.experiment import expand, experiment_from
from melt.config.settings import RunSettings, engine_settings
from melt.errors import MeltError
from melt.frameworks.llama_server.devices import parse_device_list
from melt.frameworks.llama_server.flags import server_argv
from melt.frameworks.ort_genai.engine import load_config
from melt.frameworks.ort_genai.providers import check_provider, compute_use
from melt.frameworks.ort_genai.settings import OrtGenAISettings
from melt.runners.wire import load_from_wire, load_to_wire
from melt.traces import LoadTrace

FLAGS = {"gpu_layers": "--gpu-layers", "split_mode": "--split-mode"}


def test_gpu_layers_sweeps_like_threads() -> None:
    exp = experiment_from({"threads": [1, 2], "engine": {"gpu_layers": ["0", "8", "all"]}}, "t")
    cells = expand(exp, FLAGS)
    got = [(c.settings.threads, c.settings.engine.gpu_layers) for c in cells]
    assert got == [(1, 0), (1, 8), (1, "all"), (2, 0), (2, 8), (2, "all")]


def test_the_default_is_the_cpu_written_out() -> None:
    engine = RunSettings(threads=1).model_dump()["engine"]
    assert engine["gpu_layers"] == 0
    assert (engine["split_mode"], engine["main_gpu"], engine["kv_offload"]) == ("layer", 0, True)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"gpu_layers": "lots"}, "--gpu-layers: value error, expected a layer count"),
        ({"gpu_layers": "-1"}, "--gpu-layers: value error, expected a layer count"),
        ({"split_mode": "rows"}, "--split-mode: input should be 'none', 'layer' or 'row'"),
    ],
)
def test_bad_offload_values_name_the_flag(values: dict[str, str], message: str) -> None:
    with pytest.raises(MeltError, match=message):
        engine_settings("llama.cpp", values, FLAGS)


def test_bench_refuses_a_bad_gpu_layers_in_one_line(melt: Callable[..., object]) -> None:
    result = melt("bench", "--gpu-layers", "0,lots")
    assert result.code == 2  # type: ignore[attr-defined]
    assert result.err.strip().splitlines() == [  # type: ignore[attr-defined]
        "melt: error: --gpu-layers: value error, expected a layer count (0 or more) or 'all' "
        "(got 'lots')"
    ]


def test_llama_server_gets_the_offload_flags() -> None:
    engine = engine_settings(
        "llama-server",
        {
            "gpu_layers": "all",
            "split_mode": "none",
            "main_gpu": 1,
            "accel_device": "Vulkan0",
            "kv_offload": False,
        },
    )
    argv = server_argv("llama-server", "/m.gguf", 4242, RunSettings(threads=1, engine=engine))
    for flag, value in (
        ("--gpu-layers", "all"),
        ("--split-mode", "none"),
        ("--main-gpu", "1"),
        ("--device", "Vulkan0"),
    ):
        assert argv[argv.index(flag) + 1] == value
    assert "--no-kv-offload" in argv and "--op-offload" in argv
    cpu = server_argv("llama-server", "/m.gguf", 4242, RunSettings(threads=1))
    assert cpu[cpu.index("--gpu-layers") + 1] == "0"
    assert "--no-op-offload" in cpu and "--kv-offload" in cpu and "--device" not in cpu


def test_llama_server_list_devices_output_parses() -> None:
    """`--list-devices` as the Vulkan build prints it on lavapipe (the real output)."""
    runtime = vulkan_runtime()
    import subprocess

    text = subprocess.run(
        [str(runtime / "llama-server"), "--list-devices"],
        env={**os.environ, **VISIBLE},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    cpu, vulkan = parse_device_list(text)
    assert cpu.kind == "cpu"
    assert (vulkan.name, vulkan.api, vulkan.kind) == ("Vulkan0", "Vulkan", "gpu")
    assert vulkan.description.startswith("llvmpipe (LLVM ")
    assert vulkan.memory_total_bytes == 2048 * 1024 * 1024


def test_an_ort_provider_the_build_lacks_is_one_line_naming_what_it_has(tmp_path: Path) -> None:
    with pytest.raises(MeltError) as refused:
        load_config(tmp_path, 1, OrtGenAISettings(provider="cuda"))
    assert str(refused.value) == (
        "--provider cuda: this ONNX Runtime build has no CUDAExecutionProvider (it has: cpu); "
        "install a build with it (e.g. onnxruntime-genai-cuda) or pass one of those"
    )
    with pytest.raises(MeltError, match=r"unknown execution provider 'tpu' .*this build has: cpu"):
        load_config(tmp_path, 1, OrtGenAISettings(provider="tpu"))


def test_the_ort_record_names_the_provider_that_ran() -> None:
    record = compute_use(check_provider("cpu")).record()
    assert record["provider"] == "CPUExecutionProvider"
    assert record["backend"] == "CPU" and record["label"] == "CPU (CPUExecutionProvider)"
    assert [d["name"] for d in record["available"]] == ["cpu"]


def test_the_record_crosses_from_a_devices_runner_intact() -> None:
    use = ComputeUse(
        devices=parse_device_list(
            "  Vulkan0: llvmpipe (LLVM 15.0.6, 256 bits) (2048 MiB, 2048 MiB free)"
        )[1:],
        layers_offloaded=31,
        layers_total=31,
        kv_on_device=True,
        evidence=("load_tensors: offloaded 31/31 layers to GPU",),
        source="test",
    )
    load = LoadTrace(1, 2, 3, None, None, 256, compute=use)
    assert load_from_wire(load_to_wire(load)) == load


def test_devices_check_lists_compute_devices_per_framework(
    melt: Callable[..., object], monkeypatch: pytest.MonkeyPatch, llama_server_binary: Path
) -> None:
    monkeypatch.setenv("MELT_LLAMA_SERVER", str(llama_server_binary))
    result = melt("devices", "check", "local", "--json")
    assert result.code == 0, result.err  # type: ignore[attr-defined]
    compute = result.json()["compute"]  # type: ignore[attr-defined]
    assert [d["api"] for d in compute["llama.cpp"]["devices"]] == ["CPU"]
    assert [d["name"] for d in compute["llama-server"]["devices"]] == ["CPU"]
    assert [d["api"] for d in compute["onnxruntime-genai"]["devices"]] == ["CPUExecutionProvider"]
    assert "openai-http" not in compute
