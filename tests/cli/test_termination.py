"""SIGTERM and SIGHUP end a run like Ctrl-C does: a final status, its turns and the sampler's
record kept; a signal that a C callback swallowed is raised again at the next turn."""

from __future__ import annotations

import os
import signal
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.bench_process import BenchProcess, measured_turns

from melt import interrupts


@pytest.mark.parametrize(
    ("signum", "code", "why"), [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGHUP, 129, "SIGHUP")]
)
def test_signal_marks_run_terminated_and_keeps_turns_and_sampler_record(
    bench_process: Callable[..., BenchProcess], signum: int, code: int, why: str
) -> None:
    bench = bench_process()
    bench.wait_for_turns(2, timeout_s=240)
    proc, db = bench.proc, bench.store
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert "terminated" in err and "Traceback" not in err
    with sqlite3.connect(db) as conn:
        status, error, ended = conn.execute("select status, error, ended_at from runs").fetchone()
        kept = conn.execute("select count(*) from turns").fetchone()[0]
        sampling = conn.execute("select count(*) from sampling").fetchone()[0]
    assert status == "terminated" and why in error and ended
    assert 2 <= kept < 40 and sampling == 1


def test_a_swallowed_signal_is_raised_again() -> None:
    previous = interrupts.install()
    try:
        try:  # as ctypes does with an exception raised inside a C callback
            # POSIX delivers a signal sent to oneself before kill() returns; Python's
            # handler then raises at the next bytecode, still inside this block
            os.kill(os.getpid(), signal.SIGTERM)
            raise AssertionError("the handler did not run")
        except interrupts.Terminated:
            pass
        with pytest.raises(interrupts.Terminated) as caught:
            interrupts.raise_if_pending()
        assert caught.value.exit_code == 143
    finally:
        interrupts.restore(previous)
    interrupts.raise_if_pending()  # restore() forgets it: nothing pending any more


def test_thread_counts_beyond_the_device_are_refused(
    melt: Callable[..., object], tmp_path: Path
) -> None:
    cores = os.cpu_count() or 1
    result = melt("bench", "--threads", str(cores + 1), "--store", str(tmp_path / "m.db"))
    assert result.code == 2
    assert f"has {cores} logical cores" in result.err and "--allow-oversubscribe" in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert not (tmp_path / "m.db").exists() or measured_turns(tmp_path / "m.db") == 0


def test_a_missing_sysfs_root_is_refused(melt: Callable[..., object], tmp_path: Path) -> None:
    result = melt("bench", "--sysfs-root", str(tmp_path / "nope"), "--store", str(tmp_path / "m"))
    assert result.code == 2 and "--sysfs-root" in result.err and "not a directory" in result.err


def test_a_signal_inside_a_store_write_waits_for_its_commit(tmp_path: Path) -> None:
    """Raised inside the driver or SQLAlchemy's pool, a signal cut a transaction or a
    connection's reset in half ("Exception during reset" and a traceback in the log); held
    until the write ends, the row is committed and the signal raised right after it."""
    from sqlalchemy import insert

    from melt.store import open_store, schema

    store = open_store(str(tmp_path / "melt.db"), write=True)
    went_on: list[str] = []

    def insert_then_signal(conn: Any) -> None:
        conn.execute(
            insert(schema.experiments).values(created_at="t", name="held", command="c", config={})
        )
        os.kill(os.getpid(), signal.SIGINT)  # delivered before kill() returns
        went_on.append("insert")
        store.list_runs()  # a nested store block inside: still held
        went_on.append("nested read")

    previous = interrupts.install()
    try:
        with pytest.raises(KeyboardInterrupt):
            store.write(insert_then_signal)
        store.write(lambda conn: went_on.append("next write"))  # raised once, not again
    finally:
        interrupts.restore(previous)
    assert went_on == ["insert", "nested read", "next write"]
    with sqlite3.connect(tmp_path / "melt.db") as conn:
        assert conn.execute("select name from experiments").fetchall() == [("held",)]
