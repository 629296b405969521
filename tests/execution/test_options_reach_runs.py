"""No option `melt bench` accepts is dropped on the way to a run, on any execution path.

Every path (in process, a thread per device, a Ray task) executes `RunSpec`s from the one
planner, and a Ray task receives its spec pickled. So: for every parameter of `bench` (read
from its signature, so a new option without a row here fails), give it a value that is not
its default, plan the runs on two devices, pickle each spec as Ray ships it, and find the
value in what the run executes (`spec.request`, `spec.cell`) and in what it stores
(`spec.options_record()`, kept in the run's settings as `options`). The three options that
choose the path itself (`--ray`, `--retries`, `--json`) are checked on the dispatch.
"""

from __future__ import annotations

import inspect
import json
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import melt.cli.bench as bench_cli
from melt.execution.request import BenchRequest
from melt.execution.spec import RunSpec, plan_runs

Check = Callable[[RunSpec, dict[str, Any]], Any]


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    got: Check  # (spec after a pickle round trip, its stored options) -> the value
    want: Any


def _cell(field: str) -> Check:
    return lambda spec, _: getattr(spec.cell.settings, field)


def _engine(field: str) -> Check:
    return lambda spec, _: getattr(spec.cell.settings.engine, field)


def _option(*path: str) -> Check:
    def get(_: RunSpec, stored: dict[str, Any]) -> Any:
        value: Any = stored
        for key in path:
            value = value[key]
        return value

    return get


ORT = ("--framework", "onnxruntime-genai")
MONSOON = ("--monsoon-vout", "4.2")

CASES: dict[str, Case] = {
    "model": Case(("--model", "tiny-x"), lambda s, _: s.cell.model, "tiny-x"),
    "quant": Case(("--quant", "q8_0"), lambda s, _: s.cell.quant, "q8_0"),
    "workload": Case(("--workload", "w.json"), _option("workload"), "w.json"),
    "threads": Case(("--threads", "3"), _cell("threads"), 3),
    "max_new_tokens": Case(("--max-new-tokens", "9"), _cell("max_new_tokens"), 9),
    "conversations": Case(("--conversations", "2"), _option("conversations"), 2),
    "repeats": Case(("--repeats", "2"), _option("repeats"), 2),
    "warmup": Case(("--warmup", "0"), _option("warmup_turns"), 0),
    "seed": Case(("--seed", "7"), lambda s, _: s.cell.settings.sampling.seed, 7),
    "temperature": Case(
        ("--temperature", "0.5"), lambda s, _: s.cell.settings.sampling.temperature, 0.5
    ),
    "ctx": Case(("--ctx", "1024"), _cell("ctx"), 1024),
    "batch": Case(("--batch", "64"), _cell("batch"), 64),
    "config": Case(("--config", "exp.yaml"), lambda s, _: s.cell.model, "from-config"),
    "store": Case(
        ("--store", "postgresql://me:pw@db/melt"), _option("store"), "postgresql://me:***@db/melt"
    ),
    "llama_cpp_dir": Case(
        ("--llama-cpp-dir", "/opt/llama.cpp"), _option("llama_cpp_dir"), "/opt/llama.cpp"
    ),
    "probe_rate": Case(("--probe-rate", "7"), _option("probes", "rate_hz"), 7.0),
    "idle_baseline": Case(("--idle-baseline", "4s"), _option("probes", "idle_baseline_s"), 4.0),
    "cooldown": Case(("--cooldown", "30s"), _option("probes", "cooldown"), 30.0),
    "sustained": Case(("--sustained", "2m"), _option("sustained_s"), 120.0),
    "power_model": Case(
        ("--power-model", "estimated", "--device-profile", "profile.yaml"),
        _option("probes", "power_model"),
        "estimated",
    ),
    "device_profile": Case(
        ("--device-profile", "profile.yaml"), _option("probes", "profile", "name"), "test-phone"
    ),
    "comfort_temp": Case(("--comfort-temp", "41"), _option("probes", "comfort_c"), 41.0),
    "sysfs_root": Case(("--sysfs-root", "/tmp/sys"), _option("probes", "root"), "/tmp/sys"),
    "monsoon_vout": Case(MONSOON, _option("probes", "monsoon", "vout_v"), 4.2),
    "monsoon_serial": Case(
        (*MONSOON, "--monsoon-serial", "12"), _option("probes", "monsoon", "serial"), 12
    ),
    "monsoon_rate": Case(
        (*MONSOON, "--monsoon-rate", "500"), _option("probes", "monsoon", "rate_hz"), 500.0
    ),
    "monsoon_max_vout": Case(
        (*MONSOON, "--monsoon-max-vout", "5"), _option("probes", "monsoon", "max_vout_v"), 5.0
    ),
    "device": Case(("--device", "board-1"), lambda s, _: s.request.device, "board-1"),
    "devices": Case(("--devices", "inv.yaml"), _option("devices_file"), "inv.yaml"),
    "accept_new_host_key": Case(("--accept-new-host-key",), _option("accept_new_host_key"), True),
    "allow_oversubscribe": Case(("--allow-oversubscribe",), _option("allow_oversubscribe"), True),
    "framework": Case(("--framework", "llama-server"), _option("framework"), "llama-server"),
    "endpoint": Case(
        ("--framework", "openai-http", "--endpoint", "http://u:secret@127.0.0.1:9/v1"),
        _option("framework_options", "endpoint"),
        "http://u:***@127.0.0.1:9/v1",
    ),
    "api_model": Case(
        ("--framework", "openai-http", "--api-model", "m1"),
        _option("framework_options", "api_model"),
        "m1",
    ),
    "api_key_env": Case(
        ("--framework", "openai-http", "--api-key-env", "MY_KEY"),
        _option("framework_options", "api_key_env"),
        "MY_KEY",
    ),
    "server_binary": Case(
        ("--framework", "llama-server", "--server-binary", "/opt/llama-server"),
        _option("framework_options", "server_binary"),
        "/opt/llama-server",
    ),
    "flash_attn": Case(("--flash-attn", "on"), _engine("flash_attn"), "on"),
    "cache_type_k": Case(("--cache-type-k", "q8_0"), _engine("cache_type_k"), "q8_0"),
    "cache_type_v": Case(("--cache-type-v", "q8_0"), _engine("cache_type_v"), "q8_0"),
    "cpu_mask": Case(("--cpu-mask", "0x3"), _engine("cpu_mask"), "0x3"),
    "cpu_strict": Case(("--cpu-strict",), _engine("cpu_strict"), True),
    "mmap": Case(("--no-mmap",), _engine("mmap"), False),
    "poll": Case(("--poll", "10"), _engine("poll"), 10),
    "gpu_layers": Case(("--gpu-layers", "8"), _engine("gpu_layers"), 8),
    "split_mode": Case(("--split-mode", "row"), _engine("split_mode"), "row"),
    "main_gpu": Case(("--main-gpu", "1"), _engine("main_gpu"), 1),
    "accel_device": Case(("--accel-device", "Vulkan0"), _engine("accel_device"), "Vulkan0"),
    "kv_offload": Case(("--no-kv-offload",), _engine("kv_offload"), False),
    "provider": Case((*ORT, "--provider", "cpu"), _engine("provider"), "cpu"),
    "provider_options": Case(
        (*ORT, "--provider-option", "a=b"),
        lambda s, _: dict(s.cell.settings.engine.provider_options),
        {"a": "b"},
    ),
    "reconcile": Case(("--reconcile",), _option("reconcile"), True),
    "usb_power_off_cmd": Case(
        ("--usb-power-off-cmd", "hub off"), _option("run_options", "usb_power_off_cmd"), "hub off"
    ),
    "usb_power_on_cmd": Case(
        ("--usb-power-on-cmd", "hub on"), _option("run_options", "usb_power_on_cmd"), "hub on"
    ),
}
# They choose how the runs are executed, not what a run is: checked on the dispatch.
DISPATCH = {
    "ray": (("--ray", "10.9.9.9:6379"), 1, "10.9.9.9:6379"),
    "retries": (("--retries", "2"), 2, 2),
    "as_json": (("--json",), 3, True),
}


def test_every_bench_option_has_a_row() -> None:
    """A new option of `melt bench` needs a row here, i.e. a check that it reaches runs."""
    params = set(inspect.signature(bench_cli.bench).parameters)
    assert params == set(CASES) | set(DISPATCH)


@pytest.fixture
def dispatched(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> list[tuple[BenchRequest, str | None, int, bool]]:
    """`melt bench`'s parsed request, captured where it would be executed."""
    calls: list[tuple[BenchRequest, str | None, int, bool]] = []
    monkeypatch.setattr(bench_cli, "dispatch", lambda *args: calls.append(args))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "exp.yaml").write_text("models: [from-config]\n")
    (tmp_path / "profile.yaml").write_text(
        "name: test-phone\npower_model: {idle_w: 1.0, active_w_per_core: 0.5}\n"
    )
    return calls


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_option_reaches_every_run_and_its_stored_options(
    name: str, melt: Callable[..., Any], dispatched: list[Any]
) -> None:
    case = CASES[name]
    result = melt("bench", *case.args)
    assert result.code == 0, result.err
    ((request, *_),) = dispatched
    specs = plan_runs(request, ["dev-a", "dev-b"], experiment_id=5)
    assert len(specs) == 2 * request.repeats
    for spec in specs:
        shipped = pickle.loads(pickle.dumps(spec))  # what a Ray task receives
        stored = json.loads(json.dumps(shipped.options_record()))  # what the run row keeps
        assert case.got(shipped, stored) == case.want


@pytest.mark.parametrize("name", sorted(DISPATCH))
def test_the_execution_options_reach_the_dispatch(
    name: str, melt: Callable[..., Any], dispatched: list[Any]
) -> None:
    args, position, want = DISPATCH[name]
    result = melt("bench", *args)
    assert result.code == 0, result.err
    assert dispatched[0][position] == want


def test_no_secret_in_the_stored_options(melt: Callable[..., Any], dispatched: list[Any]) -> None:
    result = melt(
        "bench",
        "--framework",
        "openai-http",
        "--endpoint",
        "https://user:hunter2@127.0.0.1:9/v1",
        "--api-key-env",
        "MY_KEY",
        "--store",
        "postgresql://melt:hunter2@127.0.0.1/melt",
    )
    assert result.code == 0, result.err
    ((request, *_),) = dispatched
    (spec,) = plan_runs(request, ["dev-a"])
    assert "hunter2" not in json.dumps(spec.options_record())
