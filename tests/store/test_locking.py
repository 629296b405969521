"""Another process holding the SQLite write lock: every write waits or retries, none is
lost, and a lock that never goes away ends in one line."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from tests.store.test_store import RUN, TURN

from melt.store import db, open_store, sqlite
from melt.store.failures import StoreUnavailable
from melt.store.samples import add_samples, run_samples
from melt.traces.sample import Sample

# Holds BEGIN EXCLUSIVE for argv[2] seconds (or, with "stdin", until stdin closes), and
# reports on stdout when it took and released the lock, on the shared monotonic clock.
LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", time.monotonic(), flush=True)
if sys.argv[2] == "stdin":
    sys.stdin.read()
else:
    time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
print("released", time.monotonic(), flush=True)
"""


@contextmanager
def locked(path: Path, hold: str) -> Iterator[subprocess.Popen[str]]:
    locker = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(path), hold],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert locker.stdout is not None
    word, _ = locker.stdout.readline().split()
    assert word == "locked"
    try:
        yield locker
    finally:
        assert locker.stdin is not None
        locker.stdin.close()
        locker.wait(timeout=30)


def released_at(locker: subprocess.Popen[str]) -> float:
    assert locker.stdout is not None
    word, at = locker.stdout.readline().split()
    assert word == "released"
    return float(at)


def _run(path: Path) -> tuple[db.Store, int]:
    store = open_store(str(path), write=True)
    exp = store.create_experiment("e", "melt bench", {})
    env = store.environment_id({"host": "h"})
    return store, store.create_run(experiment_id=exp, **{**RUN, "environment_id": env})


def _write_turns_and_samples(store: db.Store, run_id: int, n: int) -> float:
    """Write n turns and n sample batches; return when the first write committed."""
    first_done = 0.0
    for i in range(n):
        store.add_turn(run_id, [i, i + 1], **{**TURN, "turn_index": i})
        add_samples(store, run_id, [Sample(i, "cpu", "busy", 0.5, "fraction")])
        first_done = first_done or time.monotonic()
    return first_done


def test_writes_wait_for_another_process_holding_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "melt.db"
    store, run_id = _run(path)
    with locked(path, "2") as locker:
        first_done = _write_turns_and_samples(store, run_id, 10)
        assert first_done >= released_at(locker)  # the write waited for the lock
    assert [t["turn_index"] for t in store.turns(run_id)] == list(range(10))
    assert len(run_samples(store, run_id)) == 10


def test_writes_retry_when_the_busy_timeout_runs_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(sqlite, "BUSY_TIMEOUT_S", 0.2)
    path = tmp_path / "melt.db"
    store, run_id = _run(path)
    with caplog.at_level(logging.INFO, logger="melt.store"), locked(path, "2") as locker:
        first_done = _write_turns_and_samples(store, run_id, 5)
        assert first_done >= released_at(locker)
    assert any("retry 1" in r.getMessage() for r in caplog.records)
    assert [t["turn_index"] for t in store.turns(run_id)] == list(range(5))
    assert len(run_samples(store, run_id)) == 5


def test_a_lock_that_stays_is_one_line_after_its_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite, "BUSY_TIMEOUT_S", 0.05)
    monkeypatch.setenv("MELT_STORE_RETRY_S", "0.5")
    path = tmp_path / "melt.db"
    store, run_id = _run(path)
    with locked(path, "stdin"), pytest.raises(StoreUnavailable) as caught:
        store.add_turn(run_id, [1], **TURN)
    assert re.fullmatch(
        rf"the results store '{re.escape(str(path))}' stayed locked by another process "
        r"\(\d+ attempts over \d+ s\); stop the other writer or pass --store another path",
        str(caught.value),
    )
    assert store.turns(run_id) == []
