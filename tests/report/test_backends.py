"""The compute backend a run's engine reported, in every table of a report, and the runs side
by side per backend (the CPU-vs-GPU figure), from hand-made stores with known figures: one
model on the CPU (decode 50 and 52 tok/s), on a discrete GPU with all layers offloaded (100,
104), and once stored before melt recorded the backend (40)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from tests.report.compute_runs import CUDA0, cpu_use, gpu_use, set_compute
from tests.report.stores import add_run

from melt.report.backends import NOT_RECORDED, backend_rows, compute_label, gpu_layers_asked
from melt.report.content import build_report
from melt.report.header import header_parts
from melt.report.profile import summary_table
from melt.report.runs import run_table, runs_table
from melt.report.stored import figure_parts
from melt.report.sweep import stored_cells, sweep_parts
from melt.store import Store, open_store

GPU_LABEL = "CUDA0 NVIDIA H100 80GB HBM3 · 31/31 layers"


def _energy(j: float, probe: str) -> dict[str, Any]:
    return {
        "j_per_generated_token": {"median": j},
        "j_per_prompt_token": {"median": j / 10},
        "provenance": "measured",
        "source": f"{probe} counter",
        "probe": probe,
        "turns": [{"j_per_generated_token": j, "decode": {"avg_power_w": 10.0}}],
    }


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = open_store(str(tmp_path / "s.db"))
    exp = store.create_experiment("cpu vs gpu", "melt bench", {})
    cpu = add_run(store, exp, [50, 52], [0.4, 0.5], energy=_energy(0.8, "rapl"))
    gpu = add_run(store, exp, [100, 104], [0.1, 0.2], energy=_energy(0.2, "nvml"))
    old = add_run(store, exp, [40], [0.5])
    set_compute(store, cpu, cpu_use(), gpu_layers=0)
    set_compute(store, gpu, gpu_use(), gpu_layers=-1)
    set_compute(store, old, None)
    return store


def _runs(store: Store) -> list[dict[str, Any]]:
    return [store.run(r["id"]) for r in store.runs_of_experiment(1)]


def _text(renderable: Any, width: int = 300) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_labels_come_from_the_engines_record_and_a_missing_one_is_not_taken_for_cpu(
    store: Store,
) -> None:
    cpu, gpu, old = _runs(store)
    assert compute_label(cpu) == "CPU"
    assert compute_label(gpu) == GPU_LABEL
    assert compute_label(old) == NOT_RECORDED
    assert [gpu_layers_asked(r) for r in (cpu, gpu, old)] == ["0", "all", "?"]


def test_per_backend_rows_have_the_known_medians_and_the_gpu_is_twice_the_cpu(
    store: Store,
) -> None:
    content = build_report(store, _runs(store))
    rows = {row.backend: row for row in content.backends}
    assert set(rows) == {"CPU", f"CUDA: {CUDA0.label}", NOT_RECORDED}
    cpu, gpu, old = rows["CPU"], rows[f"CUDA: {CUDA0.label}"], rows[NOT_RECORDED]
    assert cpu.decode_tok_per_s.median == pytest.approx(51.0, abs=0.01)
    assert gpu.decode_tok_per_s.median == pytest.approx(102.0, abs=0.01)
    assert gpu.decode_vs_cpu == pytest.approx(2.0, abs=0.001)
    assert old.decode_vs_cpu == pytest.approx(40 / 51, abs=0.001)
    assert cpu.ttft_s.median == pytest.approx(0.45) and gpu.ttft_s.median == pytest.approx(0.15)
    # prefill: 50 prompt tokens over the TTFT
    assert gpu.prefill_tok_per_s.median == pytest.approx((500 + 250) / 2)
    assert (gpu.gpu_layers, gpu.offloaded) == ("all", "31/31")
    assert (cpu.gpu_layers, old.gpu_layers) == ("0", "?")
    assert (cpu.energy_text, gpu.energy_text) == ("0.8000", "0.2000")
    assert old.energy_text == "not measured"
    table = {r["backend"]: r for r in content.tables()["backends"]}
    assert table["CPU"]["decode_j_per_token"] == 0.8
    assert table[NOT_RECORDED]["energy_provenance"] is None


def test_one_backend_has_nothing_to_put_side_by_side(store: Store) -> None:
    cpu, _, _ = _runs(store)
    assert backend_rows(build_report(store, [cpu, cpu]).runs) == ()


def test_the_terminal_report_shows_the_backends_side_by_side_and_the_sweep_keeps_them_apart(
    store: Store,
) -> None:
    runs = _runs(store)
    text = "".join(_text(part) for part in (*header_parts(runs, 3, 1), *figure_parts(store, runs)))
    assert "Per compute backend" in text
    assert "2.00×" in text  # the GPU's decode against the CPU's
    compute = [line for line in text.splitlines() if line.startswith("compute ")]
    # one line per backend; the run that did not record one is left out, like any unknown
    assert [line.removeprefix("compute ").split(" (llama.cpp")[0] for line in compute] == [
        "CPU",
        GPU_LABEL,
    ]
    cells = sweep_parts(stored_cells(store, runs))
    sweep = [line for line in _text(cells[0]).splitlines() if line.startswith("│ tiny ")]
    # the three runs have the same model and settings: only the backend makes them 3 cells
    assert len(sweep) == 3
    assert sum(GPU_LABEL in line for line in sweep) == 1
    assert sum(NOT_RECORDED in line for line in sweep) == 1


def test_runs_list_and_show_name_the_backend(store: Store) -> None:
    rows = store.list_runs()
    text = _text(runs_table(rows))
    assert GPU_LABEL in text and NOT_RECORDED in text
    shown = _text(run_table(2, store.run(2), {}))
    row = next(line for line in shown.splitlines() if line.startswith("│ compute "))
    assert [cell.strip() for cell in row.strip("│").split("│")] == ["compute", GPU_LABEL]


def test_the_one_run_summary_names_the_backend_and_the_layers_asked(store: Store) -> None:
    def rows(run_id: int) -> dict[str, str]:
        text = _text(summary_table(store.run(run_id)))
        cells = [
            [c.strip() for c in line.strip("│").split("│")]
            for line in text.splitlines()
            if line.startswith("│")
        ]
        return {c[0]: c[1] for c in cells if len(c) == 2}

    gpu, old = rows(2), rows(3)
    assert (gpu["compute"], gpu["gpu layers asked"]) == (GPU_LABEL, "all")
    assert old["compute"] == NOT_RECORDED and "gpu layers asked" not in old


def test_runs_at_other_threads_are_their_own_row_and_ratio(store: Store) -> None:
    two = add_run(store, 1, [30, 30], [0.5, 0.5], threads=2)
    set_compute(store, two, cpu_use(), gpu_layers=0)
    rows = build_report(store, _runs(store)).backends
    cpu = {row.threads: row for row in rows if row.backend == "CPU"}
    assert cpu["1"].decode_tok_per_s.median == pytest.approx(51.0, abs=0.01)  # not pooled
    assert cpu["2"].decode_tok_per_s.median == pytest.approx(30.0, abs=0.01)
    assert cpu["2"].decode_vs_cpu == pytest.approx(1.0)
    (gpu,) = (row for row in rows if row.backend.startswith("CUDA"))
    assert gpu.decode_vs_cpu == pytest.approx(2.0, abs=0.001)  # against 1 thread's CPU row


def test_a_compute_record_this_melt_cannot_read_is_one_line(
    melt, store: Store, tmp_path: Path
) -> None:
    record = gpu_use().record()
    record["devices"][0]["tensor_cores"] = 528  # a field a newer melt adds is read past
    store.update_run(2, compute=record)
    assert melt("report", "1", "2", "--store", str(tmp_path / "s.db")).code == 0
    del record["devices"][0]["kind"]  # one it needs and cannot find is not
    store.update_run(2, compute=record)
    result = melt("report", "1", "2", "--store", str(tmp_path / "s.db"))
    assert result.code == 2
    assert result.err.startswith("melt: error: run 2: its compute record is not one")
    assert result.err.count("\n") == 1
