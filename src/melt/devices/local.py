"""The machine melt itself runs on."""

from __future__ import annotations

import platform
import resource
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROC_SELF = Path("/proc/self")
SOURCE_VMHWM = "VmHWM since the run started (/proc/self/status, reset via clear_refs)"
SOURCE_RUSAGE = "getrusage ru_maxrss: peak of the whole process, not only this run"


@dataclass(frozen=True, slots=True)
class PeakRss:
    """The highest resident set size seen, and which counter says so."""

    bytes: int
    source: str


def _cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    try:
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Hardware", "Processor"):
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


class LocalDevice:
    name = "local"

    def facts(self) -> dict[str, Any]:
        """What identifies this machine for comparing runs (llama-bench's row keys)."""
        import psutil

        uname = platform.uname()
        return {
            "device": self.name,
            "host": socket.gethostname(),
            "cpu_model": _cpu_model(),
            "physical_cores": psutil.cpu_count(logical=False),
            "logical_cores": psutil.cpu_count(logical=True),
            "ram_bytes": psutil.virtual_memory().total,
            "os": platform.platform(),
            "kernel": uname.release,
            "arch": uname.machine,
            "python": platform.python_version(),
        }

    def reset_peak_rss(self) -> bool:
        """Start a new peak-RSS window (Linux ≥ 4.0: writing 5 to clear_refs resets VmHWM)."""
        try:
            (PROC_SELF / "clear_refs").write_text("5")
        except OSError:
            return False
        return True

    def peak_rss(self, since_reset: bool) -> PeakRss:
        """Peak RSS of the window opened by `reset_peak_rss`, else of the whole process."""
        if since_reset:
            try:
                for line in (PROC_SELF / "status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        return PeakRss(int(line.split()[1]) * 1024, SOURCE_VMHWM)
            except (OSError, ValueError, IndexError):
                pass
        return PeakRss(
            int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024, SOURCE_RUSAGE
        )
