"""The sweep table of stored runs: repeats of one cell pooled into one row, cells apart,
from hand-made stores whose turns have known decode rates (tests/report/stores.py)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from tests.report.stores import add_run

from melt.report.sweep import cell_key, stored_cells, sweep_parts
from melt.store import Store, open_store


def _rows(store: Store, experiment: int) -> list[list[str]]:
    runs = [store.run(r["id"]) for r in store.runs_of_experiment(experiment)]
    console = Console(width=250, record=True)
    for part in sweep_parts(stored_cells(store, runs)):
        console.print(part)
    return [
        [c.strip() for c in line.strip("│").split("│")]
        for line in console.export_text().splitlines()
        if line.startswith("│ tiny ")
    ]


def test_repeats_of_a_cell_pool_their_turns_and_other_settings_stay_apart(
    tmp_path: Path,
) -> None:
    store = open_store(str(tmp_path / "s.db"))
    one = store.create_experiment("sweep", "melt bench", {})
    add_run(store, one, [100, 102], [0.1, 0.3], "Q8_0", "a")  # repeat 0
    add_run(store, one, [98, 110], [0.2, 0.4], "Q8_0", "a")  # repeat 1 of the same cell
    add_run(store, one, [50, 52], [0.5, 0.5], "Q8_0", "a", threads=2)
    add_run(store, one, [150, 150], [0.1, 0.1], "Q4_0", "b")
    rows = _rows(store, one)
    by_cell = {(r[1], r[4]): r for r in rows}
    assert sorted(by_cell) == [("Q4_0", "1"), ("Q8_0", "1"), ("Q8_0", "2")]
    pooled = by_cell[("Q8_0", "1")]
    assert pooled[-1] == "4"  # two runs of two turns each
    assert pooled[10].startswith("101.0 [")  # median of 98, 100, 102, 110
    assert pooled[8].startswith("0.250 [")  # TTFT median of 0.1, 0.2, 0.3, 0.4
    assert by_cell[("Q8_0", "2")][10].startswith("51.0 [")
    assert by_cell[("Q8_0", "2")][-1] == "2"


def test_a_cell_is_device_framework_artifact_and_settings_not_the_run() -> None:
    run = {
        "device": "orin",
        "framework": "llama.cpp",
        "model_sha256": "a" * 64,
        "settings": {"threads": 1, "ctx": 512, "run_key": "k0", "model_params": 10},
    }
    again = {**run, "settings": {**run["settings"], "run_key": "k1", "device_run": {"x": 1}}}
    assert cell_key(run) == cell_key(again)  # what differs per run does not split a cell
    assert cell_key(run) != cell_key({**run, "device": "pixel"})
    assert cell_key(run) != cell_key({**run, "settings": {**run["settings"], "ctx": 1024}})
