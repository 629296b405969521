"""The HTML report of runs on two compute backends, opened in Chromium: the per-backend
table and figures are drawn, the accelerator's timeline is drawn beside the CPU's, and a
compute device whose name and description the store holds as markup (a driver string is
the backend's own words, not melt's) shows as text: no script of it runs."""

from __future__ import annotations

import pytest
from tests.report.compute_runs import cpu_use, gpu_use, set_compute
from tests.report.odd_runs import hostile
from tests.report.page_layout import Page, open_report
from tests.report.stores import S, add_run

from melt.cli.main import run
from melt.compute import ComputeDevice
from melt.report.plots import label
from melt.store import open_store
from melt.store.samples import add_samples
from melt.traces.sample import Sample

REPORT_SCRIPTS = 3  # plotly's bundle, the figures' JSON, the script that draws them
EVIL_GPU = ComputeDevice(
    kind="gpu",
    api="CUDA",
    name=hostile("accel_name"),
    description=hostile("accel_description"),
    unified_memory=False,
)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Page:
    folder = tmp_path_factory.mktemp("backends")
    db = folder / "s.db"
    store = open_store(str(db))
    exp = store.create_experiment("cpu vs gpu", "melt bench", {})
    cpu = add_run(store, exp, [50, 52, 51], [0.4] * 3, with_samples=True)
    gpu = add_run(store, exp, [100, 104, 102], [0.1] * 3, with_samples=True)
    add_samples(
        store,
        gpu,
        [Sample(t * S // 2, "kgsl", "gpu_busy", 60.0 + t % 5, "%") for t in range(60)]
        + [Sample(t * S // 2, "kgsl", "gpuclk", 585.0, "MHz") for t in range(60)],
    )
    set_compute(store, cpu, cpu_use(), gpu_layers=0)
    set_compute(store, gpu, gpu_use(EVIL_GPU), gpu_layers=-1)
    html = folder / "report.html"
    argv = ["report", "--experiment", str(exp), "--html", str(html), "--store", str(db)]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("sys.argv", ["melt", *argv])
        run()
    return open_report(html, 1400)


def test_a_hostile_compute_device_runs_no_script_and_reads_as_stored(page: Page) -> None:
    assert page.xss is None and page.title == "melt report"
    assert page.images == 0 and page.scripts == REPORT_SCRIPTS
    assert page.errors == []
    for field in ("accel_name", "accel_description"):
        # the summary's compute column, the per-backend table, the run's heading
        assert page.body_text.count(hostile(field)) >= 3


def test_the_backends_figure_and_the_accelerator_timeline_are_drawn(page: Page) -> None:
    by_caption = {f["caption"]: f for f in page.figures}
    rates = by_caption["prefill and decode per compute backend (medians of turns)"]
    assert {t["name"] for t in rates["traces"]} == {"prefill tok/s", "decode tok/s"}
    decode = next(t for t in rates["traces"] if t["name"] == "decode tok/s")
    by_backend = dict(zip(decode["x"], decode["y"], strict=True))
    assert by_backend["tiny Q8_0 · CPU · gpu layers 0"] == pytest.approx(51.0, abs=0.01)
    # plotly is given the text escaped (report/plots.py `label`) and draws it as stored
    gpu = next(x for x in by_backend if label(hostile("accel_description")) in x)
    assert by_backend[gpu] == pytest.approx(102.0, abs=0.01)
    assert "gpu layers all" in gpu
    timelines = [f for f in page.figures if "accelerator probes" in f["caption"]]
    (accel,) = timelines
    assert sorted(t["name"] for t in accel["traces"]) == ["kgsl/gpu_busy (%)", "kgsl/gpuclk (MHz)"]
    assert all(len(t["x"]) == 60 for t in accel["traces"])
    assert "Per compute backend" in page.body_text and "2.00×" in page.body_text
