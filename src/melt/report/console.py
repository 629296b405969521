"""Consoles for tables: piped output gets a wide fixed width instead of rich's 80 columns,
so a table saved to a file or read by a script is not truncated."""

from __future__ import annotations

import sys

from rich.console import Console

PIPED_WIDTH = 160


def stdout_console() -> Console:
    return Console(width=None if sys.stdout.isatty() else PIPED_WIDTH)
