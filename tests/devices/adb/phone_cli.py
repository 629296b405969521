"""`python -m melt ...` in its own process on this worktree's sources, as a user types it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[3] / "src"
RUN_TIMEOUT_S = 600.0


def melt_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{SRC}:{os.environ.get('PYTHONPATH', '')}"}


class Melt:
    """One `melt` command running in its own process."""

    def __init__(self, argv: list[str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "melt", *argv],
            env=melt_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def finish(self) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=RUN_TIMEOUT_S)
        return self.proc.returncode, out, err


def one_error_line(err: str) -> bool:
    """The failure is one `melt: error:` line (warnings logged before it are allowed)."""
    errors = [line for line in err.splitlines() if line.startswith("melt: error:")]
    return len(errors) == 1 and "Traceback" not in err


def phone_inventory(path: Path, serial: str, adb_server_port: int) -> Path:
    """A melt-devices.yaml with one adb device named `phone`."""
    path.write_text(
        "devices:\n"
        "  - name: phone\n"
        "    transport: adb\n"
        f"    serial: {serial}\n"
        f"    adb_server_port: {adb_server_port}\n"
    )
    return path
