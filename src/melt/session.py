"""One `melt bench`: resolve and validate everything, then run and store every repeat of
every cell (variant × setting), turn by turn.

This is where a framework, a device, a workload and the store meet (DESIGN.md: the
orchestration joins them; none of them imports another). Every bad input is found before
the first row is written; after that, every finished turn is committed as it completes, and
an interrupted or failed run keeps what it measured and says how it ended.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from melt.config import Cell, RunSettings
from melt.devices import LocalDevice
from melt.devices.local import PeakRss
from melt.errors import MeltError
from melt.frameworks import Engine, Framework, get_framework
from melt.metrics.consistency import DecodeConsistency, decode_consistency
from melt.metrics.run import MeasuredTurn, TurnAggregates, aggregate_turns
from melt.metrics.stats import Aggregate, aggregate
from melt.metrics.turn import TurnMetrics, turn_metrics
from melt.models import Artifact, resolve_model
from melt.monitor import BenchMonitor, ProbeSettings, RunSignals
from melt.store import Store, open_store
from melt.traces import LoadTrace, TurnTrace
from melt.workloads import BUILTIN_WORKLOAD, Conversation, Workload, load_workload
from melt.workloads.sustained import sustained_conversation

log = logging.getLogger(__name__)

DEFAULT_BUILTIN_CONVERSATIONS = 3
STATUS_COMPLETED = "completed"
STATUS_INTERRUPTED = "interrupted"
STATUS_FAILED = "failed"


@dataclass(frozen=True, slots=True)
class BenchRequest:
    """What the user asked for, before anything is checked."""

    cells: tuple[Cell, ...]
    framework: str = "llama.cpp"
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
    load_time_s: float
    model_bytes: int
    model_params: int
    model_rss_bytes: int
    peak_rss_bytes: int
    peak_rss_source: str
    signals: RunSignals | None = None


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
        run = next((r for r in self.runs if r.model_params), None)
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


def resolve_variant(
    model: str, quant: str | None, on_step: Callable[[str], None] | None = None
) -> Artifact:
    """The artifact for a model name/path and an optional quantization of it (made and
    cached on first use)."""
    artifact = resolve_model(model)
    if quant is None:
        return artifact
    from melt.models.quantize import make_variant

    return make_variant(artifact, quant, on_step=on_step).artifact


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


def _check_fits(engine: Engine, workload: Workload, settings: RunSettings) -> None:
    """Every single turn must fit the context with its reply budget (history may be cut)."""
    for conv in workload.conversations:
        for turn_index, text in enumerate(conv.turns):
            needed = engine.chat_prompt_tokens([text]) + settings.max_new_tokens
            if needed > settings.ctx:
                raise MeltError(
                    f"--ctx {settings.ctx} is smaller than turn {turn_index} of conversation "
                    f"'{conv.id}' ({needed - settings.max_new_tokens} prompt tokens + "
                    f"{settings.max_new_tokens} new tokens); raise --ctx to at least {needed}"
                )


@dataclass(slots=True)
class _Plan:
    framework: Framework
    workload: Workload
    store: Store
    artifacts: list[Artifact]


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


def _plan(request: BenchRequest, observer: BenchObserver) -> _Plan:
    """Resolve and check everything; nothing is written to the store here."""
    _check_request(request)
    framework = get_framework(request.framework)
    artifacts = [resolve_variant(c.model, c.quant, observer.preparing) for c in request.cells]
    workload = _select_workload(request)
    store = open_store(request.store)
    checked: set[tuple[str, int, int]] = set()
    for cell, artifact in zip(request.cells, artifacts, strict=True):
        key = (artifact.sha256, cell.settings.ctx, cell.settings.max_new_tokens)
        if key in checked:
            continue
        checked.add(key)
        engine = framework.load(artifact, cell.settings)
        try:
            _check_fits(engine, workload, cell.settings)
        finally:
            engine.close()
    return _Plan(framework, workload, store, artifacts)


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
                if deadline_ns is not None and trace.end_ns >= deadline_ns:
                    return


@dataclass(frozen=True, slots=True)
class _RunContext:
    """What every run of one command shares."""

    store: Store
    host: LocalDevice
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


def run_bench(request: BenchRequest, observer: BenchObserver) -> BenchResult:
    """Plan, then execute every repeat of every cell; raises `MeltError` for bad input
    before anything is written."""
    plan = _plan(request, observer)
    monitor = BenchMonitor.detect(request.probes)
    device = LocalDevice()
    facts = device.facts()
    framework_version = plan.framework.version()
    system_info = plan.framework.system_info()
    experiment_id = plan.store.create_experiment(
        name=request.name, command=request.command, config=request.config
    )
    environment_id = plan.store.environment_id(
        {**facts, "framework_version": framework_version, "framework_system_info": system_info}
    )
    ctx = _RunContext(
        store=plan.store,
        host=device,
        framework=plan.framework,
        framework_version=framework_version,
        system_info=system_info,
        experiment_id=experiment_id,
        environment_id=environment_id,
        device=facts,
        workload=plan.workload,
        warmup_turns=request.warmup_turns,
        observer=observer,
        monitor=monitor,
        sustained_s=request.sustained_s,
    )
    result = BenchResult(
        experiment_id=experiment_id,
        store=plan.store.spec,
        framework=plan.framework.name,
        framework_version=framework_version,
        device=facts,
        workload=plan.workload,
        warmup_turns=request.warmup_turns,
        repeats=request.repeats,
        sustained_s=request.sustained_s,
    )
    total = len(request.cells) * request.repeats
    for cell, artifact in zip(request.cells, plan.artifacts, strict=True):
        cell_result = CellResult(cell, artifact)
        result.cells.append(cell_result)
        measured: list[MeasuredTurn] = []
        for repeat in range(request.repeats):
            index = len(result.cells[:-1]) * request.repeats + repeat
            label = f"{artifact.name} {artifact.quant} t{cell.settings.threads}"
            run = _execute_run(ctx, cell, artifact, repeat, (index, total, label), measured)
            cell_result.runs.append(run)
        completed = [r for r in cell_result.runs if r.status == STATUS_COMPLETED]
        cell_result.aggregates = aggregate_turns(measured)
        cell_result.run_decode_tok_per_s = aggregate(
            [r.aggregates.decode_tok_per_s.median for r in completed]
        )
    return result


def _run_columns(
    ctx: _RunContext, cell: Cell, artifact: Artifact, repeat: int, load: LoadTrace
) -> dict[str, Any]:
    s = cell.settings
    return {
        "experiment_id": ctx.experiment_id,
        "environment_id": ctx.environment_id,
        "repeat_index": repeat,
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
            "model_origin": asdict(artifact.origin),
        },
        "load_time_s": load.load_ns / 1e9,
        "model_bytes": load.model_bytes,
        "model_rss_bytes": load.rss_after_bytes - load.rss_before_bytes,
    }


def _execute_run(
    ctx: _RunContext,
    cell: Cell,
    artifact: Artifact,
    repeat: int,
    position: tuple[int, int, str],
    cell_measured: list[MeasuredTurn],
) -> RunResult:
    store, observer = ctx.store, ctx.observer
    peak_window = ctx.host.reset_peak_rss()
    engine = ctx.framework.load(artifact, cell.settings)
    load = engine.load
    status, error = STATUS_FAILED, None
    run_id = store.create_run(**_run_columns(ctx, cell, artifact, repeat, load))
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
            deadline = time.monotonic_ns() + int(ctx.sustained_s * 1e9)
            long_one = (sustained_conversation(ctx.workload),)
            recorder.play(engine, long_one, warmup=False, deadline_ns=deadline)
        status = STATUS_COMPLETED
    except KeyboardInterrupt:
        status, error = STATUS_INTERRUPTED, "interrupted by the user (Ctrl-C)"
        raise
    except Exception as exc:
        error = str(exc) if isinstance(exc, MeltError) else f"{type(exc).__name__}: {exc}"
        raise
    finally:
        if signals_monitor.started:
            signals = signals_monitor.finish(recorder.traces)
        engine.close()
        peak = ctx.host.peak_rss(since_reset=peak_window)
        run = _finish_run(store, run_id, repeat, status, error, load, recorder, peak, signals)
        cell_measured.extend(recorder.measured)
        observer.run_finished(run)
    return run


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
    aggregates = aggregate_turns(recorder.measured)
    consistency = decode_consistency(recorder.traces)
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
    return RunResult(
        run_id=run_id,
        repeat_index=repeat,
        status=status,
        aggregates=aggregates,
        consistency=consistency,
        load_time_s=load.load_ns / 1e9,
        model_bytes=load.model_bytes,
        model_params=load.model_params,
        model_rss_bytes=load.rss_after_bytes - load.rss_before_bytes,
        peak_rss_bytes=peak.bytes,
        peak_rss_source=peak.source,
        signals=signals,
    )
