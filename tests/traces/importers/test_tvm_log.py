"""TVM / MLC relax VM profiler reports."""

from pathlib import Path

import pytest

from melt.metrics.ops import graph_totals_us
from melt.traces.importers import read

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "melt" / "tvm"


def test_every_report_is_read_with_chunk_suffixes_and_text_before_the_marker() -> None:
    result = read(FIXTURES / "relax_vm_profile.log")
    (run,) = result.runs
    reports = run.settings["tvm_reports"]
    assert [(r["function"], r["chunk"]) for r in reports] == [("prefill", "1/2"), ("decode", "2/2")]
    assert graph_totals_us(run.ops) == pytest.approx({0: 8000.0, 1: 2000.0})
    assert reports[0]["device_metrics"]["cpu0"]["Duration (us)"] == 8000.0
    assert reports[0]["configuration"] == {"Number of threads": 4, "Executor": "VM"}
    assert run.settings["threads"] == 4
    first = run.ops[0]
    assert (first.op, first.calls, first.shape) == (
        "fused_fused_dequantize_NT_matmul",
        2,
        "float16[1, 4, 576]",
    )


def test_a_report_without_profiler_json_is_reported_with_its_line() -> None:
    result = read(FIXTURES / "relax_vm_profile.log")
    assert len(result.malformed) == 1
    assert result.malformed[0].line == 87
    assert "report of broken is not profiler JSON" in result.malformed[0].reason
