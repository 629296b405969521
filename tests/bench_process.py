"""A `melt bench` subprocess that tests act on while it runs (a signal, a dropped link)."""

from __future__ import annotations

import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.waiting import wait_until

SRC = Path(__file__).resolve().parents[1] / "src"
# One conversation long enough that a bench is still running when a test acts on it.
LONG_CONVERSATION = [[f"Tell me fact {i} about owls." for i in range(40)]]


def measured_turns(store: Path) -> int:
    """Measured turns committed to the store so far (0 before its tables exist)."""
    try:
        with sqlite3.connect(store, timeout=1) as conn:
            return int(conn.execute("select count(*) from turns where warmup = 0").fetchone()[0])
    except sqlite3.Error:
        return 0


@dataclass
class BenchProcess:
    """A `python -m melt bench` subprocess (on this checkout's sources) and its store."""

    proc: subprocess.Popen[str]
    store: Path

    def measured_turns(self) -> int:
        return measured_turns(self.store)

    def wait_for_turns(self, n: int, timeout_s: float) -> None:
        """Return once `n` measured turns are committed and the bench still runs; fail (with
        its output) when it ended first or the deadline passed."""
        reached = wait_until(
            lambda: self.measured_turns() >= n or self.proc.poll() is not None, timeout_s
        )
        assert reached, f"fewer than {n} turns in {timeout_s} s"
        assert self.proc.poll() is None, self.proc.communicate()
