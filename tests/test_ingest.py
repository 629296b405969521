"""Imported runs in the store: turns from the tool's counters, energy in both modes."""

from pathlib import Path

import pytest

from melt.ingest import import_path, store_result, window_energies
from melt.store import open_store
from melt.store.profiles import energy_figures, op_timings
from melt.traces.importers import ImportedRun, ImportResult, Interval, PowerTrace

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "melt"


def ramp_run(intervals: list[Interval]) -> ImportedRun:
    run = ImportedRun(label="ramp")
    run.power.append(
        PowerTrace(
            source="test ramp",
            rail="main",
            t_s=(0.0, 1.0, 3.0),
            power_mw=(4000.0, 8000.0, 12000.0),
            current_ma=(1000.0, 2000.0, 3000.0),
            voltage_v=(4.0, 4.0, 4.0),
        )
    )
    run.intervals = intervals
    return run


def test_each_window_gets_both_modes_and_empty_windows_none() -> None:
    run = ramp_run([Interval("decode", 500_000_000, 3_500_000_000), Interval("idle", 4, 5)])
    figures = {(f.window, f.energy.mode): f.energy for f in window_energies(run)}
    assert set(figures) == {
        ("capture", "trapezoid"),
        ("capture", "melt-compat"),
        ("decode#0", "trapezoid"),
        ("decode#0", "melt-compat"),
    }
    assert figures[("capture", "melt-compat")].energy_mwh == pytest.approx(32000 / 3600)
    # melt's one integration, over the exact window 0.5–3.5 s: power interpolated to 6 W at
    # 0.5 s, 8 W at 1 s, 12 W at 3 s, held to 3.5 s: 3.5 + 20 + 6 = 29.5 J
    assert figures[("decode#0", "trapezoid")].energy_mwh == pytest.approx(29500 / 3600)
    assert figures[("capture", "trapezoid")].energy_mwh == pytest.approx(26000 / 3600)
    assert figures[("decode#0", "melt-compat")].energy_mwh == pytest.approx(24000 / 3600)


def test_a_power_only_rail_gets_the_trapezoid_alone() -> None:
    run = ImportedRun(label="p")
    run.power.append(PowerTrace("test", "cpu", (0.0, 2.0), (1000.0, 3000.0)))
    (figure,) = window_energies(run)
    assert figure.energy.mode == "trapezoid" and figure.energy.charge_mah is None
    assert figure.energy.energy_mwh == pytest.approx(4000 / 3600)


def test_an_import_is_stored_and_read_back(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "melt.db"))
    summary = import_path(store, FIXTURES / "layout", "auto", "melt import layout")
    assert summary.format == "melt-run" and summary.run_ids == [1, 2, 3]
    run = store.run(1)
    assert (run["status"], run["model_quant"], run["repeat_index"]) == ("imported", "q4_1", 0)
    assert run["settings"]["imported"]["unknown_settings"] == [
        "threads",
        "batch",
        "seed",
        "warmup_turns",
    ]
    assert (run["threads"], run["batch"], run["ctx"]) == (None, None, 2048)
    assert run["summary"]["aggregates"]["decode_tok_per_s"]["median"] == pytest.approx(20.0)
    turns = store.turns(1)
    assert [t["prefill_s"] for t in turns] == [2.50152, 0.4]
    assert [t["submit_ns"] for t in turns] == [None, None]
    assert [t["e2e_s"] for t in turns] == [3.6, 2.45]
    assert {f["window"] for f in energy_figures(store, 1)} == {"capture", "prefill#0", "decode#0"}
    assert len(op_timings(store, 3)) == 5 and op_timings(store, 1) == []


def test_an_event_window_without_samples_is_said(tmp_path: Path) -> None:
    source = tmp_path / "capture.csv"
    source.write_text("made by the test\n")
    run = ramp_run([Interval("later", 10_000_000_000, 11_000_000_000)])
    run.sources = [str(source)]
    result = ImportResult("monsoon", [run])
    store = open_store(str(tmp_path / "melt.db"))
    summary = store_result(store, result, source, "test")
    assert summary.notes == ["ramp: no power samples inside the window later#0"]
    assert {f["window"] for f in energy_figures(store, summary.run_ids[0])} == {"capture"}
