"""`melt report` on a run measured by `melt bench` (imported runs: tests/cli/test_import.py)."""

import json
from pathlib import Path


def test_report_of_a_measured_run_shows_its_medians_and_no_profile(melt, tmp_path: Path) -> None:
    workload = tmp_path / "w.json"
    workload.write_text(json.dumps([["Say hello."]]))
    store = str(tmp_path / "melt.db")
    bench = melt(
        "bench", "--workload", str(workload), "--max-new-tokens", "4", "--warmup", "0",
        "--store", store,
    )  # fmt: skip
    assert bench.code == 0, bench.err
    result = melt("report", "1", "--store", store)
    assert result.code == 0, result.err
    assert "run 1 (completed)" in result.out
    assert "smollm2-135m-instruct Q4_1" in result.out
    assert "TTFT" in result.out and "median of 1" in result.out
    assert "per-op profile" not in result.out and "imported" not in result.out
