"""How long `melt report --html` takes for many stored runs, and how big the file gets.

Real runs are the material: a small `melt bench` sweep of the bundled model (or the runs of
`--source STORE`) is copied, row for row (runs, turns, token timestamps, probe samples),
into a fresh store until it holds `--runs` runs in one experiment; then the report of that
experiment is built and rendered in this process, timed, and written. The memory bandwidth
is measured once first and stored as the copied runs' `memory_bandwidth` device fact, as
`melt devices probe` records it; its own time is printed apart (a report of runs without the
fact measures it once, for all of them).

    python benchmarks/report_scale.py            # 100 runs; targets: < 5 s, < 10 MB
    python benchmarks/report_scale.py --source melt-results/melt.db --runs 200
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from itertools import cycle, islice
from pathlib import Path

from sqlalchemy import insert, select

from melt.devices.bandwidth import measure_bandwidth
from melt.report.content import build_report
from melt.report.html import render_html
from melt.report.selection import experiment_runs
from melt.store import Store, open_store, schema

TARGET_S = 5.0
TARGET_BYTES = 10 * 1024 * 1024


def bench_source(folder: Path) -> Path:
    """A real two-variant sweep of the bundled model, kept tiny."""
    store = folder / "source.db"
    argv = [sys.executable, "-m", "melt", "bench", "--quant", "q8_0,q4_0", "--threads", "1"]
    argv += ["--max-new-tokens", "32", "--conversations", "2", "--store", str(store)]
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=os.environ)
    return store


def replicate(source: Store, target: Store, runs: int, bandwidth: dict[str, object]) -> int:
    """Copy the source's completed runs round-robin into one new experiment of `target`."""
    with source.engine.connect() as src:
        originals = [
            dict(r._mapping)
            for r in src.execute(select(schema.runs).where(schema.runs.c.status == "completed"))
        ]
        envs = {r.id: dict(r._mapping) for r in src.execute(select(schema.environments))}
        turns = [dict(r._mapping) for r in src.execute(select(schema.turns))]
        stamps = {r.turn_id: dict(r._mapping) for r in src.execute(select(schema.token_timestamps))}
        samples = [dict(r._mapping) for r in src.execute(select(schema.samples))]
    if not originals:
        raise SystemExit("the source store has no completed runs")
    experiment = target.create_experiment("report-scale", "benchmarks/report_scale.py", {})
    env_ids = {
        old: target.environment_id(env["facts"] | {"memory_bandwidth": bandwidth})
        for old, env in envs.items()
    }
    with target.engine.begin() as dst:
        for run in islice(cycle(originals), runs):
            copy = {k: v for k, v in run.items() if k != "id"}
            copy |= {"experiment_id": experiment, "environment_id": env_ids[run["environment_id"]]}
            new_id = dst.execute(insert(schema.runs).values(**copy)).inserted_primary_key[0]
            for turn in (t for t in turns if t["run_id"] == run["id"]):
                row = {k: v for k, v in turn.items() if k != "id"} | {"run_id": new_id}
                turn_id = dst.execute(insert(schema.turns).values(**row)).inserted_primary_key[0]
                if turn["id"] in stamps:
                    dst.execute(
                        insert(schema.token_timestamps).values(
                            **(stamps[turn["id"]] | {"turn_id": turn_id})
                        )
                    )
            mine = [
                {k: v for k, v in s.items() if k != "id"} | {"run_id": new_id}
                for s in samples
                if s["run_id"] == run["id"]
            ]
            if mine:
                dst.execute(insert(schema.samples), mine)
    return experiment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--source", type=Path, help="Copy runs from this store (default: bench).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = open_store(str(args.source or bench_source(folder)))
        target = open_store(str(folder / "scale.db"))
        started = time.perf_counter()
        bandwidth = measure_bandwidth().as_fact()
        measure_s = time.perf_counter() - started
        experiment = replicate(source, target, args.runs, bandwidth)
        with target.engine.connect() as conn:
            turns = conn.execute(select(schema.turns.c.id)).all()
            samples = conn.execute(select(schema.samples.c.id)).all()
        start = time.perf_counter()
        runs = experiment_runs(target, experiment)
        content = build_report(target, runs)
        built = time.perf_counter()
        html = render_html(content, target.spec)
        rendered = time.perf_counter()
        out = folder / "report.html"
        out.write_text(html, encoding="utf-8")
        size = out.stat().st_size
        result = {
            "runs": len(runs),
            "bandwidth_measure_s (once, before)": round(measure_s, 3),
            "turns": len(turns),
            "samples": len(samples),
            "read_and_compute_s": round(built - start, 3),
            "render_s": round(rendered - built, 3),
            "total_s": round(rendered - start, 3),
            "html_bytes": size,
            "html_mb": round(size / 1e6, 2),
            "under_5_s": rendered - start < TARGET_S,
            "under_10_mb": size < TARGET_BYTES,
            "load_average_1min (of cpus)": f"{os.getloadavg()[0]:.1f} ({os.cpu_count()})",
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
