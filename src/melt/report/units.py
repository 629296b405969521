"""Formatting of numbers with their units, shared by every table."""

from __future__ import annotations

import math

BYTE_UNITS = ("B", "bytes")  # the units probes write a byte count in


def fmt(value: float | int | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


def fmt_bytes(value: int | None) -> str:
    if value is None:
        return "–"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024 or unit == "GiB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1024
    return f"{size:.1f} GiB"


def fmt_own_cpu(cpu_s: float | None, cpu_s_per_s: float | None) -> str:
    """A sampler's own CPU cost: seconds and share of one core, or that nobody measured it."""
    if cpu_s is None:
        return "own CPU not measured"
    share = None if cpu_s_per_s is None else 100 * cpu_s_per_s
    return f"own CPU {fmt(cpu_s, 3)} s ({fmt(share, 2)}% of one core)"
