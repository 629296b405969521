"""`melt compare` as a CI gate: hand-made stores with a known regression, and the real sweep."""

import json
from pathlib import Path

import pytest
from tests.report.stores import sweep_store


def test_a_slower_build_fails_the_gate_and_a_faster_one_passes(melt, tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    sweep_store(Path(db))  # exp 2's Q8_0 decodes ~10% slower, its Q4_0 the same
    slower = melt("compare", "exp:1", "exp:2", "--fail-on-regression", "5%", "--store", db)
    assert slower.code == 1, slower.err
    assert "framework: llama.cpp 0.3.36 → llama.cpp 0.3.37" in slower.out
    assert "rows paired on: model_sha256 · quant" in slower.out
    assert "REGRESSION" in slower.out
    faster = melt("compare", "exp:2", "exp:1", "--fail-on-regression", "5%", "--store", db)
    assert faster.code == 0, faster.out
    assert "no regression beyond 5%" in faster.out
    loose = melt("compare", "exp:1", "exp:2", "--fail-on-regression", "15", "--store", db)
    assert loose.code == 0


def test_json_has_every_number_per_row_and_metric(melt, tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    sweep_store(Path(db))
    result = melt(
        "compare", "exp:1", "exp:2", "--metric", "decode_tok_per_s", "--json", "--store", db
    )
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert doc["differences"] == {
        "framework": {"baseline": "llama.cpp 0.3.36", "candidate": "llama.cpp 0.3.37"}
    }
    rows = {row["key"]["quant"]: row for row in doc["rows"]}
    (q8,) = rows["Q8_0"]["metrics"]
    assert q8["metric"] == "decode_tok_per_s" and q8["baseline_median"] == pytest.approx(
        100, abs=0.1
    )
    assert q8["candidate_median"] == pytest.approx(90, abs=0.1)
    assert q8["pct_change"] == pytest.approx(-10, abs=0.2)
    assert (
        q8["ci95_diff"][1] < 0 and q8["p_value"] < 0.05 and q8["p_method"] == "normal"
    )  # 90 twice: ties
    assert rows["Q4_0"]["metrics"][0]["verdict"] == "within noise"


def test_an_unmatched_row_is_listed_not_compared(melt, tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    store = sweep_store(Path(db))
    from tests.report.stores import add_run

    add_run(store, 2, [40, 41, 39], [0.3] * 3, "Q2_K", "e", version="0.3.37")
    result = melt("compare", "exp:1", "exp:2", "--store", db)
    assert result.code == 0
    assert (
        "unmatched, only in the candidate: model_sha256 eeeeeeeeeeee, quant Q2_K (runs 5)"
        in result.out
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compare", "1", "exp:x"], "'exp:x' is not exp:ID"),
        (["compare", "1", "two"], "no saved name 'two'"),
        (["compare", "1", "2", "--metric", "speed"], "--metric speed is not one of ttft_s"),
        (["compare", "1", "2", "--fail-on-regression", "lots"], "is not a percentage"),
        (["compare", "1", "99"], "no run with id 99"),
    ],
)
def test_compare_mistakes_are_one_line(melt, tmp_path: Path, args, message) -> None:
    db = str(tmp_path / "s.db")
    sweep_store(Path(db))
    result = melt(*args, "--store", db)
    assert result.code == 2, result.out
    assert result.err.startswith("melt: error: ") and message in result.err


@pytest.mark.slow
def test_the_real_sweep_compared_with_itself_is_no_regression(melt, sweep_db: str) -> None:
    result = melt(
        "compare", "exp:1", "exp:1", "--fail-on-regression", "5%", "--json", "--store", sweep_db
    )
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert doc["differences"] == {} and doc["paired_on"] == ["model_sha256", "quant"]
    assert {row["key"]["quant"] for row in doc["rows"]} == {"Q8_0", "Q4_0"}
    for row in doc["rows"]:
        for m in row["metrics"]:
            assert m["diff"] == 0 and m["verdict"] == "within noise" and m["p_value"] == 1.0
