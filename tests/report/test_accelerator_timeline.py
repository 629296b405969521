"""Accelerator probes (load %, frequency MHz, memory bytes, power, temperature) get their own
timeline figure, shaded by prefill and decode exactly as the CPU's, on the same time axis;
the CPU figure keeps only the device's own probes. Samples written into a real store."""

from __future__ import annotations

from pathlib import Path

from tests.report.compute_runs import gpu_use, set_compute
from tests.report.stores import S, add_run

from melt.report.content import RunView, build_report
from melt.report.plots import accelerator_timeline, probe_timeline
from melt.store import open_store
from melt.store.samples import add_samples
from melt.traces.sample import Sample

ACCELERATOR = (
    ("kgsl", "gpu_busy", "%", 70.0),
    ("kgsl", "gpuclk", "MHz", 585.0),
    ("nvml", "memory_used", "bytes", 512.0 * 2**20),
    ("amdgpu", "power1_average", "W", 12.5),
    ("devfreq", "temp", "°C", 51.0),
)


def _view(tmp_path: Path, accelerator: bool) -> RunView:
    store = open_store(str(tmp_path / "s.db"))
    exp = store.create_experiment("gpu", "melt bench", {})
    run_id = add_run(store, exp, [100, 100], [0.5, 0.5], with_samples=True)
    set_compute(store, run_id, gpu_use())
    if accelerator:
        add_samples(
            store,
            run_id,
            [
                Sample(t * S // 2 + S // 4, probe, channel, value, unit)
                for probe, channel, unit, value in ACCELERATOR
                for t in range(40)
            ],
        )
    (view,) = build_report(store, [store.run(run_id)]).runs
    return view


def test_the_accelerator_figure_has_load_frequency_memory_panels_shaded_like_the_cpus(
    tmp_path: Path,
) -> None:
    view = _view(tmp_path, accelerator=True)
    cpu, accel = probe_timeline(view), accelerator_timeline(view)
    assert cpu is not None and accel is not None
    names = sorted(t["name"] for t in accel.data)
    assert names == [
        "amdgpu/power1_average (W)",
        "devfreq/temp (°C)",
        "kgsl/gpu_busy (%)",
        "kgsl/gpuclk (MHz)",
        "nvml/memory_used (MiB)",
    ]
    assert not any(t["name"].startswith(("kgsl", "nvml")) for t in cpu.data)
    panels = [accel.layout[k]["title"]["text"] for k in sorted(accel.layout) if "yaxis" in k]
    assert panels == ["load %", "frequency", "memory MiB", "power", "°C"]
    memory = next(t for t in accel.data if t["name"].startswith("nvml"))
    assert set(memory["y"]) == {512.0}  # bytes shown in MiB
    # the same prefill/decode windows, on the same time axis (origin: the first sample)
    assert accel.layout["shapes"] == cpu.layout["shapes"]
    prefill, decode = accel.layout["shapes"][:2]
    assert (prefill["x0"], prefill["x1"]) == (0.0, 0.5)
    assert (decode["x0"], decode["x1"]) == (0.5, 0.58)  # 8 steps at 100 tok/s
    load = next(t for t in accel.data if t["name"].startswith("kgsl/gpu_busy"))
    assert load["x"][0] == 0.25  # a quarter second after the CPU's first sample
    assert "accelerator probes" in accel.title


def test_no_accelerator_samples_no_accelerator_figure(tmp_path: Path) -> None:
    view = _view(tmp_path, accelerator=False)
    assert accelerator_timeline(view) is None
    assert probe_timeline(view) is not None
