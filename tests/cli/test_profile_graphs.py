"""`melt profile --by graph` names TVM graphs by function, and `--json` on profile."""

import json
from pathlib import Path

from melt.traces.importers.tvm_log import graph_names

TVM = Path(__file__).resolve().parents[1] / "fixtures" / "melt" / "tvm" / "relax_vm_profile.log"


def test_graph_names_count_each_function_on_its_own() -> None:
    reports = [{"function": "prefill"}, {"function": "decode"}, {"function": "decode"}]
    assert graph_names({"tvm_reports": reports}) == {
        0: "prefill [0]",
        1: "decode [0]",
        2: "decode [1]",
    }
    assert graph_names({}) == {}


def test_tvm_graphs_are_named_by_function_in_the_table_and_json(melt) -> None:
    table = melt("profile", str(TVM), "--by", "graph")
    assert table.code == 0, table.err
    assert "prefill [0]" in table.out and "decode [0]" in table.out and "graph 0" not in table.out
    doc = json.loads(melt("profile", str(TVM), "--by", "graph", "--json").out)
    assert {row["key"] for row in doc["rows"]} == {"prefill [0]", "decode [0]"}
    assert abs(sum(row["share"] for row in doc["rows"]) - 1.0) < 1e-9


def test_a_stored_tvm_import_keeps_its_graph_names(melt, tmp_path: Path) -> None:
    store = str(tmp_path / "melt.db")
    assert melt("import", str(TVM), "--store", store).code == 0
    result = melt("profile", "1", "--by", "graph", "--store", store)
    assert result.code == 0, result.err
    assert "prefill [0]" in result.out and "decode [0]" in result.out
