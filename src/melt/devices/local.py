"""The machine melt itself runs on."""

from __future__ import annotations

import platform
import socket
from pathlib import Path
from typing import Any


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
