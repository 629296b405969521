"""How the fleet scales, by measurement on this machine (one run, ratios, never a test assert).

1. `parallel`: wall time of one bench on N loopback-SSH devices run in parallel (`run_fleet`)
   vs the same runs one device after another (`run_bench` per device). All devices share
   this machine's cores, so the ratio measures melt's orchestration, not a real lab's gain.
2. `dispatch`: Ray's overhead per run with a DRY-RUN task that returns at once (no model, no
   device, no store: it measures only melt's dispatch through Ray), for 10/100/1000 runs over
   10 and 100 advertised `device:<name>` resources on one local Ray node.
3. `store`: turns committed per second into PostgreSQL by 8 concurrent writers, each turn
   one transaction with its token timestamps, as a bench writes them.

    python benchmarks/fleet_scale.py --parts parallel,dispatch,store \
        --postgres postgresql://melt@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from melt.config import Cell, RunSettings
from melt.execution import ray_fleet
from melt.execution.bench import run_bench
from melt.execution.fleet import run_fleet
from melt.execution.ray_fleet import RunSpec, resource_name
from melt.execution.request import BenchRequest
from melt.execution.retry import Retries
from melt.store import open_store

TESTS = Path(__file__).resolve().parent.parent / "tests" / "devices"
SETTINGS = RunSettings(threads=1, ctx=2048, max_new_tokens=8)
CELL = Cell("smollm2-135m-instruct", None, SETTINGS)
NO_RETRIES = Retries(0, "dry-run", 0)  # a DRY-RUN task never fails: no store is ever opened


class Silent:
    def preparing(self, message: str) -> None: ...
    def run_started(self, *args: object) -> None: ...
    def conversation_started(self, *args: object) -> None: ...
    def turn_done(self, *args: object) -> None: ...
    def run_finished(self, *args: object) -> None: ...


def parallel(devices: int, work: Path) -> None:
    sys.path.insert(0, str(TESTS))
    from ssh_server import device_python, start_sshd

    sshd = start_sshd(work / "sshd")
    try:
        known = work / "known_hosts"
        known.write_text(sshd.host_key_line())
        python = device_python(Path.home() / ".cache" / "melt-ci")
        names = [f"board-{i}" for i in range(devices)]
        inventory = work / "melt-devices.yaml"
        entry = {"transport": "ssh", "host": "127.0.0.1", "port": sshd.port}
        entry |= {"identity_file": str(sshd.client_key), "known_hosts": str(known)}
        entry |= {"python": str(python)}
        listed = [{**entry, "name": n, "workdir": str(work / n)} for n in names]
        inventory.write_text(yaml.safe_dump({"devices": listed}))
        workload = work / "w.json"
        workload.write_text('[["Name a colour.", "And another one?", "One more?"]]')
        request = BenchRequest(
            cells=(CELL,),
            workload=str(workload),
            warmup_turns=0,
            store=str(work / "melt.db"),
            devices_file=inventory,
        )
        for name in names:  # deploy runner and model first: neither timing pays for it
            run_bench(replace(request, device=name), Silent())
        started = time.perf_counter()
        for name in names:
            run_bench(replace(request, device=name), Silent())
        serial_s = time.perf_counter() - started
        started = time.perf_counter()
        result = run_fleet(request, names, lambda _name: Silent())
        parallel_s = time.perf_counter() - started
        assert result.all_completed, result.outcomes
        print(
            f"parallel: {devices} loopback SSH devices, 1 run each (3 turns × 8 tokens): "
            f"serial {serial_s:.1f} s, parallel {parallel_s:.1f} s, "
            f"speed-up ×{serial_s / parallel_s:.2f} (measured, wall clock, perf_counter)"
        )
    finally:
        sshd.stop()


def dry_run(spec: RunSpec) -> dict[str, Any]:
    """DRY RUN: returns at once; only the dispatch is measured."""
    return {"key": spec.key, "run_id": 0, "status": "completed"}


def dispatch(runs_list: list[int], devices_list: list[int]) -> None:
    import ray

    most = max(devices_list)
    ray.init(
        num_cpus=2,
        resources={resource_name(f"dev-{i}"): 1 for i in range(most)},
        include_dashboard=False,
        log_to_driver=False,
    )
    try:
        ray_fleet.dispatch(
            ray, [_spec(0, "dev-0")], NO_RETRIES, "dry-run", dry_run
        )  # workers started once
        for devices in devices_list:
            for runs in runs_list:
                specs = [_spec(i, f"dev-{i % devices}") for i in range(runs)]
                started = time.perf_counter()
                result = ray_fleet.dispatch(ray, specs, NO_RETRIES, "dry-run", dry_run)
                elapsed = time.perf_counter() - started
                assert result.all_completed and len(result.outcomes) == runs
                print(
                    f"dispatch: {runs} runs over {devices} devices: {elapsed:.2f} s, "
                    f"{1000 * elapsed / runs:.1f} ms per run (measured, DRY-RUN task, "
                    "one local Ray node)"
                )
    finally:
        ray.shutdown()


def _spec(repeat: int, device: str) -> RunSpec:
    return RunSpec(0, 0, CELL, repeat, device, "dry-run", "llama.cpp", "builtin:chat", 1, 0)


def store(url: str, writers: int, turns_each: int) -> None:
    db = open_store(url, write=True)
    experiment = db.create_experiment(name="fleet_scale", command="benchmark", config={})
    env = db.environment_id({"device": "benchmark"})
    run_ids = [
        db.create_run(
            experiment_id=experiment,
            environment_id=env,
            repeat_index=i,
            device="benchmark",
            framework="dry-run",
            framework_version="none",
            model_source="none",
            model_name="none",
            model_path="none",
            model_sha256="0" * 64,
            model_quant="none",
            model_size_bytes=0,
            workload_name="none",
            workload_sha256="0" * 64,
            workload_conversations=1,
            threads=1,
            ctx=1,
            batch=1,
            max_new_tokens=64,
            seed=0,
            warmup_turns=0,
            settings={},
        )
        for i in range(writers)
    ]
    token_ns = list(range(0, 64_000_000, 1_000_000))  # 64 tokens per turn

    def write(run_id: int) -> None:
        for turn in range(turns_each):
            db.add_turn(
                run_id,
                token_ns,
                conversation_index=0,
                conversation_id="c",
                turn_index=turn,
                warmup=False,
                prompt_tokens=10,
                generated_tokens=64,
                stop_reason="length",
                history_turns_dropped=0,
            )

    threads = [threading.Thread(target=write, args=(r,)) for r in run_ids]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    total = writers * turns_each
    print(
        f"store: {writers} writers × {turns_each} turns (64 token timestamps each) into "
        f"PostgreSQL: {total / elapsed:.0f} turns/s committed (measured, {elapsed:.1f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="parallel,dispatch,store")
    parser.add_argument("--devices", type=int, default=2, help="loopback devices (parallel)")
    parser.add_argument("--postgres", help="a PostgreSQL URL for the store part")
    parser.add_argument("--turns", type=int, default=200, help="turns per writer (store)")
    args = parser.parse_args()
    parts = args.parts.split(",")
    if "parallel" in parts:
        with tempfile.TemporaryDirectory() as work:
            parallel(args.devices, Path(work))
    if "dispatch" in parts:
        dispatch([10, 100, 1000], [10, 100])
    if "store" in parts:
        if not args.postgres:
            raise SystemExit("the store part needs --postgres URL")
        store(args.postgres, 8, args.turns)


if __name__ == "__main__":
    main()
