"""One `melt bench`: resolve, validate, then run and store every repeat, turn by turn.

This is where a framework, a device, a workload and the store meet (DESIGN.md: the
orchestration joins them; none of them imports another). Every bad input is found before
the first row is written; after that, every finished turn is committed as it completes, and
an interrupted or failed run keeps what it measured and says how it ended.
"""

from __future__ import annotations

import logging
import resource
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from melt.config import RunSettings
from melt.devices import LocalDevice
from melt.errors import MeltError
from melt.frameworks import Engine, Framework, get_framework
from melt.metrics.consistency import DecodeConsistency, decode_consistency
from melt.metrics.run import MeasuredTurn, TurnAggregates, aggregate_turns
from melt.metrics.stats import Aggregate, aggregate
from melt.metrics.turn import TurnMetrics, turn_metrics
from melt.models import Artifact, resolve_model
from melt.store import Store, open_store
from melt.traces import TurnTrace
from melt.workloads import BUILTIN_WORKLOAD, Conversation, Workload, load_workload

log = logging.getLogger(__name__)

DEFAULT_BUILTIN_CONVERSATIONS = 3
STATUS_COMPLETED = "completed"
STATUS_INTERRUPTED = "interrupted"
STATUS_FAILED = "failed"


@dataclass(frozen=True, slots=True)
class BenchRequest:
    """What the user asked for, before anything is checked."""

    settings: RunSettings
    model: str = "smollm2-135m-instruct"
    framework: str = "llama.cpp"
    workload: str = BUILTIN_WORKLOAD
    conversations: int | None = None
    repeats: int = 1
    warmup_turns: int = 1
    store: str | None = None
    command: str = "melt bench"


class BenchObserver(Protocol):
    """Progress events for a user interface; the session never prints."""

    def run_started(self, run_id: int, repeat_index: int, repeats: int) -> None: ...

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
    model_rss_bytes: int
    peak_rss_bytes: int


@dataclass(frozen=True, slots=True)
class BenchResult:
    experiment_id: int
    store: str
    artifact: Artifact
    framework: str
    framework_version: str
    device: dict[str, Any]
    settings: RunSettings
    workload: Workload
    warmup_turns: int
    runs: list[RunResult] = field(default_factory=list)
    aggregates: TurnAggregates | None = None
    run_decode_tok_per_s: Aggregate | None = None


@dataclass(slots=True)
class _Plan:
    artifact: Artifact
    framework: Framework
    workload: Workload
    store: Store
    first_engine: Engine


def _check_request(request: BenchRequest) -> None:
    if request.repeats < 1:
        raise MeltError(f"--repeats must be at least 1 (got {request.repeats})")
    if request.warmup_turns < 0:
        raise MeltError(f"--warmup must be 0 or more turns (got {request.warmup_turns})")
    if request.conversations is not None and request.conversations < 1:
        raise MeltError(f"--conversations must be at least 1 (got {request.conversations})")


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


def _plan(request: BenchRequest) -> _Plan:
    _check_request(request)
    artifact = resolve_model(request.model)
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
    workload = workload.take(wanted)
    store = open_store(request.store)
    framework = get_framework(request.framework)
    engine = framework.load(artifact, request.settings)
    try:
        _check_fits(engine, workload, request.settings)
    except BaseException:
        engine.close()
        raise
    return _Plan(artifact, framework, workload, store, engine)


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


def _peak_rss_bytes() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


class _RunRecorder:
    """Stores each turn as it completes and remembers what aggregation needs."""

    def __init__(self, store: Store, run_id: int, observer: BenchObserver) -> None:
        self.store = store
        self.run_id = run_id
        self.observer = observer
        self.measured: list[MeasuredTurn] = []
        self.traces: list[TurnTrace] = []

    def play(self, engine: Engine, conversations: Sequence[Conversation], warmup: bool) -> None:
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


def run_bench(request: BenchRequest, observer: BenchObserver) -> BenchResult:
    """Plan, then execute every repeat; raises `MeltError` for bad input before writing."""
    plan = _plan(request)
    device = LocalDevice()
    facts = device.facts()
    framework_version = plan.framework.version()
    system_info = plan.framework.system_info()
    settings = request.settings
    config = {
        "model": request.model,
        "framework": request.framework,
        "workload": request.workload,
        "conversations": len(plan.workload.conversations),
        "repeats": request.repeats,
        "warmup_turns": request.warmup_turns,
        "settings": settings.model_dump(),
    }
    store = plan.store
    experiment_id = store.create_experiment(
        name=f"{plan.artifact.name} on {device.name}", command=request.command, config=config
    )
    environment_id = store.environment_id(
        {**facts, "framework_version": framework_version, "framework_system_info": system_info}
    )
    result = BenchResult(
        experiment_id=experiment_id,
        store=store.spec,
        artifact=plan.artifact,
        framework=plan.framework.name,
        framework_version=framework_version,
        device=facts,
        settings=settings,
        workload=plan.workload,
        warmup_turns=request.warmup_turns,
    )
    engine: Engine | None = plan.first_engine
    all_measured: list[MeasuredTurn] = []
    try:
        for repeat in range(request.repeats):
            if engine is None:
                engine = plan.framework.load(plan.artifact, settings)
            run = _execute_run(
                plan,
                request,
                engine,
                experiment_id,
                environment_id,
                repeat,
                facts,
                framework_version,
                system_info,
                observer,
                all_measured,
            )
            result.runs.append(run)
            engine.close()
            engine = None
    finally:
        if engine is not None:
            engine.close()
    completed = [r for r in result.runs if r.status == STATUS_COMPLETED]
    return replace(
        result,
        aggregates=aggregate_turns(all_measured),
        run_decode_tok_per_s=aggregate([r.aggregates.decode_tok_per_s.median for r in completed]),
    )


def _execute_run(
    plan: _Plan,
    request: BenchRequest,
    engine: Engine,
    experiment_id: int,
    environment_id: int,
    repeat: int,
    facts: dict[str, Any],
    framework_version: str,
    system_info: str,
    observer: BenchObserver,
    all_measured: list[MeasuredTurn],
) -> RunResult:
    settings, artifact, store = request.settings, plan.artifact, plan.store
    load = engine.load
    run_id = store.create_run(
        experiment_id=experiment_id,
        environment_id=environment_id,
        repeat_index=repeat,
        device=facts["device"],
        framework=plan.framework.name,
        framework_version=framework_version,
        framework_system_info=system_info,
        model_name=artifact.name,
        model_path=str(artifact.path),
        model_sha256=artifact.sha256,
        model_quant=artifact.quant,
        model_size_bytes=artifact.size_bytes,
        model_source=artifact.origin.source,
        workload_name=plan.workload.name,
        workload_sha256=plan.workload.sha256,
        workload_conversations=len(plan.workload.conversations),
        threads=settings.threads,
        ctx=settings.ctx,
        batch=settings.batch,
        max_new_tokens=settings.max_new_tokens,
        seed=settings.sampling.seed,
        warmup_turns=request.warmup_turns,
        settings=settings.model_dump(),
        load_time_s=load.load_ns / 1e9,
        model_bytes=load.model_bytes,
        model_rss_bytes=load.rss_after_bytes - load.rss_before_bytes,
    )
    observer.run_started(run_id, repeat, request.repeats)
    recorder = _RunRecorder(store, run_id, observer)
    status, error = STATUS_FAILED, None
    try:
        recorder.play(engine, plan.workload.warmup(request.warmup_turns), warmup=True)
        recorder.play(engine, plan.workload.conversations, warmup=False)
        status = STATUS_COMPLETED
    except KeyboardInterrupt:
        status, error = STATUS_INTERRUPTED, "interrupted by the user (Ctrl-C)"
        raise
    except MeltError as exc:
        error = str(exc)
        raise
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
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
            "decode_consistency": None
            if consistency is None
            else {
                "timestamps_tok_per_s": consistency.timestamps_tok_per_s,
                "engine_tok_per_s": consistency.engine_tok_per_s,
                "relative_diff": consistency.relative_diff,
                "turns": consistency.turns,
            },
        }
        peak = _peak_rss_bytes()
        store.finish_run(
            run_id,
            status,
            error,
            peak_rss_bytes=peak,
            decode_consistency_rel_diff=None if consistency is None else consistency.relative_diff,
            summary=summary,
        )
        all_measured.extend(recorder.measured)
        run = RunResult(
            run_id=run_id,
            repeat_index=repeat,
            status=status,
            aggregates=aggregates,
            consistency=consistency,
            load_time_s=load.load_ns / 1e9,
            model_bytes=load.model_bytes,
            model_rss_bytes=load.rss_after_bytes - load.rss_before_bytes,
            peak_rss_bytes=peak,
        )
        observer.run_finished(run)
    return run
