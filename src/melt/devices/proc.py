"""Process figures read from /proc through a device's file view (proc(5)).

One code path for every transport and runner: the in-process engine reads its own pid on
the local device, the runner on a board reads its own pid there, and a server's figures come
from the server's pid. Peak RSS is `VmHWM`, reset at the start of a run by writing 5 to
`/proc/<pid>/clear_refs` (Linux ≥ 4.0); CPU time is utime + stime of `/proc/<pid>/stat`.

Standard library only: the runner melt ships to a device imports it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from melt.devices.base import FileView
from melt.procfs import KIB, stat_cpu_ticks, status_kib

SOURCE_VMHWM = "VmHWM since the run started (/proc/<pid>/status, reset via clear_refs)"
SOURCE_VMHWM_PROCESS = "VmHWM of the whole process (/proc/<pid>/status; clear_refs refused)"


@dataclass(frozen=True, slots=True)
class PeakRss:
    """The highest resident set size seen, and which counter says so (None: unavailable,
    and `source` says why)."""

    bytes: int | None
    source: str


def smaps_rollup_pss_kib(text: str) -> int | None:
    return status_kib(text, "Pss")


def rss_bytes(view: FileView, pid: int | str = "self") -> int:
    """Current resident set size of a process in bytes (`VmRSS`)."""
    kib = status_kib(view.read_text(f"/proc/{pid}/status"), "VmRSS")
    if kib is None:
        raise OSError(f"/proc/{pid}/status has no VmRSS line")
    return kib * KIB


def peak_rss(view: FileView, pid: int | str, since_reset: bool) -> PeakRss | None:
    """`VmHWM` of a process, labelled by whether a reset opened the window; None when the
    process or the line is gone."""
    try:
        kib = status_kib(view.read_text(f"/proc/{pid}/status"), "VmHWM")
    except OSError:
        return None
    if kib is None:
        return None
    return PeakRss(kib * KIB, SOURCE_VMHWM if since_reset else SOURCE_VMHWM_PROCESS)


def reset_peak_rss_local(pid: int | str = "self") -> bool:
    """Open a new peak-RSS window for a process of this machine (False when refused)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


def clock_ticks_per_s() -> int:
    """USER_HZ of this machine (the unit of /proc/<pid>/stat's times)."""
    try:
        return int(os.sysconf("SC_CLK_TCK"))
    except (ValueError, OSError, AttributeError):
        return 100


def cpu_time_s(view: FileView, pid: int | str, ticks_per_s: int) -> float:
    """User + system CPU seconds a process has used so far."""
    return stat_cpu_ticks(view.read_text(f"/proc/{pid}/stat")) / ticks_per_s
