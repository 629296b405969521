"""A regression gate passes only on evidence: a side that failed, was abandoned, or
measured nothing (or not a compared metric) makes `--fail-on-regression` one line and a
non-zero exit, never "within noise"."""

import json
from pathlib import Path

import pytest
import sqlalchemy
from tests.report.odd_runs import add_run, conversations

from melt.store import Store, open_store

NO_PROCESS = 2**22 + 1


def _store(tmp_path: Path) -> tuple[Store, str]:
    db = tmp_path / "s.db"
    store = open_store(str(db))
    store.create_experiment("gate", "melt bench", {})
    add_run(store, 1, conversations(1, 5))  # run 1: the baseline, 5 measured turns
    return store, str(db)


def _failed_without_turns(store: Store) -> None:
    run_id = add_run(store, 1, [])
    store.finish_run(run_id, "failed", error="llama-server exited with code 1")


def _abandoned(store: Store) -> None:
    run_id = add_run(store, 1, conversations(1, 5))
    # left `running` by a process of this host that no longer exists (above Linux's pid_max)
    store.update_run(run_id, status="running", ended_at=None, pid=NO_PROCESS)


def _completed_without_turns(store: Store) -> None:
    add_run(store, 1, [])


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (_failed_without_turns, "candidate run 2 is failed, not a finished measurement"),
        (_abandoned, "candidate run 2 is abandoned, not a finished measurement"),
        (_completed_without_turns, "candidate run 2 has no measured turns"),
    ],
)
def test_a_side_without_a_finished_measurement_cannot_pass_the_gate(
    melt, tmp_path: Path, make, says: str
) -> None:
    store, db = _store(tmp_path)
    make(store)
    gated = melt("compare", "1", "2", "--fail-on-regression", "5%", "--store", db)
    assert gated.code == 2
    assert says in gated.err
    assert gated.err.startswith("melt: error: --fail-on-regression cannot pass")
    assert len(gated.err.strip().splitlines()) == 1
    assert "no regression" not in gated.out
    shown = melt("compare", "1", "2", "--store", db)  # without a gate: said, not an error
    assert shown.code == 0
    assert f"not comparable: {says}" in shown.out


def test_the_baseline_failing_blocks_the_gate_too(melt, tmp_path: Path) -> None:
    store, db = _store(tmp_path)
    _failed_without_turns(store)
    gated = melt("compare", "2", "1", "--fail-on-regression", "5%", "--store", db)
    assert gated.code == 2
    assert "baseline run 2 is failed" in gated.err


def test_a_metric_one_side_did_not_measure_blocks_the_gate(melt, tmp_path: Path) -> None:
    store, db = _store(tmp_path)
    add_run(store, 1, conversations(1, 5))
    store.engine.dispose()
    with sqlalchemy.create_engine(f"sqlite:///{db}").begin() as conn:
        conn.execute(sqlalchemy.text("UPDATE turns SET ttft_s = NULL WHERE run_id = 2"))
    gated = melt("compare", "1", "2", "--fail-on-regression", "5%", "--json", "--store", db)
    assert gated.code == 2
    assert "the candidate (run 2) has no TTFT values to compare" in gated.err
    document = json.loads(gated.out)
    assert document["not_comparable"] == ["the candidate (run 2) has no TTFT values to compare"]
    ttft = document["rows"][0]["metrics"][0]
    assert (ttft["metric"], ttft["verdict"]) == ("ttft_s", "no data")
    decode_only = melt(
        "compare",
        "1",
        "2",
        "--metric",
        "decode_tok_per_s",
        "--fail-on-regression",
        "5%",
        "--store",
        db,
    )
    assert decode_only.code == 0, decode_only.err
    assert "no regression beyond 5%" in decode_only.out


@pytest.mark.parametrize("threshold", ["inf%", "nan", "-1%"])
def test_a_threshold_that_is_no_finite_percentage_is_refused(
    melt, tmp_path: Path, threshold: str
) -> None:
    _, db = _store(tmp_path)
    gated = melt("compare", "1", "1", "--fail-on-regression", threshold, "--store", db)
    assert gated.code == 2
    assert "--fail-on-regression must be a finite number ≥ 0" in gated.err
    assert len(gated.err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["compare", "exp:18446744073709551617", "1"],
        ["compare", "1", "18446744073709551617"],
        ["report", "exp:18446744073709551617", "--format", "json"],
        ["report", "--experiment", "18446744073709551617", "--format", "json"],
    ],
    ids=["compare-exp", "compare-run", "report-exp", "report-experiment"],
)
def test_an_id_past_64_bits_is_one_line(melt, tmp_path: Path, argv: list[str]) -> None:
    _, db = _store(tmp_path)
    result = melt(*argv, "--store", db)
    assert result.code == 2
    assert "18446744073709551617" in result.err and "cannot be a stored id" in result.err
    assert len(result.err.strip().splitlines()) == 1
