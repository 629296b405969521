"""Make a mounted tmpfs refuse writes the ways a real disk does (tests run as root, where
file permissions stop nothing)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


def remount_read_only(point: Path) -> None:
    mount("-o", "remount,ro", str(point))


def fill(point: Path) -> None:
    """Write until the filesystem has no space left."""
    with (point / "filler").open("wb", buffering=0) as fh:
        try:
            while fh.write(b"\0" * 4096):
                pass
        except OSError:
            pass
