"""Reading a device's facts (CPU, cores, max frequencies, RAM, OS, Python, llama-cpp-python,
free space) with the standard library, on the device itself.

The local device calls `collect` in melt's own process; a remote device runs the same
function inside the runner melt ships to it (`python runner.pyz facts`), so every transport
reports the same facts the same way.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import socket
from typing import Any

from melt.devices.base import DeviceFacts, FileView

_CPU_DIR = re.compile(r"cpu(\d+)$")


def cpu_model(cpuinfo: str) -> str | None:
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Hardware", "Processor", "cpu model") and value.strip():
            return value.strip()
    return None


def physical_cores_from_cpuinfo(cpuinfo: str) -> int | None:
    """Distinct (physical id, core id) pairs; None when /proc/cpuinfo does not say (ARM)."""
    pairs: set[tuple[str, str]] = set()
    physical, core = None, None
    for line in [*cpuinfo.splitlines(), ""]:
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "physical id":
            physical = value.strip()
        elif key == "core id":
            core = value.strip()
        elif not line.strip():
            if physical is not None and core is not None:
                pairs.add((physical, core))
            physical, core = None, None
    return len(pairs) or None


def meminfo_total_bytes(meminfo: str) -> int | None:
    for line in meminfo.splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return None


def _read(view: FileView, path: str) -> str | None:
    try:
        return view.read_text(path)
    except (OSError, UnicodeDecodeError):
        return None


def cpu_max_freq_khz(view: FileView) -> tuple[int | None, ...]:
    """`cpuinfo_max_freq` of each cpuN in order (None where cpufreq is absent)."""
    base = "/sys/devices/system/cpu"
    try:
        names = [n for n in view.list_dir(base) if _CPU_DIR.match(n)]
    except OSError:
        return ()
    names.sort(key=lambda n: int(n[3:]))
    paths = [f"{base}/{n}/cpufreq/cpuinfo_max_freq" for n in names]
    got = view.read_many(paths)
    out: list[int | None] = []
    for path in paths:
        text = got.get(path)
        out.append(int(text.strip()) if text and text.strip().isdigit() else None)
    return tuple(out)


def os_release(view: FileView) -> str | None:
    text = _read(view, "/etc/os-release")
    if text:
        for line in text.splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.partition("=")[2].strip().strip('"')
    return None


def llama_cpp_python_version() -> str | None:
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover - Python < 3.8
        return None
    try:
        return version("llama_cpp_python")
    except PackageNotFoundError:
        return None


def collect(
    view: FileView, name: str, transport: str, workdir: str | None, extra: dict[str, Any]
) -> DeviceFacts:
    """The facts of the machine this code runs on; files are read through `view` (so a
    fixture root stands in for sysfs and system-wide procfs)."""
    cpuinfo = _read(view, "/proc/cpuinfo") or ""
    meminfo = _read(view, "/proc/meminfo") or ""
    uname = platform.uname()
    free = None
    if workdir is not None:
        os.makedirs(os.path.expanduser(workdir), exist_ok=True)
        free = shutil.disk_usage(os.path.expanduser(workdir)).free
    logical = os.cpu_count()
    return DeviceFacts(
        name=name,
        transport=transport,
        host=socket.gethostname(),
        cpu_model=cpu_model(cpuinfo) or platform.processor() or uname.machine,
        physical_cores=physical_cores_from_cpuinfo(cpuinfo) or logical,
        logical_cores=logical,
        cpu_max_freq_khz=cpu_max_freq_khz(view),
        ram_bytes=meminfo_total_bytes(meminfo),
        os=os_release(view) or platform.platform(),
        kernel=uname.release,
        arch=uname.machine,
        python=platform.python_version(),
        llama_cpp_python=llama_cpp_python_version(),
        workdir=workdir,
        workdir_free_bytes=free,
        extra=extra,
    )


def facts_from_dict(data: dict[str, Any]) -> DeviceFacts:
    """The inverse of `DeviceFacts.as_dict` (for facts sent back by a device's runner)."""
    fields = {k: v for k, v in data.items() if k != "device"}
    fields["cpu_max_freq_khz"] = tuple(fields.get("cpu_max_freq_khz") or ())
    fields["extra"] = dict(fields.get("extra") or {})
    return DeviceFacts(**fields)
