"""Issue 13's classes end to end through the CLI: the record says what ran, rates the sampler
cannot keep are refused before anything exists, and a bad input is one line."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest


def test_warmup_beyond_the_workload_records_the_turns_that_ran(
    melt: Callable[..., object], two_turns: Path, tmp_path: Path
) -> None:
    store = tmp_path / "res"
    args = ("--workload", str(two_turns), "--warmup", "100", "--max-new-tokens", "2")
    r = melt("bench", *args, "--threads", "1", "--store", str(store))
    assert r.code == 0, r.err
    assert "2 warmup turn(s) per run" in r.out and "100 warmup" not in r.out
    with sqlite3.connect(store / "melt.db") as db:
        assert db.execute("select warmup_turns from runs").fetchall() == [(2,)]
        warm = db.execute("select count(*) from turns where warmup = 1").fetchone()
    assert warm == (2,)


@pytest.mark.parametrize(
    ("rate", "message"),
    [
        ("nan", "--probe-rate must be a positive number of Hz (got nan)"),
        ("inf", "--probe-rate must be a positive number of Hz (got inf)"),
        ("100000", "--probe-rate 100000 Hz is above the 100 Hz the sampler can keep"),
    ],
)
def test_probe_rates_it_cannot_keep_are_refused_before_anything_runs(
    melt: Callable[..., object], tmp_path: Path, rate: str, message: str
) -> None:
    store = tmp_path / "res"
    r = melt("bench", "--probe-rate", rate, "--store", str(store))
    assert r.code == 2
    assert r.err.startswith("melt: error: ") and message in r.err and r.err.count("\n") == 1
    assert not store.exists()


def test_sampling_of_the_wrong_shape_with_a_sampling_flag_is_one_line(
    melt: Callable[..., object], tmp_path: Path
) -> None:
    config = tmp_path / "exp.yaml"
    config.write_text("sampling: 5\n")
    r = melt("bench", "--config", str(config), "--seed", "3", "--store", str(tmp_path / "s"))
    assert r.code == 2 and r.err.count("\n") == 1
    assert f"experiment file '{config}': sampling must be a mapping like {{seed: 5}}" in r.err


def test_a_binary_forced_as_monsoon_is_one_line_and_stores_no_run(
    melt: Callable[..., object], tmp_path: Path
) -> None:
    binary = tmp_path / "random.bin"
    binary.write_bytes(bytes(range(256)) * 16)
    store = tmp_path / "res"
    r = melt("import", str(binary), "--format", "monsoon", "--store", str(store))
    assert r.code == 2 and r.err.count("\n") == 1
    assert (
        f"import source '{binary}' line 2 column 118: byte 0x80 is not UTF-8" in r.err
    )  # byte 10 is a newline
    listed = melt("runs", "list", "--store", str(store))
    assert "imported" not in listed.out
