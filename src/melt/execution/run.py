"""Execute one `RunSpec` on a device whose runner is open: load the engine, replay the
workload turn by turn, store each turn as it completes, and end the run with a final status
whatever happens (completed, failed, interrupted, terminated), keeping what it measured.

How a run ends is one block (`_end`) run with signals held (`interrupts.deferred`): a second
Ctrl-C while the first one's cleanup runs would otherwise cut the cleanup short and leave the
run `running` with no summary. The held signal is raised once the run has its final status.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from melt.devices.base import Device, DeviceError
from melt.devices.proc import PeakRss, peak_rss
from melt.errors import MeltError
from melt.execution.monitor import BenchMonitor
from melt.execution.monitor_signals import RunSignals
from melt.execution.request import BenchObserver
from melt.execution.rows import measured, trace_row
from melt.execution.spec import RunSpec
from melt.frameworks import Engine, Framework
from melt.interrupts import Terminated, deferred, describe, raise_if_pending
from melt.metrics.consistency import DecodeConsistency, decode_consistency
from melt.metrics.run import MeasuredTurn, TurnAggregates, aggregate_turns
from melt.metrics.turn import turn_metrics
from melt.models import Artifact
from melt.models.kv_shape import kv_shape_of
from melt.results import (
    STATUS_COMPLETED,
    STATUS_FAILED,
    STATUS_INTERRUPTED,
    STATUS_TERMINATED,
    RunResult,
)
from melt.runners.base import DeviceRunGuard, Runner
from melt.store import Store
from melt.traces import LoadTrace, TurnTrace
from melt.workloads import Conversation, Workload
from melt.workloads.sustained import sustained_conversation

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunContext:
    """What every run on one device shares (the device's runner, the store, the plan)."""

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


class RunRecorder:
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
                    self.run_id, trace.token_ns, **trace_row(trace, metrics, conv.id)
                )
                if not warmup:
                    self.traces.append(trace)
                self.measured.append(measured(trace, metrics))
                self.observer.turn_done(trace, metrics)
                raise_if_pending()
                if deadline_ns is not None and trace.end_ns >= deadline_ns:
                    return


def run_row(
    ctx: RunContext, spec: RunSpec, artifact: Artifact, load: LoadTrace, device_run: dict[str, Any]
) -> dict[str, Any]:
    """The run's row as it is created: what ran (from the engine's load report), where, and
    everything the run was asked (`RunSpec.options_record`)."""
    s = spec.cell.settings
    return {
        "experiment_id": ctx.experiment_id,
        "environment_id": ctx.environment_id,
        "repeat_index": spec.repeat,
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
        "runtime": device_run.get("deploy", {}).get("runtime"),  # melt.runtimes: what ran
        "settings": {
            **s.model_dump(),
            "engine_context_tokens": load.context_tokens,
            "model_params": load.model_params,  # with model_bytes, the bits per weight
            "kv_shape": kv_shape_of(artifact.path),  # with model_bytes, the roofline's bytes
            "workload_turns": ctx.workload.n_turns,
            "engine_settings": load.engine_settings,
            "model_origin": asdict(artifact.origin),
            "device_run": device_run,
            "options": spec.options_record(),
            **ctx.run_settings,
            **({} if spec.key is None else {"run_key": spec.key}),
        },
        "compute": None if load.compute is None else load.compute.record(),
        "load_time_s": load.load_time_s,
        "model_bytes": load.model_bytes,
        "model_rss_bytes": load.model_rss_bytes,
    }


def execute_run(
    ctx: RunContext,
    spec: RunSpec,
    artifact: Artifact,
    position: tuple[int, int, str],
    cell_measured: list[MeasuredTurn],
) -> RunResult:
    """Run `spec`; its final status is stored however it ends, then an interrupt or error
    that ended it is raised again."""
    raise_if_pending()  # a signal between runs (another device's thread got it): no new run
    runner = ctx.runner
    device = runner.device
    offset = device.clock_offset()
    pid = runner.engine_pid()
    peak_window = pid is not None and _reset_peak(device, pid)
    guard = runner.run_settings()
    if guard is not None:
        guard.__enter__()
    try:
        engine = runner.load(ctx.framework.name, artifact, spec.cell.settings)
    except BaseException:
        if guard is not None:
            with deferred():
                guard.__exit__(None, None, None)
        raise
    server_pid = getattr(engine, "pid", None)  # the engine is a server process of its own
    if server_pid is not None:
        pid, peak_window = server_pid, False  # started for this run: its whole-life peak
    device_run = {
        "device": device.name,
        "transport": device.transport,
        "engine_pid": pid,
        "clock_offset": offset.as_dict(),
        "deploy": runner.deploy_summary(),
    }
    if guard is not None:
        device_run["settings_guard"] = guard.record()
    columns = run_row(ctx, spec, artifact, engine.load, device_run)
    try:
        run_id = ctx.store.create_run(**columns)
    except BaseException:
        with deferred():
            _attempt(engine.close, "closing the engine")
            if guard is not None:
                _attempt(lambda: guard.__exit__(None, None, None), "device settings")
        raise
    ending = _Ending(ctx, spec, run_id, engine, guard, pid, peak_window, columns)
    recorder = RunRecorder(ctx.store, run_id, ctx.observer)
    ctx.observer.run_started(run_id, *position)
    status, error = STATUS_FAILED, None
    try:
        ending.monitor.start()
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
    except BaseException as exc:
        error = str(exc) if isinstance(exc, MeltError) else f"{type(exc).__name__}: {exc}"
        raise
    finally:
        with deferred():  # a second signal waits until the run has its final status
            run = ending.end(status, error, recorder)
            cell_measured.extend(recorder.measured)
            ctx.observer.run_finished(run)
    return run


@dataclass(slots=True)
class _Ending:
    """Everything needed to end a started run, whatever ended it."""

    ctx: RunContext
    spec: RunSpec
    run_id: int
    engine: Engine
    guard: DeviceRunGuard | None
    pid: int | None
    peak_window: bool
    columns: dict[str, Any]
    monitor: Any = None

    def __post_init__(self) -> None:
        self.monitor = self.ctx.monitor.run_monitor(self.ctx.store, self.run_id)

    def end(self, status: str, error: str | None, recorder: RunRecorder) -> RunResult:
        """Every step is attempted and none can stop the run from getting its final
        status: a failure here is logged and the run still ends."""
        ctx, device = self.ctx, self.ctx.runner.device
        if status != STATUS_COMPLETED:
            _attempt(ctx.runner.interrupt, "stopping the engine")
        signals: RunSignals | None = None
        if self.monitor.started:
            signals = _attempt(lambda: self.monitor.finish(recorder.traces), "the sampler")
        peak = _attempt(  # before a server stops
            lambda: _read_peak(device, self.pid, since_reset=self.peak_window), "peak RSS"
        ) or PeakRss(None, "unavailable: reading it failed")
        _attempt(self.engine.close, "closing the engine")
        notes = _attempt(
            lambda: _release_guard(ctx.store, self.run_id, self.guard, self.columns["settings"]),
            "device settings",
        )
        aggregates, consistency = end_run(
            ctx.store, self.run_id, status, error, recorder.measured, recorder.traces, peak, signals
        )
        load = self.engine.load
        return RunResult(
            run_id=self.run_id,
            repeat_index=self.spec.repeat,
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
            device_notes=notes or (),
            key=self.spec.key,
        )


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


def _attempt(step: Callable[[], Any], what: str) -> Any:
    """One cleanup step of a run that is ending; its failure is logged, not raised."""
    try:
        return step()
    except Exception as exc:
        log.warning("while ending the run, %s failed: %s", what, exc)
        return None


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
