"""Per-op and per-module shares of wall time."""

import pytest

from melt.metrics.ops import OpTiming, graph_shares, graph_totals_us, module_shares, op_shares

TIMINGS = [
    OpTiming("MUL_MAT", 600.0, calls=2, graph_index=0, node_index=1, cpu_us=1200.0),
    OpTiming("ADD", 100.0, graph_index=0, node_index=2),
    OpTiming("MUL_MAT", 200.0, graph_index=1, node_index=1, cpu_us=300.0),
    OpTiming("MUL_MAT", 50.0, graph_index=1, node_index=3),
    OpTiming("ADD", 50.0, graph_index=1, node_index=2),
]


def test_op_shares_sum_groups_and_sort_by_wall_time() -> None:
    rows = op_shares(TIMINGS)
    assert [r.key for r in rows] == ["MUL_MAT", "ADD"]
    mul = rows[0]
    assert (mul.wall_us, mul.calls, mul.nodes, mul.cpu_us) == (850.0, 4, 3, 1500.0)
    assert mul.share == pytest.approx(0.85)
    assert sum(r.share for r in rows) == pytest.approx(1.0)
    assert rows[1].cpu_us is None


def test_module_shares_keep_the_node_position() -> None:
    rows = {r.key: r for r in module_shares(TIMINGS)}
    assert set(rows) == {"MUL_MAT@1", "ADD@2", "MUL_MAT@3"}
    assert rows["MUL_MAT@1"].wall_us == 800.0 and rows["MUL_MAT@1"].nodes == 2
    assert rows["MUL_MAT@3"].share == pytest.approx(0.05)


def test_graph_totals_and_a_profile_with_no_time() -> None:
    assert graph_totals_us(TIMINGS) == {0: 700.0, 1: 300.0}
    assert op_shares([OpTiming("NONE", 0.0)])[0].share == 0.0
    assert op_shares([]) == []


def test_graph_shares_sum_each_graph() -> None:
    rows = graph_shares(TIMINGS)
    assert [(r.key, r.wall_us, r.nodes) for r in rows] == [
        ("graph 0", 700.0, 2),
        ("graph 1", 300.0, 3),
    ]
    assert rows[1].share == pytest.approx(0.3)
