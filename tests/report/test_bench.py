"""Energy columns of the sweep table (read from the store) and of `melt bench --json` (the
in-memory result), from hand-made runs with known power.

The turns (tests/metrics/test_signals.py) decode over [2 s, 4 s] with 5 generated tokens
(4 decode steps) and over [6 s, 8 s] with 3 (2 steps); at a constant P watts their J per
generated token are 2P/4 and 2P/2, and their decode power is P.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from tests.metrics.test_signals import TURNS
from tests.report.stores import add_run

from melt.config import Cell, RunSettings
from melt.execution.monitor_signals import RunSignals
from melt.metrics.run import aggregate_turns
from melt.metrics.signals import PowerSource, run_signal_metrics
from melt.models import Artifact
from melt.probes.sampler import SamplerStats
from melt.report.bench import bench_document
from melt.report.sweep import stored_cells, sweep_parts
from melt.results import BenchResult, CellResult, RunResult
from melt.store import open_store
from melt.traces.sample import Provenance, Sample
from melt.workloads import Workload

S = 1_000_000_000
MEASURED = PowerSource("rapl", Provenance.MEASURED, "measured by rapl: package-0")
ESTIMATED = PowerSource("cpu_power_model", Provenance.ESTIMATED, "ESTIMATED: test model")


def _signals(power: PowerSource | None, watts: float) -> RunSignals:
    samples = [Sample(t * S, "cpu", "cpu", 50.0, "%") for t in range(11)]
    if power is not None:
        samples += [
            Sample(t * S, power.probe, "power", watts, "W", power.provenance) for t in range(11)
        ]
    metrics = run_signal_metrics(samples, TURNS, power=power)
    stats = SamplerStats(10.0, 0, 0, 10 * S, 101, 0, len(samples), 0.05)
    unavailable = None if power else "no sensor: rapl: no intel-rapl zones"
    return RunSignals(stats, (), {}, unavailable, "no zones", {}, metrics)


def _run(run_id: int, signals: RunSignals) -> RunResult:
    return RunResult(
        run_id, 0, "completed", aggregate_turns([]), None, 0.1, 100, 200, 0, 0, "test", signals
    )


def _cell(threads: int, *runs: RunResult) -> CellResult:
    artifact = Artifact("m", Path("/m.gguf"), "gguf", "Q4_0", "ab" * 32, 1000)
    return CellResult(Cell("m", None, RunSettings(threads=threads)), artifact, list(runs))


def _result(*cells: CellResult) -> BenchResult:
    workload = Workload("w", (), "test", "melt")
    return BenchResult(1, "s.db", "llama.cpp", "test", {}, workload, 0, 1, cells=list(cells))


def _stored_sweep(tmp_path: Path, result: BenchResult) -> list[Any]:
    """The sweep parts of `result`'s runs once stored: each run with its energy document,
    in a cell of its threads, and read back from the store."""
    store = open_store(str(tmp_path / "s.db"))
    experiment = store.create_experiment("sweep", "melt bench", {})
    for cell in result.cells:
        for run in cell.runs:
            energy = None if run.signals is None else run.signals.metrics.energy
            add_run(
                store,
                experiment,
                [100.0, 100.0],
                [0.1, 0.1],
                energy=None if energy is None else energy.as_dict(),
                threads=cell.cell.settings.threads,
                sha="m",
            )
    runs = store.runs_of_experiment(experiment)
    return sweep_parts(stored_cells(store, [store.run(r["id"]) for r in runs]))


def _text(parts: list) -> str:
    console = Console(width=250, record=True)
    for part in parts:
        console.print(part)
    return console.export_text()


def _row(text: str, threads: int) -> list[str]:
    rows = [
        [c.strip() for c in line.strip("│").split("│")]
        for line in text.splitlines()
        if line.startswith("│ tiny ")
    ]
    (row,) = [r for r in rows if r[4] == str(threads)]
    return row


def test_measured_runs_of_a_cell_are_pooled_turn_by_turn(tmp_path: Path) -> None:
    # threads 1: runs at 2 W and 4 W → J/tok 1, 2, 2, 4 (median 2.0); W 2, 2, 4, 4 (median 3.0)
    # threads 2: one run at 6 W → J/tok 3, 6 (median 4.5); W 6
    result = _result(
        _cell(1, _run(1, _signals(MEASURED, 2.0)), _run(2, _signals(MEASURED, 4.0))),
        _cell(2, _run(3, _signals(MEASURED, 6.0))),
    )
    text = _text(_stored_sweep(tmp_path, result))
    assert "J/tok [1]" in text and "W [1]" in text and "ESTIMATED" not in text
    assert _row(text, 1)[-2:] == ["2.0000", "3.000"]
    assert _row(text, 2)[-2:] == ["4.5000", "6.000"]
    assert "[1] measured by rapl: package-0: J/tok = decode energy raw" in text
    assert "raw (no idle baseline)" in text
    cells = bench_document(result)["cells"]
    (first,) = cells[0]["energy"]
    assert first["provenance"] == "measured" and first["runs"] == 2
    assert first["j_per_generated_token"]["n"] == 4
    assert first["j_per_generated_token"]["median"] == 2.0
    assert first["decode_avg_power_w"]["mean"] == 3.0


def test_estimated_and_measured_never_share_a_column(tmp_path: Path) -> None:
    result = _result(
        _cell(1, _run(1, _signals(MEASURED, 2.0))),
        _cell(2, _run(2, _signals(ESTIMATED, 7.0))),
    )
    text = _text(_stored_sweep(tmp_path, result))
    assert "ESTIMATED J/tok [2]" in text and "ESTIMATED W [2]" in text
    assert _row(text, 1)[-4:] == ["1.5000", "2.000", "–", "–"]
    assert _row(text, 2)[-4:] == ["–", "–", "5.2500", "7.000"]
    assert "[2] ESTIMATED: test model" in text


def test_without_a_power_source_there_are_no_energy_columns(tmp_path: Path) -> None:
    result = _result(_cell(1, _run(1, _signals(None, 0.0))), _cell(2, _run(2, _signals(None, 0.0))))
    text = _text(_stored_sweep(tmp_path, result))
    assert "J/tok" not in text and "W [1]" not in text and "[1]" not in text
    assert _row(text, 1)[-1] == "2"  # the table ends with its turns column
    assert bench_document(result)["cells"][0]["energy"] == []
