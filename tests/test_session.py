"""Interrupted and failed runs keep every completed turn and say how they ended."""

import sqlite3
from pathlib import Path

import pytest

from melt.config import Cell, RunSettings
from melt.execution.bench import run_bench
from melt.execution.request import BenchRequest
from melt.results import RunResult
from melt.traces import TurnTrace
from melt.workloads import Conversation


class StopAfter:
    """An observer that raises once `n` turns are done, as Ctrl-C or a crash would."""

    def __init__(self, n: int, error: BaseException) -> None:
        self.n, self.error, self.seen = n, error, 0
        self.finished: list[RunResult] = []

    def preparing(self, message: str) -> None: ...

    def run_started(self, run_id: int, index: int, total: int, label: str) -> None: ...

    def conversation_started(self, c: Conversation, i: int, total: int, warmup: bool) -> None: ...

    def turn_done(self, trace: TurnTrace, metrics: object) -> None:
        self.seen += 1
        if self.seen == self.n:
            raise self.error

    def run_finished(self, result: RunResult) -> None:
        self.finished.append(result)


def request(store: Path, workload: Path) -> BenchRequest:
    return BenchRequest(
        cells=(Cell("smollm2-135m-instruct", None, RunSettings(threads=2, max_new_tokens=6)),),
        workload=str(workload),
        warmup_turns=1,
        store=str(store),
    )


@pytest.fixture
def workload(workload_file) -> Path:  # type: ignore[no-untyped-def]
    return workload_file([["Hi.", "Tell me a joke.", "Another."], ["Bye."]])


@pytest.mark.parametrize(
    ("error", "status", "message"),
    [
        (KeyboardInterrupt(), "interrupted", "Ctrl-C"),
        (RuntimeError("disk on fire"), "failed", "RuntimeError: disk on fire"),
    ],
)
def test_run_ends_with_status_and_keeps_turns(
    tmp_path: Path, workload: Path, error: BaseException, status: str, message: str
) -> None:
    store = tmp_path / "melt.db"
    observer = StopAfter(3, error)  # warmup turn + 2 measured turns
    with pytest.raises(type(error)):
        run_bench(request(store, workload), observer)
    with sqlite3.connect(store) as db:
        got_status, got_error = db.execute("select status, error from runs").fetchone()
        turns = db.execute("select warmup, turn_index from turns order by id").fetchall()
    assert got_status == status and message in got_error
    assert turns == [(1, 0), (0, 0), (0, 1)]
    assert observer.finished[0].status == status
    assert observer.finished[0].aggregates.turns == 2
