"""A real Ctrl-C (SIGINT) on a running `melt bench` process."""

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path


def measured_turns(db: Path) -> int:
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute("select count(*) from turns where warmup = 0").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_sigint_marks_run_interrupted_and_keeps_turns(tmp_path: Path) -> None:
    workload = tmp_path / "w.json"
    workload.write_text(json.dumps([[f"Tell me fact {i} about owls." for i in range(40)]]))
    db = tmp_path / "melt.db"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "melt",
            "bench",
            "--workload",
            str(workload),
            "--store",
            str(db),
            "--max-new-tokens",
            "8",
            "--ctx",
            "4096",
            "--warmup",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Wait for the condition we need (two committed turns), bounded by a deadline.
    deadline = time.monotonic() + 120
    while measured_turns(db) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    with sqlite3.connect(db) as conn:
        status, error = conn.execute("select status, error from runs").fetchone()
        kept = conn.execute("select count(*) from turns").fetchone()[0]
        stamps = conn.execute("select count(*) from token_timestamps").fetchone()[0]
    assert status == "interrupted" and "Ctrl-C" in error
    assert 2 <= kept < 40 and stamps == kept
