"""A run that no process will finish: a real writer killed with SIGKILL mid-run is shown as
`abandoned`, never as running or complete."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import update
from tests.store.test_store import RUN, TURN

from melt.store import open_store, schema
from melt.store.export import run_document
from melt.store.liveness import ABANDONED_AFTER_S

# A bench-like writer: a run with one turn, then it waits (mid-run) until killed.
WRITER = f"""
import sys
from melt.store import open_store
store = open_store(sys.argv[1], write=True)
exp = store.create_experiment("e", "melt bench", {{}})
env = store.environment_id({{"host": "h"}})
run_id = store.create_run(experiment_id=exp, **{{**{RUN!r}, "environment_id": env}})
store.add_turn(run_id, [1, 2, 3], **{TURN!r})
print(run_id, flush=True)
sys.stdin.read()
"""


def test_a_run_whose_writer_was_killed_is_abandoned(tmp_path: Path) -> None:
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    run_id = int(writer.stdout.readline())
    store = open_store(str(tmp_path), create=False)
    live = store.run(run_id)
    assert live["status"] == "running"
    assert live["pid"] == writer.pid and live["heartbeat_at"] is not None
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    dead = store.run(run_id)
    assert (dead["status"], dead["recorded_status"]) == ("abandoned", "running")
    assert [r["status"] for r in store.list_runs()] == ["abandoned"]
    document = run_document(store, run_id)
    assert document["status"] == "abandoned" and len(document["turns"]) == 1


def _run_row(tmp_path: Path, **columns: object) -> tuple[object, int]:
    store = open_store(str(tmp_path), write=True)
    exp = store.create_experiment("e", "melt bench", {})
    env = store.environment_id({"host": "h"})
    run_id = store.create_run(experiment_id=exp, **{**RUN, "environment_id": env})
    if columns:
        with store.engine.begin() as conn:
            runs = schema.runs
            conn.execute(update(runs).where(runs.c.id == run_id).values(**columns))
    return store, run_id


def _iso(delta_s: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=delta_s)).isoformat()


def test_this_process_running_run_is_running(tmp_path: Path) -> None:
    store, run_id = _run_row(tmp_path)
    assert store.run(run_id)["status"] == "running"
    assert store.run(run_id)["pid"] == os.getpid()


def test_a_reused_pid_does_not_keep_a_run_alive(tmp_path: Path) -> None:
    # This process's pid, but the run started before this process existed.
    store, run_id = _run_row(tmp_path, started_at="2000-01-01T00:00:00.000+00:00")
    assert store.run(run_id)["status"] == "abandoned"


def test_another_hosts_run_is_judged_by_its_heartbeat(tmp_path: Path) -> None:
    store, run_id = _run_row(tmp_path, host="elsewhere", heartbeat_at=_iso(-30))
    assert store.run(run_id)["status"] == "running"
    stale = _iso(-ABANDONED_AFTER_S - 60)
    with store.engine.begin() as conn:
        conn.execute(update(schema.runs).values(heartbeat_at=stale))
    assert store.run(run_id)["status"] == "abandoned"


def test_heartbeat_moves_with_each_turn(tmp_path: Path) -> None:
    store, run_id = _run_row(tmp_path, heartbeat_at="2000-01-01T00:00:00.000+00:00")
    store.add_turn(run_id, [1], **TURN)
    assert store.run(run_id)["heartbeat_at"] > "2026"


def test_finished_runs_are_left_alone(tmp_path: Path) -> None:
    store, run_id = _run_row(tmp_path, pid=2**22 + 12345)  # beyond pid_max: no such process
    store.finish_run(run_id, "failed", "boom")
    assert store.run(run_id)["status"] == "failed"
