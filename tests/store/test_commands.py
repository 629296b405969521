"""The store as melt's commands open it: writers prove they can write before any work,
readers never create a store, and each mistake is one line."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.cli.test_eval import write_task
from tests.store.filesystems import remount_read_only
from tests.store.test_locking import locked, released_at
from tests.store.test_store import make_run

from melt.store import open_store

FIXTURES = Path(__file__).parents[1] / "fixtures" / "melt"
SRC = Path(__file__).parents[2] / "src"
TINY = ("--max-new-tokens", "4", "--conversations", "1", "--threads", "1")


def one_line(result: object) -> str:
    err = result.err.strip()  # type: ignore[attr-defined]
    assert result.code == 2, err  # type: ignore[attr-defined]
    assert err.startswith("melt: error: ") and "\n" not in err, err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_bench_refuses_an_in_memory_store(melt: Callable[..., object], url: str) -> None:
    err = one_line(melt("bench", *TINY, "--store", url))
    assert "in-memory database: everything written to it is lost when melt exits" in err


@pytest.fixture
def read_only_store(tmpfs: Callable[[str], Path]) -> Path:
    """A store with one run on a filesystem then remounted read-only."""
    folder = tmpfs("4m")
    store, _ = make_run(folder / "melt.db")
    store.engine.dispose()
    remount_read_only(folder)
    return folder


def _runs(folder: Path) -> int:
    return len(open_store(str(folder), create=False).list_runs(None))


def test_eval_on_a_read_only_store_fails_before_scoring(
    melt: Callable[..., object], read_only_store: Path, tmp_path: Path
) -> None:
    task = write_task(tmp_path)
    result = melt("eval", "--tasks", str(task), "--threads", "1", "--store", str(read_only_store))
    err = one_line(result)
    assert f"cannot write the results store '{read_only_store}'" in err
    # Nothing scored: no progress, no summary, only the line.
    assert "read-only" in err and result.out == ""  # type: ignore[attr-defined]


def test_bench_and_import_on_a_read_only_store_fail_with_one_line(
    melt: Callable[..., object], read_only_store: Path
) -> None:
    for args in (
        ("bench", *TINY),
        ("import", str(FIXTURES / "llamacpp" / "timings_sigint.log")),
    ):
        err = one_line(melt(*args, "--store", str(read_only_store)))
        assert "read-only" in err
    assert _runs(read_only_store) == 1


@pytest.mark.parametrize(
    "args",
    [
        ("runs", "list"),
        ("runs", "show", "1"),
        ("runs", "export", "1"),
        ("report", "1"),
        ("profile", "1"),
    ],
)
def test_read_commands_never_create_a_store(
    melt: Callable[..., object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple
) -> None:
    monkeypatch.chdir(tmp_path)
    err = one_line(melt(*args, "--store", "typo/"))
    assert err == (
        "melt: error: no results store at 'typo/' (run melt bench first or pass --store)"
    )
    assert list(tmp_path.iterdir()) == []


def test_run_ids_and_limits_out_of_range(melt: Callable[..., object], tmp_path: Path) -> None:
    store = str(tmp_path / "melt.db")
    make_run(Path(store))
    for run_id in ("99999", str(2**63), str(2**70)):
        for command in (("runs", "show"), ("runs", "export"), ("report",), ("profile",)):
            err = one_line(melt(*command, run_id, "--store", store))
            # past 64 bits no store can hold the id: either answer is one true line
            assert f"no run with id {run_id} in" in err or (
                int(run_id) >= 2**63 and f"'{run_id}' cannot be a stored id" in err
            ), err
    err = one_line(melt("runs", "list", "--limit", "-5", "--store", store))
    assert "--limit must be at least 1 (got -5)" in err


def test_runs_list_shows_a_killed_bench_as_abandoned(
    melt: Callable[..., object], tmp_path: Path
) -> None:
    from tests.store.test_liveness import WRITER

    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    run_id = writer.stdout.readline().strip()
    assert "running" in melt("runs", "list", "--store", str(tmp_path)).out  # type: ignore[attr-defined]
    writer.kill()
    writer.wait(timeout=30)
    listed = melt("runs", "list", "--store", str(tmp_path))
    assert "abandoned" in listed.out and "running" not in listed.out  # type: ignore[attr-defined]
    exported = melt("runs", "export", run_id, "--store", str(tmp_path))
    assert json.loads(exported.out)["status"] == "abandoned"  # type: ignore[attr-defined]


def _wait_for_turns(path: Path, n: int, bench: subprocess.Popen, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while True:
        if path.exists():
            with sqlite3.connect(path) as conn:
                tables = {t for (t,) in conn.execute("select name from sqlite_master")}
                if (
                    "turns" in tables
                    and conn.execute("select count(*) from turns").fetchone()[0] >= n
                ):
                    return
        assert bench.poll() is None, "bench ended before its first turn"
        assert time.monotonic() < deadline, f"no {n} turns within {within_s} s"
        time.sleep(0.05)  # polling a condition with a deadline


@pytest.mark.slow
def test_a_lock_held_mid_bench_loses_no_turn(tmp_path: Path) -> None:
    workload = tmp_path / "w.json"
    workload.write_text(json.dumps([["Say hi.", "Say bye.", "Say yes.", "Say no."]]))
    store = tmp_path / "melt.db"
    bench = subprocess.Popen(
        [sys.executable, "-m", "melt", "bench", "--workload", str(workload), "--warmup", "0",
         "--max-new-tokens", "4", "--threads", "1", "--store", str(store)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), str(SRC.parent)])},
    )  # fmt: skip
    _wait_for_turns(store, 1, bench, 300)
    with locked(store, "2") as locker:  # the next turns and sample batches wait for it
        released_at(locker)
    _, err = bench.communicate(timeout=300)
    assert bench.returncode == 0, err
    assert "Traceback" not in err
    reader = open_store(str(store), create=False)
    (run,) = reader.list_runs()
    assert run["status"] == "completed"
    turns = reader.turns(run["id"])
    assert [t["turn_index"] for t in turns] == [0, 1, 2, 3]
