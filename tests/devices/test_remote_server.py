"""`melt bench --framework llama-server` on the loopback SSH board: the server pushed there
and started by melt, driven from the controller, its RSS and CPU time read from the board's
`/proc/<pid>`, and the board's own probes (melt's runner there) sampling on its clock."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

BENCH = ["--max-new-tokens", "8", "--threads", "1", "--temperature", "0", "--warmup", "0"]


def _rows(db: Path, sql: str, *args: object) -> list[dict]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(sql, args)]


def test_llama_server_on_an_ssh_board_records_its_proc_figures_and_the_boards_samples(
    melt: Callable[..., object],
    inventory: Callable[..., Path],
    tmp_path: Path,
    workload_file: Callable[..., Path],
    llama_server_binary: Path,
) -> None:
    workload = workload_file([["Name a colour.", "And another one?"]])
    db = tmp_path / "melt.db"
    result = melt(
        "bench", "--device", "board", "--devices", str(inventory()),
        "--framework", "llama-server", "--server-binary", str(llama_server_binary),
        "--workload", str(workload), "--store", str(db), *BENCH,
        "--probe-rate", "10", "--idle-baseline", "1",
    )  # fmt: skip
    assert result.code == 0, result.err
    (run,) = _rows(db, "select * from runs")
    assert (run["status"], run["device"], run["framework"]) == (
        "completed",
        "board",
        "llama-server",
    )
    settings = json.loads(run["settings"])
    device_run = settings["device_run"]
    assert device_run["transport"] == "ssh"
    pid = device_run["engine_pid"]
    argv = settings["engine_settings"]["server_argv"]
    assert argv[0].startswith(str(tmp_path / "device-workdir"))  # pushed to the board
    # the server's own process, read on the board: its peak RSS holds the model's weights
    summary = json.loads(run["summary"])
    assert summary["peak_rss_source"].startswith("VmHWM")
    assert run["peak_rss_bytes"] > 90 * 2**20
    turns = _rows(db, "select * from turns where run_id = ? order by id", run["id"])
    assert len(turns) == 2 and all(t["generated_tokens"] > 0 for t in turns)
    assert all(t["cpu_time_s"] is not None and t["cpu_time_s"] > 0 for t in turns)
    cpu_source = settings["engine_settings"]["cpu_time_source"]
    assert f"/proc/{pid}/stat on the device" in cpu_source
    # the board's samples, on its clock, with the turns and the idle window on the same one
    assert settings["engine_settings"]["trace_clock"]["clock"] == "the device's"
    (sampling,) = _rows(db, "select * from sampling where run_id = ?", run["id"])
    windows = json.loads(sampling["windows"])
    idle = windows["idle_baseline"]
    assert idle["end_ns"] <= min(t["submit_ns"] for t in turns)
    samples = _rows(db, "select t_ns, probe from samples where run_id = ?", run["id"])
    assert samples
    times = [s["t_ns"] for s in samples]
    last_end = max(t["end_ns"] for t in turns)
    assert idle["start_ns"] - 10**9 <= min(times) and max(times) <= last_end + 10**9
    assert any(idle["start_ns"] <= t <= idle["end_ns"] for t in times)
    probes = {p["name"]: p["source"] for p in json.loads(sampling["probes"])}
    assert "memory" in probes or "cpu" in probes, probes  # read by melt's runner on the board
