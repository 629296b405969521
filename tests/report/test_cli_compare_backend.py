"""`melt compare` on a store whose runs recorded their compute backend: the GPU run of the
baseline finds no GPU run in the candidate, and the output says so instead of pairing it
with a CPU run."""

import json
from pathlib import Path

from tests.report.compute_runs import cpu_use, gpu_use, set_compute
from tests.report.stores import add_run

from melt.store import open_store


def test_compare_pairs_by_backend_and_says_why_a_row_is_unpaired(melt, tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    store = open_store(db)
    one = store.create_experiment("base", "melt bench", {})
    set_compute(store, add_run(store, one, [50, 51, 49], [0.3] * 3), cpu_use())
    set_compute(store, add_run(store, one, [100, 101, 99], [0.1] * 3), gpu_use())
    two = store.create_experiment("cand", "melt bench", {})
    set_compute(store, add_run(store, two, [50, 50, 50], [0.3] * 3, version="0.3.37"), cpu_use())
    result = melt("compare", "exp:1", "exp:2", "--store", db)
    assert result.code == 0, result.err
    assert "rows paired on: compute" in result.out
    flat = " ".join(result.out.split())
    assert (
        "unmatched, only in the baseline: compute CUDA0 NVIDIA H100 80GB HBM3 · 31/31 layers "
        "(runs 2); not compared: the candidate has no run with compute CUDA0 NVIDIA H100 80GB "
        "HBM3 · 31/31 layers"
    ) in flat
    doc = json.loads(melt("compare", "exp:1", "exp:2", "--json", "--store", db).out)
    (row,) = doc["rows"]
    assert (row["key"], row["baseline_runs"], row["candidate_runs"]) == (
        {"compute": "CPU"},
        [1],
        [3],
    )
    assert doc["unmatched"][0]["why"].startswith("the candidate has no run with compute CUDA0")
