"""Execute the runs planned for one device: open it, check its cores, start its runner and
probes, then execute each `RunSpec` in order (`execution/run.py`). The plain `melt bench`, each
thread of `melt bench --device a,b` and each Ray task all come through `run_on_device`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from melt.devices.base import DeviceFacts
from melt.execution.monitor import BenchMonitor
from melt.execution.plan import SharedPlan, check_threads, open_device, prepare
from melt.execution.reconcile import Reconciler
from melt.execution.request import BenchObserver, BenchRequest
from melt.execution.run import RunContext, execute_run
from melt.execution.spec import RunSpec, plan_runs
from melt.metrics.run import MeasuredTurn, aggregate_turns
from melt.metrics.stats import aggregate
from melt.results import STATUS_COMPLETED, BenchResult, CellResult
from melt.runners.base import Runner
from melt.runners.select import make_runner


def run_bench(request: BenchRequest, observer: BenchObserver) -> BenchResult:
    """Plan and execute every repeat of every cell on `request.device`; raises `MeltError`
    for bad input before anything is written."""
    shared = prepare(request, observer)
    return run_on_device(plan_runs(request, [request.device]), observer, shared)


def run_on_device(
    specs: Sequence[RunSpec], observer: BenchObserver, shared: SharedPlan | None = None
) -> BenchResult:
    """Execute `specs` (all of one request, on one device) one after another. Without
    `shared` (a Ray worker), the variants are resolved here and the fit check is the
    planner's, already done."""
    request, name = specs[0].request, specs[0].device
    if any(s.request is not request or s.device != name for s in specs):
        raise ValueError("run_on_device takes the runs of one request on one device")
    shared = shared or prepare(request, observer, check_fit=False)
    device = open_device(request, name)
    runner: Runner | None = None
    try:
        observer.preparing(f"connecting to device '{device.name}'")
        facts = device.facts()
        check_threads(request, facts)
        runner = make_runner(
            device, shared.framework.name, facts, request.framework_options, request.run_options
        )
        monitor = BenchMonitor.detect(request.probes, runner)
        reconciler = Reconciler.for_device(request, device, facts)
        return _execute(specs, observer, shared, runner, monitor, facts, reconciler)
    finally:
        if runner is not None:
            runner.close()
        device.close()


def device_environment(facts: DeviceFacts, local: bool) -> dict[str, Any]:
    """The environment row's facts: the device's own, plus what `melt devices probe`
    measured on it (memory bandwidth, the roofline's bound). The local device's bandwidth,
    never measured yet, is measured here once and kept as that probe would keep it, so a
    report reads it from the store and measures nothing itself."""
    from melt.devices.probe_store import store_probe, stored_probes

    probes = stored_probes(facts.name)
    if local and "memory_bandwidth" not in probes:
        from melt.devices.bandwidth import measure_bandwidth

        store_probe(facts.name, "memory_bandwidth", measure_bandwidth().as_fact())
        probes = stored_probes(facts.name)
    return {**facts.as_dict(), **probes}


def _execute(
    specs: Sequence[RunSpec],
    observer: BenchObserver,
    shared: SharedPlan,
    runner: Runner,
    monitor: BenchMonitor,
    device_facts: DeviceFacts,
    reconciler: Reconciler | None = None,
) -> BenchResult:
    request = specs[0].request
    facts = device_environment(device_facts, runner.device.on_controller)
    warmup_turns = shared.workload.warmup_turns(request.warmup_turns)
    framework_version, system_info = runner.framework_info(shared.framework.name)
    experiment_id = specs[0].experiment_id or shared.store.create_experiment(
        name=request.name, command=request.command, config=request.config
    )
    environment_id = shared.store.environment_id(
        {**facts, "framework_version": framework_version, "framework_system_info": system_info}
    )
    ctx = RunContext(
        store=shared.store,
        runner=runner,
        framework=shared.framework,
        framework_version=framework_version,
        system_info=system_info,
        experiment_id=experiment_id,
        environment_id=environment_id,
        device=facts,
        workload=shared.workload,
        warmup_turns=warmup_turns,
        observer=observer,
        monitor=monitor,
        sustained_s=request.sustained_s,
        run_settings=request.run_settings,
    )
    result = BenchResult(
        experiment_id=experiment_id,
        store=shared.store.spec,
        framework=shared.framework.name,
        framework_version=framework_version,
        device=facts,
        workload=shared.workload,
        warmup_turns=warmup_turns,
        repeats=request.repeats,
        sustained_s=request.sustained_s,
    )
    for c, (cell, artifact) in enumerate(zip(request.cells, shared.artifacts, strict=True)):
        mine = [(index, spec) for index, spec in enumerate(specs) if spec.cell_index == c]
        if not mine:
            continue
        cell_result = CellResult(cell, artifact)
        result.cells.append(cell_result)
        measured: list[MeasuredTurn] = []
        for index, spec in mine:
            label = f"{artifact.name} {artifact.quant} t{cell.settings.threads}"
            run = execute_run(ctx, spec, artifact, (index, len(specs), label), measured)
            cell_result.runs.append(run)
            if reconciler is not None and run.status == STATUS_COMPLETED:
                observer.preparing(f"llama-bench beside run {run.run_id}")
                reconciler.after_run(ctx.store, run.run_id, spec.cell.settings, artifact)
        completed = [r for r in cell_result.runs if r.status == STATUS_COMPLETED]
        cell_result.aggregates = aggregate_turns(measured)
        cell_result.run_decode_tok_per_s = aggregate(
            [r.aggregates.decode_tok_per_s.median for r in completed]
        )
    return result
