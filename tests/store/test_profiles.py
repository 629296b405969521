"""Op timings and energy figures round-trip through the store."""

from pathlib import Path

from melt.metrics.melt_compat import melt_compat_energy
from melt.metrics.ops import OpTiming
from melt.store import open_store
from melt.store.profiles import (
    EnergyFigure,
    add_energy_figures,
    add_op_timings,
    energy_figures,
    op_timings,
)


def test_op_timings_and_energy_figures_round_trip(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "melt.db"))
    experiment = store.create_experiment("t", "test", {})
    env = store.environment_id({"device": "test"})
    run_id = store.create_run(
        experiment_id=experiment, environment_id=env, repeat_index=0, device="d",
        framework="f", framework_version="v", model_name="m", model_path="p",
        model_sha256="", model_quant="q", model_size_bytes=0, model_source="s",
        workload_name="w", workload_sha256="", workload_conversations=0, threads=1, ctx=1,
        batch=1, max_new_tokens=1, seed=0, warmup_turns=0, settings={},
    )  # fmt: skip
    timings = [
        OpTiming("MUL_MAT", 5255.0, 1, 0, 3, 18562.0, "4096x2x1"),
        OpTiming("rms_norm", 500.0, 2, 1, None, None, ""),
    ]
    add_op_timings(store, run_id, timings)
    energy = melt_compat_energy([0.0, 1.0, 2.0], [1000.0] * 3, [4.0] * 3)
    add_energy_figures(store, run_id, [EnergyFigure("capture", "main", energy, "Monsoon x")])
    assert op_timings(store, run_id) == timings
    (row,) = energy_figures(store, run_id)
    assert (row["mode"], row["samples"], row["provenance"]) == ("melt-compat", 3, "measured")
    assert round(row["energy_mwh"], 4) == 2.2222 and round(row["charge_mah"], 4) == 0.5556
