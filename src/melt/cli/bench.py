"""`melt bench`: run a workload on a model and print what a user of the device would feel.

Flags that take lists (`--quant q8_0,q4_0 --threads 1,2`) form a cartesian product, as in
llama-bench; `--config exp.yaml` loads an experiment and flags override its keys.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

import typer
from rich.progress import Progress

from melt.cli import framework_options as fw
from melt.cli.devices import ACCEPT_OPTION, DEVICES_OPTION
from melt.cli.fleet import bench_on_ray
from melt.cli.fleet_bench import bench_fleet
from melt.cli.models import LLAMA_CPP_DIR_OPTION, MODEL_HELP
from melt.cli.progress import run_progress, turn_status
from melt.config import Experiment, expand, experiment_from
from melt.config.device_profile import load_device_profile
from melt.config.experiment import SamplingOverrides, load_experiment_file
from melt.errors import MeltError
from melt.execution.bench import run_bench
from melt.execution.monitor_settings import ProbeSettings, parse_cooldown, parse_duration_s
from melt.execution.request import BenchRequest
from melt.execution.selection import is_fleet
from melt.files import require_mapping
from melt.metrics.thermal import DEFAULT_COMFORT_C
from melt.metrics.turn import TurnMetrics
from melt.probes.monsoon import DEFAULT_MAX_VOUT_V, MonsoonSettings
from melt.probes.monsoon import DEFAULT_RATE_HZ as MONSOON_RATE_HZ
from melt.probes.sampler import DEFAULT_RATE_HZ, check_rate
from melt.report.bench import bench_document, bench_summary
from melt.report.console import stdout_console
from melt.report.stored import run_ids_of, stored_summary
from melt.results import RunResult
from melt.runners.base import RunOptions
from melt.store import open_store
from melt.traces import TurnTrace
from melt.workloads import Conversation

SUSTAINED_BUCKETS = 10

FLAGS = {
    "models": "--model",
    "quants": "--quant",
    "threads": "--threads",
    "ctx": "--ctx",
    "batch": "--batch",
    "max_new_tokens": "--max-new-tokens",
    "conversations": "--conversations",
    "repeats": "--repeats",
    "warmup_turns": "--warmup",
    "workload": "--workload",
    "sampling": "--seed/--temperature",
    "framework": "--framework",
}


def _int_list(flag: str, text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise MeltError(
            f"{flag}: expected an integer or a comma-separated list of integers (got '{text}')"
        ) from None


def _duration(flag: str, text: str) -> float:
    try:
        return parse_duration_s(text)
    except MeltError as exc:
        raise MeltError(f"{flag}: {exc}") from None


def _str_list(text: str | None) -> list[str] | None:
    return None if text is None else [p.strip() for p in text.split(",") if p.strip()]


class ProgressObserver:
    """A bar over runs and one over the turns of the current conversation."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.runs_task = progress.add_task("runs", total=None, status="")
        self.turn_task: int | None = None

    def preparing(self, message: str) -> None:
        self.progress.update(self.runs_task, description=f"preparing: {message}")

    def run_started(self, run_id: int, index: int, total: int, label: str) -> None:
        self.progress.update(
            self.runs_task,
            description=f"run {run_id} ({index + 1}/{total}) {label}",
            total=total,
            completed=index,
        )

    def conversation_started(
        self, conversation: Conversation, index: int, total: int, warmup: bool
    ) -> None:
        if self.turn_task is not None:
            self.progress.remove_task(self.turn_task)
        label = "  warmup" if warmup else f"  conversation {index + 1}/{total}"
        self.turn_task = self.progress.add_task(
            f"{label} [dim]{conversation.id}[/dim]", total=len(conversation.turns), status=""
        )

    def turn_done(self, trace: TurnTrace, metrics: TurnMetrics) -> None:
        if self.turn_task is None:
            return
        self.progress.update(self.turn_task, advance=1, status=turn_status(trace, metrics))

    def run_finished(self, result: RunResult) -> None:
        self.progress.update(self.runs_task, advance=1)


def build_experiment(config: Path | None, overrides: dict[str, Any]) -> Experiment:
    data: dict[str, Any] = load_experiment_file(config) if config else {}
    where = f"experiment file '{config}'" if config else "melt bench"
    for key, value in overrides.items():
        if value is None:
            continue
        if key == "engine":
            data[key] = {**(data.get(key) or {}), **value}
        elif key == "sampling":
            known = ", ".join(SamplingOverrides.model_fields)
            expected = f"a mapping like {{seed: 5}} (keys: {known})"
            given = require_mapping(data.get("sampling"), where, "sampling", expected)
            data["sampling"] = {**given, **value}
        else:
            data[key] = value
    return experiment_from(data, where, None if config else FLAGS)


@fw.FrameworkFlags  # --framework, its options and knobs (`framework_flags`): the registry's
def bench(
    model: str = typer.Option(None, help=MODEL_HELP),
    quant: str = typer.Option(
        None, help="Quantized variants to measure, e.g. q8_0,q4_0,q2_k (made and cached)."
    ),
    workload: str = typer.Option(
        None, help="Conversation file (MELT JSON or chat messages), or builtin:chat."
    ),
    threads: str = typer.Option(None, help="CPU threads, e.g. 1,2 (default: physical cores)."),
    max_new_tokens: str = typer.Option(None, help="Reply budget per turn in tokens, e.g. 64."),
    conversations: int = typer.Option(
        None, help="Run the first N conversations (default: 3 of the built-in set, or all)."
    ),
    repeats: int = typer.Option(None, help="Independent runs per cell (fresh model load each)."),
    warmup: int = typer.Option(
        None, help="Warmup turns per run (default 1): run and stored, not aggregated."
    ),
    seed: int = typer.Option(None, help="Sampling seed (default 0)."),
    temperature: float = typer.Option(None, help="Sampling temperature; 0 = greedy."),
    ctx: str = typer.Option(None, help="Context size in tokens, e.g. 2048."),
    batch: str = typer.Option(None, help="Prompt batch size in tokens (default 512)."),
    config: Path = typer.Option(None, help="Experiment YAML; flags override its keys."),
    store: str = typer.Option(None, help="Results store: a path or SQLAlchemy URL."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document, no table."),
    llama_cpp_dir: Path = LLAMA_CPP_DIR_OPTION,
    probe_rate: float = typer.Option(
        DEFAULT_RATE_HZ, help="Device sampling rate in Hz (CPU, frequency, memory, power, °C)."
    ),
    idle_baseline: str = typer.Option(
        None,
        help="Idle power measured before each run, e.g. 5s (default 3s with a power sensor, "
        "else 0).",
    ),
    cooldown: str = typer.Option(
        "off", help="Before each run: off, auto (wait until °C near the start), or a duration."
    ),
    sustained: str = typer.Option(
        None, help="One long conversation for this long, e.g. 10m: rate, power, °C over time."
    ),
    power_model: str = typer.Option(
        None, help="'estimated': CPU power from utilisation (needs --device-profile)."
    ),
    device_profile: Path = typer.Option(
        None, help="Device profile YAML: battery capacity, power model parameters."
    ),
    comfort_temp: float = typer.Option(
        DEFAULT_COMFORT_C, help="Comfort threshold in °C for 'time above' per zone."
    ),
    sysfs_root: Path = typer.Option(
        Path("/"), help="Filesystem root the probes read /sys and /proc under."
    ),
    monsoon_vout: float = typer.Option(
        None, help="Power the device from a Monsoon HVPM at this voltage and measure it."
    ),
    monsoon_serial: int = typer.Option(None, help="Which Monsoon (when several are on USB)."),
    monsoon_rate: float = typer.Option(
        MONSOON_RATE_HZ, help="Monsoon samples per second kept (divides its 5000 Hz)."
    ),
    monsoon_max_vout: float = typer.Option(
        DEFAULT_MAX_VOUT_V, help="Highest --monsoon-vout accepted (raise for multi-cell devices)."
    ),
    device: str = typer.Option(
        "local",
        help="Where the model runs: a name from 'melt devices list' (default local); several "
        "run in parallel: a,b,c, all, or tag:NAME (an inventory tag).",
    ),
    devices: Path = DEVICES_OPTION,
    accept_new_host_key: bool = ACCEPT_OPTION,
    allow_oversubscribe: bool = typer.Option(
        False, help="Allow more threads than the device has logical cores."
    ),
    usb_power_off_cmd: str = typer.Option(
        None,
        help="A phone: your command that cuts its USB power before each run (e.g. a YKUSH "
        "hub's), so its battery readings are the load's.",
    ),
    usb_power_on_cmd: str = typer.Option(
        None, help="A phone: your command that restores its USB power after each run."
    ),
    ray: str = typer.Option(
        None, "--ray", help="Run on a Ray cluster (its head's address): one task per run."
    ),
    reconcile: bool = typer.Option(
        False,
        help="After each run, llama.cpp's llama-bench (beside the run's llama-server) on the "
        "device at the run's settings and turn shape: melt vs llama-bench tok/s.",
    ),
    retries: int = typer.Option(
        0,
        help="Many devices (--device a,b or --ray): run a failed run again up to N times; "
        "a completed run never runs again.",
    ),
    **framework_flags: Any,
) -> None:
    """Replay chat conversations through a model and measure speed and memory."""
    check_rate(probe_rate)
    sampling = {k: v for k, v in (("seed", seed), ("temperature", temperature)) if v is not None}
    experiment = build_experiment(
        config,
        {
            "models": None if model is None else [model],
            "quants": _str_list(quant),
            "workload": workload,
            "threads": _int_list("--threads", threads),
            "ctx": _int_list("--ctx", ctx),
            "batch": _int_list("--batch", batch),
            "max_new_tokens": _int_list("--max-new-tokens", max_new_tokens),
            "conversations": conversations,
            "repeats": repeats,
            "warmup_turns": warmup,
            "sampling": sampling or None,
            "framework": framework_flags.get(fw.FRAMEWORK),
            "engine": fw.engine_values(framework_flags),
        },
    )
    probes = ProbeSettings(
        rate_hz=probe_rate,
        idle_baseline_s=None
        if idle_baseline is None
        else _duration("--idle-baseline", idle_baseline),
        cooldown=parse_cooldown(cooldown),
        power_model=power_model,
        profile=None if device_profile is None else load_device_profile(device_profile),
        comfort_c=comfort_temp,
        root=sysfs_root,
        over_time_buckets=SUSTAINED_BUCKETS if sustained else 0,
        monsoon=_monsoon(monsoon_vout, monsoon_serial, monsoon_rate, monsoon_max_vout),
    )
    request = BenchRequest(
        cells=tuple(expand(experiment, {**FLAGS, **fw.engine_flags()})),
        framework=experiment.framework,
        framework_options=fw.framework_options(framework_flags),
        workload=experiment.workload,
        conversations=experiment.conversations,
        repeats=experiment.repeats,
        warmup_turns=experiment.warmup_turns,
        store=store,
        name=experiment.name,
        command=shlex.join(["melt", *sys.argv[1:]]),
        config=experiment.model_dump(),
        probes=probes,
        sustained_s=None if sustained is None else _duration("--sustained", sustained),
        device=device,
        devices_file=devices,
        accept_new_host_key=accept_new_host_key,
        allow_oversubscribe=allow_oversubscribe,
        run_options=RunOptions(usb_power_off_cmd, usb_power_on_cmd),
        llama_cpp_dir=llama_cpp_dir,
        reconcile=reconcile,
    )
    dispatch(request, ray, retries, as_json)


def dispatch(request: BenchRequest, ray: str | None, retries: int, as_json: bool) -> None:
    """Run the request's runs in process, on a thread per device, or on Ray: every path
    executes the same `RunSpec`s (`execution/spec.py`), each carrying the whole request."""
    if ray is not None:
        bench_on_ray(request, ray, retries, as_json)
        return
    if is_fleet(request.device) or retries:  # retrying is the fleet's policy, on one device too
        bench_fleet(request, retries, as_json)
        return
    with run_progress() as progress:
        result = run_bench(request, ProgressObserver(progress))
    if as_json:
        print(json.dumps(bench_document(result), indent=2, default=str))
    else:
        stored = stored_summary(open_store(request.store, create=False), run_ids_of(result))
        stdout_console().print(bench_summary(result, stored))


def _monsoon(
    vout_v: float | None, serial: int | None, rate_hz: float, max_vout_v: float
) -> MonsoonSettings | None:
    """The Monsoon settings; none without --monsoon-vout (the voltage is never implied)."""
    if vout_v is None:
        if serial is not None:
            raise MeltError("--monsoon-serial needs --monsoon-vout VOLTS (the Monsoon's output)")
        return None
    return MonsoonSettings(vout_v=vout_v, serial=serial, rate_hz=rate_hz, max_vout_v=max_vout_v)
