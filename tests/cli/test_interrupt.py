"""A real Ctrl-C (SIGINT) on a running `melt bench` process."""

import signal
import sqlite3
from collections.abc import Callable

from tests.bench_process import BenchProcess


def test_sigint_marks_run_interrupted_and_keeps_turns(
    bench_process: Callable[..., BenchProcess],
) -> None:
    bench = bench_process()
    bench.wait_for_turns(2, timeout_s=120)
    proc, db = bench.proc, bench.store
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
