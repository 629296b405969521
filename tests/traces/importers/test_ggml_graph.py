"""ggml per-op graph dumps: glued markers, untimed leaves, per-op summary blocks."""

from pathlib import Path

import pytest

from melt.metrics.ops import graph_totals_us, module_shares, op_shares
from melt.traces.importers import read

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "melt" / "llamacpp"


@pytest.fixture(scope="module")
def result():
    return read(FIXTURES / "graph_perf.log")


def test_both_graphs_are_found_behind_text_glued_to_the_marker(result) -> None:
    (run,) = result.runs
    assert graph_totals_us(run.ops) == pytest.approx({0: 9000.0, 1: 4000.0})
    assert len(run.ops) == 9
    node = run.ops[3]
    assert (node.op, node.calls, node.node_index, node.shape) == ("MUL_MAT", 2, 3, "4096x2x1")
    assert (node.wall_us, node.cpu_us) == pytest.approx((3000.0, 10000.0))


def test_leaves_are_counted_not_timed_and_the_summary_matches_the_nodes(result) -> None:
    (run,) = result.runs
    assert run.settings["graph_leafs"] == [2, 2]
    assert all(t.op != "NONE" for t in run.ops)
    summary = run.settings["graph_per_op_total_ms"][0]
    graph0 = op_shares([t for t in run.ops if t.graph_index == 0])
    assert {r.key: r.wall_us / 1e3 for r in graph0} == pytest.approx(
        {k: v for k, v in summary.items() if k != "NONE"}
    )


def test_an_unreadable_node_line_is_reported_and_the_rest_kept(result) -> None:
    assert [(m.line, m.reason) for m in result.malformed] == [(27, "unreadable node")]


def test_matrix_multiplication_dominates_the_profile(result) -> None:
    (run,) = result.runs
    top = op_shares(run.ops)[0]
    assert (top.key, top.calls, top.nodes) == ("MUL_MAT", 5, 4)
    assert top.share == pytest.approx(12.105 / 13.0)
    modules = {r.key: r.wall_us for r in module_shares(run.ops)}
    assert modules["MUL_MAT@2"] == pytest.approx(7255.0)
    assert modules["MUL_MAT@3"] == pytest.approx(4850.0)
