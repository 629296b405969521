"""Saved names (`melt runs name`, `melt runs names`) and every command that takes a run
reference reading them: a real sweep named and compared by name, and each mistake one line."""

import json
import sqlite3
from pathlib import Path

import pytest
from tests.report.stores import sweep_store


def _copy(source: str, target: Path) -> str:
    """A consistent copy of the session's sweep store, so naming in it touches no other test."""
    with sqlite3.connect(source) as old, sqlite3.connect(target) as new:
        old.backup(new)
    return str(target)


@pytest.mark.slow
def test_a_real_sweep_named_compares_and_reports_by_name(
    melt, sweep_db: str, tmp_path: Path
) -> None:
    db = _copy(sweep_db, tmp_path / "melt.db")
    saved = melt("runs", "name", "nightly", "exp:1", "--store", db)
    assert saved.code == 0, saved.err
    assert saved.out == "nightly → exp:1 (2 run(s))\n"
    assert melt("runs", "name", "q4", "1", "--store", db).out == "q4 → 1 (1 run(s))\n"
    moved = melt("runs", "name", "q4", "2", "--store", db)
    assert moved.out == "q4 → 2 (1 run(s)); it pointed at 1 before\n"
    alias = melt("runs", "name", "again", "nightly", "--store", db)
    assert alias.out == "again → exp:1 (2 run(s))\n"  # a name given as REF saves its target

    listed = melt("runs", "names", "--json", "--store", db).json()
    assert [(n["name"], n["reference"]) for n in listed] == [
        ("again", "exp:1"),
        ("nightly", "exp:1"),
        ("q4", "2"),
    ]
    table = melt("runs", "names", "--store", db).out
    assert "nightly" in table and "exp:1" in table

    by_name = melt("compare", "nightly", "again", "--json", "--store", db)
    by_id = melt("compare", "exp:1", "exp:1", "--json", "--store", db)
    assert by_name.code == 0, by_name.err
    assert json.loads(by_name.out) == json.loads(by_id.out)
    assert {row["key"]["quant"] for row in json.loads(by_name.out)["rows"]} == {"Q8_0", "Q4_0"}

    named = melt("report", "q4", "--format", "json", "--store", db)
    numbered = melt("report", "2", "--format", "json", "--store", db)
    assert named.code == 0, named.err
    by_name_doc, by_id_doc = json.loads(named.out), json.loads(numbered.out)
    # every table but the roofline, whose bandwidth each report measures afresh here
    for table in ("turns", "qoe", "outliers", "environment"):
        assert by_name_doc[table] == by_id_doc[table], table
    assert [r["run_id"] for r in by_name_doc["summary"]] == [2]
    assert [r["run_id"] for r in by_name_doc["turns"]] == [2] * len(by_id_doc["turns"]) != []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["runs", "name", "1x", "1"],
            "'1x' is not a valid run name: start with a letter or _, then letters, digits, _ . - "
            "(at most 100), so it never reads as a run id or exp:ID",
        ),
        (["runs", "name", "exp:1", "1"], "'exp:1' is not a valid run name"),
        (["runs", "name", "base", "99"], "no run with id 99"),
        (["runs", "name", "base", "exp:9"], "no runs in experiment 9"),
        (["runs", "name", "base", "ghost"], "no saved name 'ghost'"),
        (["compare", "ghost", "1"], "no saved name 'ghost' in '{db}' (see 'melt runs names';"),
        (["report", "1", "ghost"], "no saved name 'ghost'"),
        (["compare", "1", "a b"], "'a b' is neither a run id, exp:ID nor a saved name"),
    ],
)
def test_name_mistakes_are_one_line(melt, tmp_path: Path, args, message) -> None:
    db = str(tmp_path / "s.db")
    sweep_store(Path(db))
    result = melt(*args, "--store", db)
    assert result.code == 2, result.out
    assert result.err.startswith("melt: error: ") and result.err.count("\n") == 1
    assert message.format(db=db) in result.err


def test_a_moved_name_is_what_compare_reads(melt, tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    sweep_store(Path(db))  # exp 2's Q8_0 decodes ~10% slower than exp 1's
    assert melt("runs", "names", "--store", db).out.startswith("no saved names")
    assert melt("runs", "name", "base", "exp:1", "--store", db).code == 0
    assert melt("runs", "name", "cand", "exp:2", "--store", db).code == 0
    gate = ("--fail-on-regression", "5%", "--store", db)
    assert melt("compare", "base", "cand", *gate).code == 1
    moved = melt("runs", "name", "cand", "exp:1", "--store", db)
    assert moved.out == "cand → exp:1 (2 run(s)); it pointed at exp:2 before\n"
    assert melt("compare", "base", "cand", *gate).code == 0
