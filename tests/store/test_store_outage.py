"""A store that goes away mid-run: a real PostgreSQL server stopped under a run (and started
again within the retry window, or not), an SQLite store whose tmpfs fills up. A run either
gets its final status or a one-line `StoreUnavailable`, and then the store's next open marks
it abandoned with the reason."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.bench_process import LONG_CONVERSATION, SRC, BenchProcess
from tests.store.conftest import PostgresServer, new_database
from tests.store.filesystems import fill
from tests.store.test_postgres import _has_turn
from tests.store.test_store import RUN, TURN
from tests.waiting import wait_until

from melt.errors import MeltError
from melt.store import open_store
from melt.store.db import Store
from melt.store.failures import StoreUnavailable
from melt.store.liveness import this_process
from melt.store.samples import add_samples, run_samples
from melt.store.unfinished import journal_path
from melt.traces.sample import Sample

RETRY_ENV = "MELT_STORE_RETRY_S"


def _start_run(store: Store) -> int:
    exp = store.create_experiment("e", "melt bench", {})
    env = store.environment_id({"host": "h"})
    run_id = store.create_run(experiment_id=exp, **{**RUN, "environment_id": env})
    store.add_turn(run_id, [1, 2], **TURN)
    return run_id


class _Seen(logging.Handler):
    """Sets an event when a log record's message contains `text`."""

    def __init__(self, text: str) -> None:
        super().__init__(logging.INFO)
        self.text = text
        self.event = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.event.set()


@pytest.fixture
def store_retries_logged(caplog: pytest.LogCaptureFixture) -> Iterator[_Seen]:
    """An event set when the store logs that it waits for its lost server."""
    seen = _Seen("results store unreachable")
    logger = logging.getLogger("melt.store")
    logger.addHandler(seen)
    with caplog.at_level(logging.INFO, logger="melt.store"):
        yield seen
    logger.removeHandler(seen)


def _journal_lines() -> list[dict[str, object]]:
    path = journal_path()
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_postgres_restart_within_the_window_loses_nothing(
    restartable_postgres: PostgresServer,
    store_retries_logged: _Seen,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(RETRY_ENV, "300")  # far longer than a restart on a loaded machine
    url = new_database(restartable_postgres.url)
    store = open_store(url, write=True)
    run_id = _start_run(store)
    restartable_postgres.stop()
    failures: list[BaseException] = []

    def write_while_down() -> None:
        try:
            store.add_turn(run_id, [3, 4], **{**TURN, "turn_index": 1})
            add_samples(store, run_id, [Sample(5, "cpu", "busy", 0.5, "fraction")])
        except BaseException as exc:
            failures.append(exc)

    writer = threading.Thread(target=write_while_down)
    writer.start()
    # The write met the stopped server and waits for it (or, on a store that gives up, ended).
    assert wait_until(lambda: store_retries_logged.event.is_set() or not writer.is_alive(), 60)
    assert writer.is_alive(), failures
    restartable_postgres.start()
    writer.join(timeout=300)
    assert not writer.is_alive() and failures == []
    store.finish_run(run_id, "completed")
    run = open_store(url, create=False).run(run_id)
    assert run["status"] == "completed"
    assert [t["turn_index"] for t in store.turns(run_id)] == [0, 1]
    assert [s.value for s in run_samples(store, run_id)] == [0.5]


def test_a_postgres_server_gone_past_the_window_is_one_line_and_the_run_abandoned(
    restartable_postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(RETRY_ENV, "1")
    url = new_database(restartable_postgres.url)
    store = open_store(url, write=True)
    run_id = _start_run(store)
    restartable_postgres.stop()
    with pytest.raises(StoreUnavailable) as lost:
        store.add_turn(run_id, [3, 4], **{**TURN, "turn_index": 1})
    message = str(lost.value)
    assert message.startswith(f"lost the connection to the results store '{url}' and it did")
    assert "check that the server is running" in message and "\n" not in message
    with pytest.raises(StoreUnavailable) as unfinished:  # at once: the outage's window is over
        store.finish_run(run_id, "failed", error=message)
    said = str(unfinished.value)
    assert said.startswith(f"lost the connection to the results store '{url}'")
    assert "\n" not in said
    assert f"run {run_id} is left without its final status 'failed'" in said
    assert "marks it abandoned" in said
    assert [e["run_id"] for e in _journal_lines() if e["store"] == store.location.key] == [run_id]

    restartable_postgres.start()
    run = open_store(url, create=False).run(run_id)
    assert run["status"] == run["recorded_status"] == "abandoned"
    assert run["error"].startswith("its final status ('failed') could not be written at ")
    assert "lost the connection to the results store" in run["error"]
    assert run["ended_at"] is not None
    assert [e for e in _journal_lines() if e["store"] == store.location.key] == []


def test_a_store_whose_disk_fills_mid_run_is_abandoned_with_the_reason(
    tmpfs: Callable[[str], Path],
) -> None:
    folder = tmpfs("1m")
    store = open_store(str(folder), write=True)
    run_id = _start_run(store)
    fill(folder)
    with pytest.raises(StoreUnavailable) as full:
        for i in range(1000):  # a write may fit in a free page of the journal; not all do
            store.add_turn(run_id, list(range(2000)), **{**TURN, "turn_index": i + 1})
    assert "free space on its disk" in str(full.value)
    # The run's summary does not fit in what is left either.
    summary = {"aggregates": {"per_turn": list(range(200_000))}}
    with pytest.raises(StoreUnavailable) as unfinished:
        store.finish_run(run_id, "failed", error=str(full.value), summary=summary)
    said = str(unfinished.value)
    assert f"run {run_id} is left without its final status 'failed'" in said
    assert "\n" not in said
    store.engine.dispose()

    (folder / "filler").unlink()
    run = open_store(str(folder), create=False).run(run_id)
    assert run["status"] == run["recorded_status"] == "abandoned"
    assert "could not be written" in run["error"] and "free space on its disk" in run["error"]
    assert "the run's own error: cannot write the results store" in run["error"]


def test_the_journal_settles_only_its_own_stores_runs_of_their_own_writer(
    tmp_path: Path,
) -> None:
    stores = [open_store(str(tmp_path / name), write=True) for name in ("a.db", "b.db")]
    runs = [_start_run(store) for store in stores]
    writer = this_process()
    entry = {"status": "completed", "error": None, "reason": "r", "at": "2026-01-01T00:00Z"}
    lines = [
        {**entry, **writer, "store": stores[0].location.key, "run_id": runs[0], "pid": 1},
        {**entry, **writer, "store": stores[1].location.key, "run_id": runs[1]},
    ]
    journal_path().parent.mkdir(parents=True, exist_ok=True)
    journal_path().write_text("".join(json.dumps(line) + "\n" for line in lines))

    open_store(str(tmp_path / "a.db"), create=False)
    assert stores[0].run(runs[0])["status"] == "running"  # another writer's run: untouched
    assert stores[1].run(runs[1])["status"] == "running"  # another store's line stays
    assert [line["run_id"] for line in _journal_lines()] == [runs[1]]
    open_store(str(tmp_path / "b.db"), create=False)
    assert stores[1].run(runs[1])["status"] == "abandoned"
    assert _journal_lines() == []


@pytest.mark.parametrize("value", ["soon", "-1", "nan", "inf"])
def test_a_bad_retry_window_is_one_line(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(RETRY_ENV, value)
    with pytest.raises(MeltError) as caught:
        open_store(str(tmp_path), write=True)
    assert str(caught.value).startswith(f"{RETRY_ENV}='{value}' is not a number of seconds")
    assert not (tmp_path / "melt.db").exists()


class _Bench:
    """A `melt -v bench` subprocess on a PostgreSQL store; its stderr read as it comes, so a
    test can wait for a line."""

    def __init__(self, url: str, workload: Path, retry_s: str) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(SRC), str(SRC.parent)]),
            "COLUMNS": "1000",  # one log record, one line
            RETRY_ENV: retry_s,
        }
        argv = [sys.executable, "-m", "melt", "-v", "bench", "--workload", str(workload)]
        argv += ["--max-new-tokens", "8", "--threads", "1", "--warmup", "0", "--store", url]
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
        )
        self.lines: list[str] = []
        self.waiting = threading.Event()
        self._reader = threading.Thread(target=self._read)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            if "results store unreachable" in line:
                self.waiting.set()

    def wait_for_a_turn(self, url: str) -> None:
        stored = wait_until(lambda: _has_turn(url) or self.proc.poll() is not None, 600)
        assert stored and self.proc.poll() is None, "".join(self.lines)

    def end(self) -> tuple[int, str]:
        code = self.proc.wait(timeout=600)
        self._reader.join(timeout=60)
        return code, "".join(self.lines)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=60)


@pytest.fixture
def long_workload(tmp_path: Path) -> Path:
    path = tmp_path / "long.json"
    path.write_text(json.dumps(LONG_CONVERSATION))
    return path


@pytest.mark.slow
def test_a_bench_whose_postgres_restarts_mid_run_completes(
    restartable_postgres: PostgresServer, long_workload: Path
) -> None:
    url = new_database(restartable_postgres.url)
    bench = _Bench(url, long_workload, "300")
    try:
        bench.wait_for_a_turn(url)
        restartable_postgres.stop()
        assert wait_until(lambda: bench.waiting.is_set() or bench.proc.poll() is not None, 300)
        assert bench.proc.poll() is None, "".join(bench.lines)  # it waits for its server
        restartable_postgres.start()
        code, err = bench.end()
    finally:
        bench.kill()
    assert code == 0, err
    (run,) = open_store(url, create=False).list_runs()
    assert run["status"] == "completed"
    turns = open_store(url, create=False).turns(run["id"])
    assert len(turns) == len(LONG_CONVERSATION[0]) == run["summary"]["aggregates"]["turns"]


@pytest.mark.slow
def test_a_bench_whose_postgres_stays_down_says_so_and_the_run_is_abandoned(
    restartable_postgres: PostgresServer, long_workload: Path
) -> None:
    url = new_database(restartable_postgres.url)
    bench = _Bench(url, long_workload, "2")
    try:
        bench.wait_for_a_turn(url)
        restartable_postgres.stop()
        code, err = bench.end()
    finally:
        bench.kill()
    assert code != 0 and "Traceback" not in err, err
    (said,) = [line for line in err.splitlines() if line.startswith("melt: error:")]
    assert said.startswith(f"melt: error: lost the connection to the results store '{url}'")
    assert "is left without its final status 'failed'" in said and "marks it abandoned" in said
    restartable_postgres.start()
    (run,) = open_store(url, create=False).list_runs()
    assert run["status"] == run["recorded_status"] == "abandoned"
    assert "lost the connection to the results store" in run["error"]
    assert run["ended_at"] is not None


@pytest.mark.slow
def test_a_bench_whose_disk_fills_mid_run_leaves_no_run_running(
    tmpfs: Callable[[str], Path], long_workload: Path
) -> None:
    folder = tmpfs("4m")
    store = folder / "melt.db"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), str(SRC.parent)])}
    argv = [sys.executable, "-m", "melt", "bench", "--workload", str(long_workload)]
    argv += ["--max-new-tokens", "8", "--threads", "1", "--warmup", "0", "--store", str(store)]
    bench = BenchProcess(
        subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env),
        store,
    )
    try:
        bench.wait_for_turns(1, 600)
        fill(folder)
        _, err = bench.proc.communicate(timeout=600)
    finally:
        if bench.proc.poll() is None:
            bench.proc.kill()
    assert "Traceback" not in err, err
    (folder / "filler").unlink()
    (run,) = open_store(str(store), create=False).list_runs()
    # Its final status if it fitted, else abandoned by this open: never running, never silent.
    assert run["recorded_status"] in ("failed", "abandoned"), run
    assert "free space on its disk" in run["error"]
