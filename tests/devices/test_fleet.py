"""`melt bench --device a,b,local`: one planned bench on two loopback-SSH boards and this
machine at once, into one store; a board whose sshd goes away mid-campaign fails alone."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from ssh_server import Sshd, start_sshd
from tests.waiting import wait_until

from melt.devices.inventory import load_inventory
from melt.errors import MeltError
from melt.execution.selection import select_devices

SRC = Path(__file__).resolve().parents[2] / "src"
BENCH = ["--max-new-tokens", "8", "--threads", "1", "--temperature", "0", "--warmup", "0"]


def _rows(db: Path, sql: str, *args: object) -> list[dict]:
    with sqlite3.connect(db, timeout=5) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(sql, args)]


@pytest.fixture
def second_sshd(tmp_path: Path) -> Iterator[Sshd]:
    server = start_sshd(tmp_path / "sshd-b")
    yield server
    server.stop()


@pytest.fixture
def fleet_inventory(
    tmp_path: Path, sshd: Sshd, second_sshd: Sshd, device_venv_python: Path
) -> Path:
    """Two SSH boards (each its own sshd and workdir), tagged `boards`, plus `local`."""
    known = tmp_path / "known_hosts"
    known.write_text(sshd.host_key_line() + second_sshd.host_key_line())
    devices = [
        {
            "name": name,
            "transport": "ssh",
            "host": "127.0.0.1",
            "port": server.port,
            "identity_file": str(server.client_key),
            "known_hosts": str(known),
            "python": str(device_venv_python),
            "workdir": str(tmp_path / f"workdir-{name}"),
            "tags": ["boards"],
        }
        for name, server in (("board-a", sshd), ("board-b", second_sshd))
    ]
    path = tmp_path / "melt-devices.yaml"
    path.write_text(yaml.safe_dump({"devices": devices}))
    return path


def test_selection_by_list_all_and_tag(fleet_inventory: Path) -> None:
    inv = load_inventory(fleet_inventory)
    assert select_devices("all", inv) == ["local", "board-a", "board-b"]
    assert select_devices("tag:boards,local", inv) == ["board-a", "board-b", "local"]
    assert select_devices("board-b,board-b,local", inv) == ["board-b", "local"]
    with pytest.raises(MeltError, match="no device in the inventory has tag 'jetson'"):
        select_devices("tag:jetson", inv)
    with pytest.raises(MeltError, match="no device named 'nope'"):
        select_devices("board-a,nope", inv)


def test_two_boards_and_local_run_one_bench_into_one_store(
    melt: Callable[..., object], fleet_inventory: Path, tmp_path: Path, workload_file
) -> None:
    workload = workload_file([["Name a colour.", "And another one?"]])
    db = tmp_path / "melt.db"
    result = melt(
        "bench",
        "--device",
        "tag:boards,local",
        "--devices",
        str(fleet_inventory),
        "--workload",
        str(workload),
        "--store",
        str(db),
        "--repeats",
        "2",
        *BENCH,
        "--json",
    )
    doc = result.json()
    ended = [
        {k: d[k] for k in ("device", "status", "error", "runs", "not_run")} for d in doc["devices"]
    ]
    assert result.code == 0, ended
    assert doc["all_completed"] is True
    assert [d["device"] for d in doc["devices"]] == ["board-a", "board-b", "local"]
    assert all(d["not_run"] == [] and d["error"] is None for d in doc["devices"])
    experiments = _rows(db, "select id, config from experiments")
    assert len(experiments) == 1  # planned once
    assert json.loads(experiments[0]["config"])["devices"] == ["board-a", "board-b", "local"]
    runs = _rows(db, "select * from runs order by id")
    assert {r["experiment_id"] for r in runs} == {experiments[0]["id"]}
    assert sorted(r["device"] for r in runs) == sorted(["board-a", "board-b", "local"] * 2)
    assert {r["status"] for r in runs} == {"completed"}
    # one run at a time per device: a device's runs never overlap in time
    for name in ("board-a", "board-b", "local"):
        mine = [r for r in runs if r["device"] == name]
        assert mine[0]["ended_at"] <= mine[1]["started_at"]
    # the same greedy model and prompts on every device: the same text
    texts = {
        r["device"]: [
            t["output_text"]
            for t in _rows(db, "select output_text from turns where run_id = ?", r["id"])
        ]
        for r in runs
        if r["repeat_index"] == 0
    }
    assert texts["board-a"] == texts["board-b"] == texts["local"]
    assert len(texts["local"]) == 2


def _fleet_process(inv: Path, db: Path, tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    """`melt bench --device board-a,board-b`, two long runs per board, as a user's process."""
    workload = tmp_path / "long.json"
    workload.write_text(json.dumps([[f"Tell me fact {i} about owls." for i in range(16)]]))
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    command = [sys.executable, "-m", "melt", "bench", "--device", "board-a,board-b"]
    command += ["--devices", str(inv), "--workload", str(workload)]
    command += ["--store", str(db), "--ctx", "4096", "--repeats", "2", *BENCH, "--json", *extra]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def _turns_on(db: Path, device: str) -> int:
    if not db.exists():
        return 0
    try:
        found = _rows(
            db,
            "select count(*) as n from turns join runs on runs.id = turns.run_id "
            "where runs.device = ?",
            device,
        )
    except sqlite3.Error:
        return 0
    return found[0]["n"]


@pytest.mark.slow
def test_a_board_lost_mid_campaign_fails_alone(
    fleet_inventory: Path, tmp_path: Path, second_sshd: Sshd
) -> None:
    db = tmp_path / "melt.db"
    proc = _fleet_process(fleet_inventory, db, tmp_path)
    try:
        assert wait_until(lambda: _turns_on(db, "board-b") >= 2, timeout_s=300), proc.stderr
        sessions = second_sshd.session_pids()
        assert sessions  # the controller's connections to board-b
        second_sshd.stop()  # no new connection to board-b ...
        for pid in sessions:  # ... and the open ones drop, as a cable pull would
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    runs = _rows(db, "select * from runs order by id")
    board_a = [r for r in runs if r["device"] == "board-a"]
    board_b = [r for r in runs if r["device"] == "board-b"]
    assert [r["status"] for r in board_a] == ["completed", "completed"]
    assert len(board_b) == 1  # its second run never started
    assert board_b[0]["status"] == "failed" and "board-b" in board_b[0]["error"]
    assert board_b[0]["ended_at"]
    kept = _rows(db, "select count(*) as n from turns where run_id = ?", board_b[0]["id"])
    assert kept[0]["n"] >= 2  # what it measured before the loss is kept
    doc = json.loads(out)
    by_device = {d["device"]: d for d in doc["devices"]}
    assert by_device["board-a"]["status"] == "completed"
    lost = by_device["board-b"]
    assert lost["status"] == "failed" and "board-b" in lost["error"]
    assert lost["runs"] == [
        {
            "run_id": board_b[0]["id"],
            "key": json.loads(board_b[0]["settings"])["run_key"],
            "status": "failed",
        }
    ]
    assert len(lost["not_run"]) == 1 and lost["not_run"][0].endswith("repeat 1")


def test_ctrl_c_stops_every_board_and_marks_their_runs_interrupted(
    fleet_inventory: Path, tmp_path: Path
) -> None:
    db = tmp_path / "melt.db"
    proc = _fleet_process(fleet_inventory, db, tmp_path)
    try:
        boards = ("board-a", "board-b")
        assert wait_until(lambda: all(_turns_on(db, d) for d in boards), 300), proc.stderr
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    runs = _rows(db, "select * from runs order by id")
    assert sorted(r["device"] for r in runs) == ["board-a", "board-b"]  # no new run after it
    assert {r["status"] for r in runs} == {"interrupted"}
    assert all(r["ended_at"] for r in runs)


def _runs_on(db: Path, device: str) -> list[dict]:
    if not db.exists():
        return []
    try:
        runs = _rows(db, "select * from runs where device = ? order by id", device)
        for run in runs:
            run["turns"] = _rows(db, "select count(*) as n from turns where run_id = ?", run["id"])[
                0
            ]["n"]
    except sqlite3.Error:
        return []
    return runs


def _measuring_attempt(db: Path, device: str, attempt: int) -> Callable[[], bool]:
    """The device's `attempt`-th run row (1-based) is running and has stored two turns."""

    def check() -> bool:
        runs = _runs_on(db, device)
        return len(runs) == attempt and runs[-1]["status"] == "running" and runs[-1]["turns"] >= 2

    return check


@pytest.mark.slow
def test_retries_run_a_dropped_run_again_at_most_n_times_and_never_a_completed_one(
    fleet_inventory: Path, tmp_path: Path, second_sshd: Sshd
) -> None:
    """board-b's connection drops three times, each time mid-run, its sshd staying up (a
    flaky cable): repeat 0 fails and its retry completes; repeat 1 fails, its one retry fails
    too, and no third attempt is made; repeat 0, completed, never runs again."""
    db = tmp_path / "melt.db"
    proc = _fleet_process(fleet_inventory, db, tmp_path, "--retries", "1")
    try:
        for attempt in (1, 3, 4):  # row 2 is repeat 0's retry, left to complete
            assert wait_until(_measuring_attempt(db, "board-b", attempt), 300), proc.stderr
            assert second_sshd.drop_connections() > 0
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    board_a, board_b = _runs_on(db, "board-a"), _runs_on(db, "board-b")
    assert [r["status"] for r in board_a] == ["completed", "completed"]
    assert [r["status"] for r in board_b] == ["failed", "completed", "failed", "failed"]
    assert [r["repeat_index"] for r in board_b] == [0, 0, 1, 1]
    keys = [json.loads(r["settings"])["run_key"] for r in board_b]
    assert keys[0] == keys[1] != keys[2] == keys[3]
    assert all(r["turns"] >= 2 for r in board_b if r["status"] == "failed")  # kept
    completed = [
        json.loads(r["settings"])["run_key"]
        for r in board_a + board_b
        if r["status"] == "completed"
    ]
    assert len(completed) == len(set(completed)) == 3  # one completed row per key
    lost = {d["device"]: d for d in json.loads(out)["devices"]}["board-b"]
    assert lost["status"] == "failed" and lost["not_run"] == []
    assert [r["status"] for r in lost["runs"]] == ["failed", "completed", "failed", "failed"]


def test_negative_retries_is_one_line_before_anything_is_written(
    melt: Callable[..., object], tmp_path: Path
) -> None:
    db = tmp_path / "melt.db"
    result = melt("bench", "--device", "local", "--retries", "-1", "--store", str(db), *BENCH)
    assert result.code == 2
    assert result.err.strip() == "melt: error: --retries must be 0 or more (got -1)"
    assert not db.exists()
