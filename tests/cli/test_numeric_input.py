"""Numbers and ids the user types: NaN, infinity, a negative duration, an id past what a store
can hold are one line naming the option (exit status 2), never a traceback, a run or a fact."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from tests.conftest import CliResult

from melt.devices.probe_store import stored_probes
from melt.store import open_store

HUGE = "99999999999999999999"  # past 2**63 - 1, the largest id SQLite or PostgreSQL holds

CASES: dict[str, tuple[list[str], str]] = {
    "reading wpm nan": (["report", "1", "--reading-wpm", "nan"], "--reading-wpm"),
    "reading wpm inf": (["report", "1", "--reading-wpm", "inf"], "--reading-wpm"),
    "regression gate inf": (["compare", "1", "2", "--fail-on-regression", "inf%"], "--fail-on"),
    "temperature inf": (["bench", "--temperature", "inf"], "--temperature"),
    "temperature nan": (["bench", "--temperature", "nan"], "--temperature"),
    "comfort temp nan": (["bench", "--comfort-temp", "nan"], "--comfort-temp"),
    "probe seconds nan": (["devices", "probe", "local", "--seconds", "nan"], "--seconds"),
    "probe seconds negative": (["devices", "probe", "local", "--seconds", "-1"], "--seconds"),
    "probe seconds zero": (["devices", "probe", "local", "--seconds", "0"], "--seconds"),
    "report exp id": (["report", f"exp:{HUGE}"], HUGE),
    "report experiment": (["report", "--experiment", HUGE], "--experiment"),
    "compare exp id": (["compare", f"exp:{HUGE}", "1"], HUGE),
    "compare run id": (["compare", HUGE, "1"], HUGE),
    "compare thousands of digits": (["compare", "9" * 5000, "1"], "cannot be a stored id"),
    "runs name": (["runs", "name", "base", f"exp:{HUGE}"], HUGE),
    "runs list limit": (["runs", "list", "--limit", HUGE], "--limit"),
    "eval ppl ctx": (["eval", "--ppl-ctx", "1"], "--ppl-ctx"),
    "eval seed": (["eval", "--seed", "-5"], "--seed"),
}
BENCH_STORE = {"temperature inf", "temperature nan", "comfort temp nan"}


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """An empty results store: every reference is checked before anything is looked up."""
    path = tmp_path / "melt.db"
    open_store(str(path), write=True)
    return path


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_number_is_one_line_exit_2(
    case: str, store: Path, tmp_path: Path, melt: Callable[..., CliResult]
) -> None:
    args, named = CASES[case]
    target = tmp_path / "bench.db" if case in BENCH_STORE else store
    r = melt(*args, "--store", str(target)) if args[0] != "devices" else melt(*args)
    assert r.code == 2, r.err
    assert r.err.startswith("melt: error: ") and r.err.count("\n") == 1, r.err
    assert named in r.err
    assert "Traceback" not in r.err
    assert not (tmp_path / "bench.db").exists()  # the bench refused before it wrote anything


def test_a_refused_probe_length_is_not_kept_as_a_fact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, melt: Callable[..., CliResult]
) -> None:
    monkeypatch.setenv("MELT_CACHE", str(tmp_path))  # where facts are kept
    r = melt("devices", "probe", "local", "--seconds", "-1")
    assert r.code == 2, r.err
    assert stored_probes("local") == {}
