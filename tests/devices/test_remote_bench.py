"""`melt bench --device` on a loopback SSH board running the real bundled model, and the
faults a remote run must survive (each leaves a final status and keeps what it measured)."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from ssh_server import Sshd
from tests.bench_process import BenchProcess
from tests.waiting import wait_until

BENCH = ["--max-new-tokens", "8", "--threads", "1", "--temperature", "0", "--warmup", "0"]


def _runs(db: Path) -> list[dict]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("select * from runs order by id")]


def _turns(db: Path) -> list[dict]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("select * from turns order by id")]


def test_remote_run_matches_the_local_one(
    melt: Callable[..., object], inventory: Callable[..., Path], tmp_path: Path, workload_file
) -> None:
    workload = workload_file([["Name a colour.", "And another one?"]])
    db = tmp_path / "melt.db"
    inv = inventory()
    common = ["--workload", str(workload), "--store", str(db), *BENCH]
    remote = melt("bench", "--device", "board", "--devices", str(inv), *common, "--json")
    assert remote.code == 0, remote.err
    local = melt("bench", *common, "--json")
    assert local.code == 0, local.err
    runs = _runs(db)
    assert [r["device"] for r in runs] == ["board", "local"]
    assert [r["status"] for r in runs] == ["completed", "completed"]
    board_settings = json.loads(runs[0]["settings"])["device_run"]
    assert board_settings["transport"] == "ssh"
    offset = board_settings["clock_offset"]
    assert abs(offset["offset_ns"]) <= offset["uncertainty_ns"]  # loopback: same clock
    assert board_settings["deploy"]["bytes_pushed"] > 90 * 2**20  # first run: model + runner
    turns = _turns(db)
    by_run = {r["id"]: [t for t in turns if t["run_id"] == r["id"]] for r in runs}
    remote_turns, local_turns = by_run[runs[0]["id"]], by_run[runs[1]["id"]]
    # greedy decoding of the same model and prompts: the same tokens, the same text
    assert [t["output_text"] for t in remote_turns] == [t["output_text"] for t in local_turns]
    assert [t["prompt_tokens"] for t in remote_turns] == [t["prompt_tokens"] for t in local_turns]
    assert [t["prompt_tokens_reused"] for t in remote_turns][1] > 0  # KV kept between turns
    assert all(t["decode_tok_per_s"] and t["decode_tok_per_s"] > 0 for t in remote_turns)
    assert runs[0]["peak_rss_bytes"] > 90 * 2**20  # the runner's VmHWM, read on the device
    with sqlite3.connect(db) as conn:
        samples = conn.execute(
            "select count(*) from samples where run_id = ?", (runs[0]["id"],)
        ).fetchone()[0]
        env = json.loads(
            conn.execute(
                "select facts from environments where id = ?", (runs[0]["environment_id"],)
            ).fetchone()[0]
        )
    assert samples > 0  # sampled on the device, streamed back
    assert env["device"] == "board" and env["transport"] == "ssh"
    # the second run on the board pushes nothing
    again = melt("bench", "--device", "board", "--devices", str(inv), *common, "--json")
    assert again.code == 0, again.err
    third = _runs(db)[-1]
    assert json.loads(third["settings"])["device_run"]["deploy"]["bytes_pushed"] == 0


def test_a_device_python_without_llama_cpp_is_one_line(
    melt: Callable[..., object], inventory: Callable[..., Path], tmp_path: Path
) -> None:
    inv = inventory(python="/usr/bin/python3")
    result = melt(
        "bench",
        "--device",
        "board",
        "--devices",
        str(inv),
        "--store",
        str(tmp_path / "m.db"),
        *BENCH,
    )
    assert result.code == 1  # the device lacks what the run needs: a device fault
    assert "has no llama-cpp-python; install it there" in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_no_space_on_the_device_is_one_line_before_copying(
    melt: Callable[..., object], inventory: Callable[..., Path], tmp_path: Path
) -> None:
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(small)], check=True)
    try:
        inv = inventory(workdir=str(small))
        result = melt(
            "bench",
            "--device",
            "board",
            "--devices",
            str(inv),
            "--store",
            str(tmp_path / "m.db"),
            *BENCH,
            "--conversations",
            "1",
        )
        assert result.code == 1
        assert "MiB free" in result.err and "needs" in result.err
        assert not list(small.glob("models/*.partial"))
    finally:
        subprocess.run(["umount", str(small)], check=True)


def _runner_pids(sshd: Sshd) -> list[int]:
    out = subprocess.run(
        ["pgrep", "-f", "runner-.*\\.pyz serve"], capture_output=True, text=True, check=False
    ).stdout
    return [int(p) for p in out.split()]


def _on_board(bench_process: Callable[..., BenchProcess], inv: Path) -> BenchProcess:
    """A greedy bench on the loopback board, two turns committed."""
    bench = bench_process("--device", "board", "--devices", str(inv), "--temperature", "0")
    bench.wait_for_turns(2, timeout_s=240)
    return bench


def test_connection_drop_mid_run_fails_the_run_and_keeps_its_turns(
    inventory: Callable[..., Path], bench_process: Callable[..., BenchProcess], sshd: Sshd
) -> None:
    bench = _on_board(bench_process, inventory())
    proc, db = bench.proc, bench.store
    assert sshd.drop_connections() > 0
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err  # a device fault, as in a fleet
    lines = [line for line in err.splitlines() if line.startswith("melt: error:")]
    assert len(lines) == 1 and "device 'board'" in lines[0] and "lost" in lines[0]
    run = _runs(db)[-1]
    assert run["status"] == "failed" and "lost" in run["error"] and run["ended_at"]
    assert len(_turns(db)) >= 2
    with sqlite3.connect(db) as conn:
        assert conn.execute("select count(*) from sampling").fetchone()[0] == 1
    # the runner on the device noticed the dropped connection and ended
    assert wait_until(lambda: not _runner_pids(sshd), 30)


def test_ctrl_c_on_the_controller_stops_the_runner_on_the_device(
    inventory: Callable[..., Path], bench_process: Callable[..., BenchProcess], sshd: Sshd
) -> None:
    bench = _on_board(bench_process, inventory())
    proc, db = bench.proc, bench.store
    assert _runner_pids(sshd)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    run = _runs(db)[-1]
    assert run["status"] == "interrupted" and run["ended_at"]
    assert wait_until(lambda: not _runner_pids(sshd), 30)


@pytest.mark.parametrize("command", [["devices", "list"], ["devices", "check", "board"]])
def test_devices_commands_json(
    melt: Callable[..., object], inventory: Callable[..., Path], command: list[str]
) -> None:
    result = melt(*command, "--devices", str(inventory()), "--json")
    assert result.code == 0, result.err
    doc = result.json()
    if command[1] == "list":
        assert [d["name"] for d in doc["devices"]] == ["local", "board"]
    else:
        assert doc["facts"]["llama_cpp_python"] == "0.3.36"
        assert "memory" in doc["probes"] and "cpu" in doc["probes"]
        assert doc["problems"] == []
