"""Memory: the engine process's RSS (`VmRSS` of /proc/PID/status) and PSS (`Pss` of
/proc/PID/smaps_rollup) and the system's available memory (`MemAvailable` of /proc/meminfo,
proc(5)), all read through the device's file view (melt.devices.proc), so the same code
measures melt's own process, a runner on a board, or a server.

PSS makes the kernel walk every page of the process (milliseconds for a loaded model), so it
is read at most once per `pss_period_s`; RSS and available memory are read every time.
"""

from __future__ import annotations

import os

from melt.devices.fspath import SysPath
from melt.devices.proc import KIB, smaps_rollup_pss_kib, status_kib
from melt.probes.base import Availability, ProbeInfo, ProbePolicy, ProbeReadError, read_text
from melt.probes.registry import register_probe
from melt.traces.sample import Provenance, Sample

_KIB = KIB
DEFAULT_PSS_PERIOD_S = 1.0


def parse_meminfo_available(text: str) -> int:
    """`MemAvailable` of /proc/meminfo in bytes."""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key == "MemAvailable":
            number, _, unit = value.strip().partition(" ")
            if unit != "kB":
                raise ValueError(f"MemAvailable in unexpected unit '{unit}'")
            return int(number) * _KIB
    raise ValueError("no MemAvailable line")


@register_probe("memory")
class MemoryProbe:
    """Channels `process_rss`, `process_pss` (of `pid`, default this process) and
    `system_available`, all in bytes."""

    name = "memory"
    policy = ProbePolicy("memory")

    def __init__(
        self, root: SysPath, pid: int | None = None, pss_period_s: float = DEFAULT_PSS_PERIOD_S
    ) -> None:
        self.meminfo = root / "proc" / "meminfo"
        self.pid = os.getpid() if pid is None else pid
        self.status = root / "proc" / str(self.pid) / "status"
        self.smaps_rollup = root / "proc" / str(self.pid) / "smaps_rollup"
        self.pss_period_ns = int(pss_period_s * 1e9)
        self._last_pss_ns: int | None = None
        self._pss_readable = True

    def available(self) -> Availability:
        try:
            self._system_available()
        except ProbeReadError as exc:
            return Availability.absent(str(exc))
        return Availability.found(f"{self.meminfo} and process {self.pid}")

    def info(self) -> ProbeInfo:
        return ProbeInfo(
            name=self.name,
            signal="memory",
            unit="B",
            provenance=Provenance.MEASURED,
            source=f"{self.status} VmRSS, {self.smaps_rollup} Pss; {self.meminfo} MemAvailable",
            resolution="1 page (RSS), 1 KiB (PSS, MemAvailable)",
            facts={"pss_period_s": self.pss_period_ns / 1e9},
            **self.policy.info_fields(),
        )

    def _system_available(self) -> int:
        text = read_text(self.meminfo)
        try:
            return parse_meminfo_available(text)
        except ValueError as exc:
            raise ProbeReadError(f"{self.meminfo}: {exc}") from None

    def _process_memory(self, t_ns: int) -> tuple[int, int | None]:
        rss_kib = status_kib(read_text(self.status), "VmRSS")
        if rss_kib is None:
            raise ProbeReadError(f"{self.status} has no VmRSS line")
        want_pss = self._last_pss_ns is None or t_ns - self._last_pss_ns >= self.pss_period_ns
        if not (want_pss and self._pss_readable):
            return rss_kib * _KIB, None
        self._last_pss_ns = t_ns
        try:
            pss_kib = smaps_rollup_pss_kib(read_text(self.smaps_rollup))
        except ProbeReadError:
            self._pss_readable = False  # kernels before 4.14, or another user's process
            return rss_kib * _KIB, None
        return rss_kib * _KIB, None if pss_kib is None else pss_kib * _KIB

    def read(self, t_ns: int) -> list[Sample]:
        rss, pss = self._process_memory(t_ns)
        samples = [Sample(t_ns, self.name, "process_rss", float(rss), "B")]
        if pss is not None:
            samples.append(Sample(t_ns, self.name, "process_pss", float(pss), "B"))
        samples.append(
            Sample(t_ns, self.name, "system_available", float(self._system_available()), "B")
        )
        return samples
