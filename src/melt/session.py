"""One `melt bench`: resolve and validate everything, then run and store every repeat of
every cell (variant × setting), turn by turn.

This is where a framework, a device, a workload and the store meet (DESIGN.md: the
orchestration joins them; none of them imports another). Every bad input is found before
the first row is written; after that, every finished turn is committed as it completes, and
an interrupted or failed run keeps what it measured and says how it ended.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from melt.config import Cell, RunSettings
from melt.devices.base import Device, DeviceError, DeviceFacts
from melt.devices.inventory import ConnectOptions, find_entry, inventory_path, load_inventory
from melt.devices.inventory import open_device as open_inventory_device
from melt.devices.proc import PeakRss, peak_rss
from melt.errors import MeltError
from melt.execution.monitor import BenchMonitor
from melt.execution.monitor_settings import ProbeSettings
from melt.execution.monitor_signals import RunSignals
from melt.frameworks import Engine, Framework, FrameworkOptions, get_framework
from melt.frameworks.base import PromptCounter
from melt.interrupts import Terminated, describe, raise_if_pending
from melt.metrics.consistency import DecodeConsistency, decode_consistency
from melt.metrics.run import MeasuredTurn, TurnAggregates, aggregate_turns
from melt.metrics.stats import Aggregate, aggregate
from melt.metrics.turn import TurnMetrics, turn_metrics
from melt.models import Artifact
from melt.runners.base import DeviceRunGuard, Runner, RunOptions
from melt.runners.select import make_runner
from melt.store import Store, open_store
from melt.traces import LoadTrace, TurnTrace
from melt.workloads import BUILTIN_WORKLOAD, Conversation, Workload, load_workload
from melt.workloads.sustained import sustained_conversation

log = logging.getLogger(__name__)

DEFAULT_BUILTIN_CONVERSATIONS = 3
STATUS_COMPLETED = "completed"
STATUS_INTERRUPTED = "interrupted"
STATUS_FAILED = "failed"
STATUS_TERMINATED = "terminated"


@dataclass(frozen=True, slots=True)
class RunSlot:
    """One cell × repeat of a bench: `cell` indexes `BenchRequest.cells`, `repeat` is the
    run's repeat_index from the moment its row exists, and `key` (a fleet's name for it,
    `execution/retry.py`) is kept in the run's settings as `run_key`."""

    cell: int
    repeat: int
    key: str | None = None


@dataclass(frozen=True, slots=True)
class BenchRequest:
    """What the user asked for, before anything is checked."""

    cells: tuple[Cell, ...]
    framework: str = "llama.cpp"
    framework_options: FrameworkOptions = field(default_factory=FrameworkOptions)
    workload: str = BUILTIN_WORKLOAD
    conversations: int | None = None
    repeats: int = 1
    warmup_turns: int = 1
    store: str | None = None
    name: str = "bench"
    command: str = "melt bench"
    config: dict[str, Any] = field(default_factory=dict)
    probes: ProbeSettings = field(default_factory=ProbeSettings)
    sustained_s: float | None = None
    device: str = "local"
    devices_file: Path | None = None
    accept_new_host_key: bool = False
    allow_oversubscribe: bool = False
    run_options: RunOptions = field(default_factory=RunOptions)
    experiment_id: int | None = None
    """Store the runs under this experiment row (one planned by a fleet), not a new one."""
    run_settings: dict[str, Any] = field(default_factory=dict)
    """Kept in each run's settings JSON (where a fleet placed the run)."""
    runs: tuple[RunSlot, ...] | None = None
    """Only these runs, in this order (a fleet's share or retry); None: every repeat of
    every cell."""


class BenchObserver(Protocol):
    """Progress events for a user interface; the session never prints."""

    def preparing(self, message: str) -> None:
        """Work before the first run (making a quantized variant), as one status line."""
        ...

    def run_started(self, run_id: int, index: int, total: int, label: str) -> None: ...

    def conversation_started(
        self, conversation: Conversation, index: int, total: int, warmup: bool
    ) -> None: ...

    def turn_done(self, trace: TurnTrace, metrics: TurnMetrics) -> None: ...

    def run_finished(self, result: RunResult) -> None: ...


@dataclass(frozen=True, slots=True)
class RunResult:
    run_id: int
    repeat_index: int
    status: str
    aggregates: TurnAggregates
    consistency: DecodeConsistency | None
    load_time_s: float | None
    model_bytes: int | None
    model_params: int | None
    model_rss_bytes: int | None
    peak_rss_bytes: int | None
    peak_rss_source: str
    signals: RunSignals | None = None
    device_notes: tuple[str, ...] = ()  # e.g. USB powered the phone: its battery energy is off
    key: str | None = None  # the fleet's name for the run (RunSlot.key)


@dataclass(slots=True)
class CellResult:
    """All runs of one variant × setting, and their pooled aggregates."""

    cell: Cell
    artifact: Artifact
    runs: list[RunResult] = field(default_factory=list)
    aggregates: TurnAggregates | None = None
    run_decode_tok_per_s: Aggregate | None = None

    @property
    def bits_per_weight(self) -> float | None:
        run = next((r for r in self.runs if r.model_params and r.model_bytes), None)
        return None if run is None else 8 * run.model_bytes / run.model_params


@dataclass(slots=True)
class BenchResult:
    experiment_id: int
    store: str
    framework: str
    framework_version: str
    device: dict[str, Any]
    workload: Workload
    warmup_turns: int
    repeats: int
    sustained_s: float | None = None
    cells: list[CellResult] = field(default_factory=list)


def _check_request(request: BenchRequest) -> None:
    if request.repeats < 1:
        raise MeltError(f"--repeats must be at least 1 (got {request.repeats})")
    if request.warmup_turns < 0:
        raise MeltError(f"--warmup must be 0 or more turns (got {request.warmup_turns})")
    if request.conversations is not None and request.conversations < 1:
        raise MeltError(f"--conversations must be at least 1 (got {request.conversations})")
    if not request.cells:
        raise MeltError("the experiment has nothing to run (no models)")
    if request.sustained_s is not None and request.sustained_s <= 0:
        raise MeltError(f"--sustained must be a positive duration (got {request.sustained_s} s)")


def _check_fits(
    count: Callable[[Sequence[str]], int | None], workload: Workload, settings: RunSettings
) -> None:
    """Every single turn must fit the context with its reply budget (history may be cut)."""
    for conv in workload.conversations:
        for turn_index, text in enumerate(conv.turns):
            prompt = count([text])
            if prompt is None:
                log.warning(
                    "the framework cannot count prompt tokens (a server without a tokenizer "
                    "endpoint); not checking that every turn fits --ctx %d",
                    settings.ctx,
                )
                return
            needed = prompt + settings.max_new_tokens
            if needed > settings.ctx:
                raise MeltError(
                    f"--ctx {settings.ctx} is smaller than turn {turn_index} of conversation "
                    f"'{conv.id}' ({needed - settings.max_new_tokens} prompt tokens + "
                    f"{settings.max_new_tokens} new tokens); raise --ctx to at least {needed}"
                )


@dataclass(slots=True)
class SharedPlan:
    """What every device of one bench shares: checked once, before any device opens."""

    framework: Framework
    workload: Workload
    store: Store
    artifacts: list[Artifact]


@dataclass(slots=True)
class _Plan:
    framework: Framework
    workload: Workload
    store: Store
    artifacts: list[Artifact]
    device: Device


def _select_workload(request: BenchRequest) -> Workload:
    workload = load_workload(request.workload)
    wanted = request.conversations
    if wanted is None and request.workload == BUILTIN_WORKLOAD:
        wanted = DEFAULT_BUILTIN_CONVERSATIONS
    if wanted is not None and wanted > len(workload.conversations):
        log.warning(
            "workload has %d conversations; running all of them, not %d",
            len(workload.conversations),
            wanted,
        )
    return workload.take(wanted)


def plan_bench(request: BenchRequest, observer: BenchObserver) -> SharedPlan:
    """Resolve and check everything but the device; nothing is written to the store here."""
    _check_request(request)
    framework = get_framework(request.framework, request.framework_options)
    artifacts = [framework.variant(c.model, c.quant, observer.preparing) for c in request.cells]
    workload = _select_workload(request)
    store = open_store(request.store, write=True)
    counters: dict[str, PromptCounter | None] = {}
    checked: set[tuple[str, int, int]] = set()
    for cell, artifact in zip(request.cells, artifacts, strict=True):
        key = (artifact.sha256, cell.settings.ctx, cell.settings.max_new_tokens)
        if key in checked:
            continue
        checked.add(key)
        if artifact.sha256 not in counters:
            counters[artifact.sha256] = framework.prompt_counter(artifact)
        counter = counters[artifact.sha256]
        if counter is None:  # no weight-free tokenizer: count with the loaded engine
            engine = framework.load(artifact, cell.settings)
            try:
                _check_fits(engine.chat_prompt_tokens, workload, cell.settings)
            finally:
                engine.close()
            continue
        _check_fits(counter, workload, cell.settings)
    return SharedPlan(framework, workload, store, artifacts)


def _plan(request: BenchRequest, observer: BenchObserver, shared: SharedPlan | None) -> _Plan:
    shared = shared or plan_bench(request, observer)
    device = open_device(request)
    return _Plan(shared.framework, shared.workload, shared.store, shared.artifacts, device)


def open_device(request: BenchRequest) -> Device:
    """The device named by --device, from the inventory (`local` always exists)."""
    inventory = load_inventory(inventory_path(request.devices_file))
    entry = find_entry(inventory, request.device)
    root = None if request.probes.root == Path("/") else request.probes.root
    if root is not None and entry.transport != "local":
        raise MeltError("--sysfs-root works with a local device only (it replaces its /sys)")
    if root is not None and not root.is_dir():
        raise MeltError(f"--sysfs-root: '{root}' is not a directory")
    return open_inventory_device(
        entry, ConnectOptions(accept_new_host_key=request.accept_new_host_key, root=root)
    )


def _check_threads(request: BenchRequest, facts: DeviceFacts) -> None:
    """More threads than the device has logical cores make no progress (llama.cpp spins
    them); more than physical cores is allowed but said."""
    logical, physical = facts.logical_cores, facts.physical_cores
    for cell in request.cells:
        threads = cell.settings.threads
        if logical and threads > logical and not request.allow_oversubscribe:
            raise MeltError(
                f"--threads {threads}: device '{facts.name}' has {logical} logical cores; "
                "use at most that many, or pass --allow-oversubscribe"
            )
        if physical and threads > physical:
            log.warning(
                "--threads %d exceeds the %d physical cores of device '%s'; decode usually "
                "slows down when threads share cores",
                threads,
                physical,
                facts.name,
            )


def _turn_columns(trace: TurnTrace, metrics: TurnMetrics, conversation_id: str) -> dict[str, Any]:
    engine = trace.engine
    return {
        "conversation_index": trace.conversation_index,
        "conversation_id": conversation_id,
        "turn_index": trace.turn_index,
        "warmup": trace.warmup,
        "wall_anchor_ns": trace.wall_anchor_ns,
        "submit_ns": trace.submit_ns,
        "prefill_start_ns": trace.prefill_start_ns,
        "prefill_done_ns": trace.prefill_done_ns,
        "first_token_ns": trace.token_ns[0] if trace.token_ns else None,
        "last_token_ns": trace.token_ns[-1] if trace.token_ns else None,
        "end_ns": trace.end_ns,
        "prompt_tokens": trace.prompt_tokens,
        "prompt_tokens_evaluated": trace.prompt_tokens_evaluated,
        "prompt_tokens_reused": trace.prompt_tokens_reused,
        "generated_tokens": trace.generated_tokens,
        "stop_reason": trace.stop_reason,
        "history_turns_dropped": trace.history_turns_dropped,
        "cpu_time_s": metrics.cpu_time_s,
        "rss_bytes": trace.rss_bytes,
        "engine_timers": dict(engine.raw) if engine else None,
        "ttft_s": metrics.ttft_s,
        "prefill_s": metrics.prefill_s,
        "prefill_tok_per_s": metrics.prefill_tok_per_s,
        "decode_s": metrics.decode_s,
        "decode_tok_per_s": metrics.decode_tok_per_s,
        "e2e_s": metrics.e2e_s,
        "output_text": trace.output_text,
    }


class _RunRecorder:
    """Stores each turn as it completes and remembers what aggregation needs."""

    def __init__(self, store: Store, run_id: int, observer: BenchObserver) -> None:
        self.store = store
        self.run_id = run_id
        self.observer = observer
        self.measured: list[MeasuredTurn] = []
        self.traces: list[TurnTrace] = []

    def play(
        self,
        engine: Engine,
        conversations: Sequence[Conversation],
        warmup: bool,
        deadline_ns: int | None = None,
    ) -> None:
        """Replay the conversations; with a deadline, stop after the turn that passes it."""
        for index, conv in enumerate(conversations):
            self.observer.conversation_started(conv, index, len(conversations), warmup)
            for trace in engine.converse(conv, index, warmup=warmup):
                metrics = turn_metrics(trace)
                self.store.add_turn(
                    self.run_id, trace.token_ns, **_turn_columns(trace, metrics, conv.id)
                )
                if not warmup:
                    self.traces.append(trace)
                self.measured.append(
                    MeasuredTurn(
                        metrics=metrics,
                        prompt_tokens_evaluated=trace.prompt_tokens_evaluated,
                        prompt_tokens_reused=trace.prompt_tokens_reused,
                        generated_tokens=trace.generated_tokens,
                        warmup=warmup,
                    )
                )
                self.observer.turn_done(trace, metrics)
                raise_if_pending()
                if deadline_ns is not None and trace.end_ns >= deadline_ns:
                    return


@dataclass(frozen=True, slots=True)
class _RunContext:
    """What every run of one command shares."""

    store: Store
    runner: Runner
    framework: Framework
    framework_version: str
    system_info: str
    experiment_id: int
    environment_id: int
    device: dict[str, Any]
    workload: Workload
    warmup_turns: int
    observer: BenchObserver
    monitor: BenchMonitor
    sustained_s: float | None
    run_settings: dict[str, Any] = field(default_factory=dict)


def device_environment(facts: DeviceFacts) -> dict[str, Any]:
    """The environment row's facts: the device's own, plus what `melt devices probe`
    measured on it before (memory bandwidth)."""
    from melt.devices.probe_store import stored_probes

    return {**facts.as_dict(), **stored_probes(facts.name)}


def run_bench(
    request: BenchRequest, observer: BenchObserver, shared: SharedPlan | None = None
) -> BenchResult:
    """Plan (unless a fleet planned already: `shared`), then execute every repeat of every
    cell on `request.device`; raises `MeltError` for bad input before anything is written."""
    plan = _plan(request, observer, shared)
    runner: Runner | None = None
    try:
        observer.preparing(f"connecting to device '{plan.device.name}'")
        facts = plan.device.facts()
        _check_threads(request, facts)
        runner = make_runner(
            plan.device, plan.framework.name, facts, request.framework_options, request.run_options
        )
        monitor = BenchMonitor.detect(request.probes, runner)
        return _execute(request, observer, plan, runner, monitor, facts)
    finally:
        if runner is not None:
            runner.close()
        plan.device.close()


def _execute(
    request: BenchRequest,
    observer: BenchObserver,
    plan: _Plan,
    runner: Runner,
    monitor: BenchMonitor,
    device_facts: DeviceFacts,
) -> BenchResult:
    facts = device_environment(device_facts)
    warmup_turns = plan.workload.warmup_turns(request.warmup_turns)
    framework_version, system_info = runner.framework_info(plan.framework.name)
    experiment_id = request.experiment_id or plan.store.create_experiment(
        name=request.name, command=request.command, config=request.config
    )
    environment_id = plan.store.environment_id(
        {**facts, "framework_version": framework_version, "framework_system_info": system_info}
    )
    ctx = _RunContext(
        store=plan.store,
        runner=runner,
        framework=plan.framework,
        framework_version=framework_version,
        system_info=system_info,
        experiment_id=experiment_id,
        environment_id=environment_id,
        device=facts,
        workload=plan.workload,
        warmup_turns=warmup_turns,
        observer=observer,
        monitor=monitor,
        sustained_s=request.sustained_s,
        run_settings=request.run_settings,
    )
    result = BenchResult(
        experiment_id=experiment_id,
        store=plan.store.spec,
        framework=plan.framework.name,
        framework_version=framework_version,
        device=facts,
        workload=plan.workload,
        warmup_turns=warmup_turns,
        repeats=request.repeats,
        sustained_s=request.sustained_s,
    )
    slots = request.runs if request.runs is not None else every_slot(request)
    for c, (cell, artifact) in enumerate(zip(request.cells, plan.artifacts, strict=True)):
        mine = [(index, slot) for index, slot in enumerate(slots) if slot.cell == c]
        if not mine:
            continue
        cell_result = CellResult(cell, artifact)
        result.cells.append(cell_result)
        measured: list[MeasuredTurn] = []
        for index, slot in mine:
            label = f"{artifact.name} {artifact.quant} t{cell.settings.threads}"
            run = _execute_run(ctx, cell, artifact, slot, (index, len(slots), label), measured)
            cell_result.runs.append(run)
        completed = [r for r in cell_result.runs if r.status == STATUS_COMPLETED]
        cell_result.aggregates = aggregate_turns(measured)
        cell_result.run_decode_tok_per_s = aggregate(
            [r.aggregates.decode_tok_per_s.median for r in completed]
        )
    return result


def every_slot(request: BenchRequest) -> tuple[RunSlot, ...]:
    """Every repeat of every cell, cell by cell: the runs of a plain bench."""
    return tuple(
        RunSlot(c, repeat) for c in range(len(request.cells)) for repeat in range(request.repeats)
    )


def _run_columns(
    ctx: _RunContext,
    cell: Cell,
    artifact: Artifact,
    slot: RunSlot,
    load: LoadTrace,
    device_run: dict[str, Any],
) -> dict[str, Any]:
    s = cell.settings
    return {
        "experiment_id": ctx.experiment_id,
        "environment_id": ctx.environment_id,
        "repeat_index": slot.repeat,
        "device": ctx.device["device"],
        "framework": ctx.framework.name,
        "framework_version": ctx.framework_version,
        "framework_system_info": ctx.system_info,
        "model_name": artifact.name,
        "model_path": str(artifact.path),
        "model_sha256": artifact.sha256,
        "model_quant": artifact.quant,
        "model_size_bytes": artifact.size_bytes,
        "model_source": artifact.origin.source,
        "workload_name": ctx.workload.name,
        "workload_sha256": ctx.workload.sha256,
        "workload_conversations": len(ctx.workload.conversations),
        "threads": s.threads,
        "ctx": s.ctx,
        "batch": s.batch,
        "max_new_tokens": s.max_new_tokens,
        "seed": s.sampling.seed,
        "warmup_turns": ctx.warmup_turns,
        "settings": {
            **s.model_dump(),
            "engine_context_tokens": load.context_tokens,
            "model_params": load.model_params,  # with model_bytes, the bits per weight
            "workload_turns": ctx.workload.n_turns,
            "engine_settings": load.engine_settings,
            "model_origin": asdict(artifact.origin),
            "device_run": device_run,
            **ctx.run_settings,
            **({} if slot.key is None else {"run_key": slot.key}),
        },
        "load_time_s": load.load_time_s,
        "model_bytes": load.model_bytes,
        "model_rss_bytes": load.model_rss_bytes,
    }


def _reset_peak(device: Device, pid: int) -> bool:
    """Open a new VmHWM window for the engine's process (writing 5 to clear_refs)."""
    try:
        device.write_text(f"/proc/{pid}/clear_refs", "5")
    except (OSError, DeviceError):
        return False
    return True


def _release_guard(
    store: Store, run_id: int, guard: DeviceRunGuard | None, settings: dict[str, Any]
) -> tuple[str, ...]:
    """Restore the device settings held for the run and store what happened to them."""
    if guard is None:
        return ()
    guard.__exit__(None, None, None)
    settings["device_run"]["settings_guard"] = guard.record()
    store.update_run(run_id, settings=settings)
    return () if guard.usb_power_note is None else (guard.usb_power_note,)


def _read_peak(device: Device, pid: int | None, since_reset: bool) -> PeakRss:
    if pid is None:
        return PeakRss(None, "unavailable: the server is not a process melt started")
    try:
        peak = peak_rss(device, pid, since_reset)
    except DeviceError as exc:
        return PeakRss(None, f"unavailable: {exc}")
    if peak is None:
        return PeakRss(None, f"unavailable: /proc/{pid}/status could not be read")
    return peak


def _execute_run(
    ctx: _RunContext,
    cell: Cell,
    artifact: Artifact,
    slot: RunSlot,
    position: tuple[int, int, str],
    cell_measured: list[MeasuredTurn],
) -> RunResult:
    raise_if_pending()  # a signal between runs (another device's thread got it): no new run
    store, observer, runner = ctx.store, ctx.observer, ctx.runner
    device = runner.device
    offset = device.clock_offset()
    pid = runner.engine_pid()
    peak_window = pid is not None and _reset_peak(device, pid)
    guard = runner.run_settings()
    if guard is not None:
        guard.__enter__()
    try:
        engine = runner.load(ctx.framework.name, artifact, cell.settings)
    except BaseException:
        if guard is not None:
            guard.__exit__(None, None, None)
        raise
    load = engine.load
    server_pid = getattr(engine, "pid", None)  # the engine is a server process of its own
    if server_pid is not None:
        pid, peak_window = server_pid, False  # started for this run: its whole-life peak
    status, error = STATUS_FAILED, None
    device_run = {
        "device": device.name,
        "transport": device.transport,
        "engine_pid": pid,
        "clock_offset": offset.as_dict(),
        "deploy": runner.deploy_summary(),
    }
    if guard is not None:
        device_run["settings_guard"] = guard.record()
    columns = _run_columns(ctx, cell, artifact, slot, load, device_run)
    run_id = store.create_run(**columns)
    recorder = _RunRecorder(store, run_id, observer)
    signals_monitor = ctx.monitor.run_monitor(store, run_id)
    signals: RunSignals | None = None
    observer.run_started(run_id, *position)
    try:
        signals_monitor.start()
        recorder.play(engine, ctx.workload.warmup(ctx.warmup_turns), warmup=True)
        if ctx.sustained_s is None:
            recorder.play(engine, ctx.workload.conversations, warmup=False)
        else:
            deadline = device.now_ns() + int(ctx.sustained_s * 1e9)
            long_one = (sustained_conversation(ctx.workload),)
            recorder.play(engine, long_one, warmup=False, deadline_ns=deadline)
        raise_if_pending()
        status = STATUS_COMPLETED
    except KeyboardInterrupt:
        status, error = STATUS_INTERRUPTED, "interrupted by the user (Ctrl-C)"
        raise
    except Terminated as exc:
        status, error = STATUS_TERMINATED, describe(exc.signum)
        raise
    except Exception as exc:
        error = str(exc) if isinstance(exc, MeltError) else f"{type(exc).__name__}: {exc}"
        raise
    finally:
        # Every step of the cleanup is attempted and none can stop the run from getting
        # its final status: a failure here is logged and joins the run's error.
        if status != STATUS_COMPLETED:
            _attempt(runner.interrupt, "stopping the engine")
        if signals_monitor.started:
            signals = _attempt(lambda: signals_monitor.finish(recorder.traces), "the sampler")
        peak = _attempt(  # before a server stops
            lambda: _read_peak(device, pid, since_reset=peak_window), "peak RSS"
        ) or PeakRss(None, "unavailable: reading it failed")
        _attempt(engine.close, "closing the engine")
        notes = _attempt(
            lambda: _release_guard(store, run_id, guard, columns["settings"]), "device settings"
        )
        run = _finish_run(store, run_id, slot.repeat, status, error, load, recorder, peak, signals)
        run = replace(run, device_notes=notes or (), key=slot.key)
        cell_measured.extend(recorder.measured)
        observer.run_finished(run)
    return run


def _attempt(step: Callable[[], Any], what: str) -> Any:
    """One cleanup step of a run that is ending; its failure is logged, not raised."""
    try:
        return step()
    except Exception as exc:
        log.warning("while ending the run, %s failed: %s", what, exc)
        return None


def _finish_run(
    store: Store,
    run_id: int,
    repeat: int,
    status: str,
    error: str | None,
    load: LoadTrace,
    recorder: _RunRecorder,
    peak: PeakRss,
    signals: RunSignals | None,
) -> RunResult:
    aggregates, consistency = end_run(
        store, run_id, status, error, recorder.measured, recorder.traces, peak, signals
    )
    return RunResult(
        run_id=run_id,
        repeat_index=repeat,
        status=status,
        aggregates=aggregates,
        consistency=consistency,
        load_time_s=load.load_time_s,
        model_bytes=load.model_bytes,
        model_params=load.model_params,
        model_rss_bytes=load.model_rss_bytes,
        peak_rss_bytes=peak.bytes,
        peak_rss_source=peak.source,
        signals=signals,
    )


def end_run(
    store: Store,
    run_id: int,
    status: str,
    error: str | None,
    measured: Sequence[MeasuredTurn],
    traces: Sequence[TurnTrace],
    peak: PeakRss,
    signals: RunSignals | None,
) -> tuple[TurnAggregates, DecodeConsistency | None]:
    """Give a run its final status, error and summary (the aggregates of what it measured):
    the one place a run ends, whether its own process ends it or a fleet's driver ends the
    run of a worker that died (from the turns that worker stored)."""
    aggregates = aggregate_turns(measured)
    consistency = decode_consistency(traces)
    if consistency is not None and consistency.suspicious:
        log.warning(
            "run %d: decode rate from token timestamps (%.1f tok/s) differs from "
            "llama.cpp's own counters (%.1f tok/s) by %+.1f%%",
            run_id,
            consistency.timestamps_tok_per_s,
            consistency.engine_tok_per_s,
            100 * consistency.relative_diff,
        )
    summary = {
        "aggregates": aggregates.as_dict(),
        "decode_consistency": None if consistency is None else consistency.as_dict(),
        "peak_rss_source": peak.source,
        "signals": None if signals is None else signals.as_dict(),
    }
    store.finish_run(
        run_id,
        status,
        error,
        peak_rss_bytes=peak.bytes,
        decode_consistency_rel_diff=None if consistency is None else consistency.relative_diff,
        summary=summary,
    )
    return aggregates, consistency
