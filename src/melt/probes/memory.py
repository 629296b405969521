"""Memory: the engine process's RSS (`VmRSS` of /proc/PID/status) and PSS (`Pss` of
/proc/PID/smaps_rollup) and the system's available memory (`MemAvailable` of /proc/meminfo,
proc(5)), all read through the device's file view (melt.devices.proc), so the same code
measures melt's own process, a runner on a board, or a server.

PSS makes the kernel walk every page of the process (milliseconds for a loaded model), so it
is read at most once per `pss_period_s`; RSS and available memory are read every time. A
channel plan (probes/channels.py): three `Key: N kB` lines picked from their files.
"""

from __future__ import annotations

import os

from melt.devices.fspath import SysPath
from melt.probes.base import Availability, ProbeInfo, ProbePolicy, ProbeReadError, read_text
from melt.probes.channels import Channel, PlannedProbe, ProbePlan
from melt.probes.procfs_lines import KB_PARSER
from melt.probes.registry import register_probe
from melt.traces.sample import Provenance

DEFAULT_PSS_PERIOD_S = 1.0
# channel: (file, its line), in the order a tick emits them
_LINES = {
    "process_rss": ("status", "VmRSS:"),
    "process_pss": ("smaps_rollup", "Pss:"),
    "system_available": ("meminfo", "MemAvailable:"),
}


@register_probe("memory")
class MemoryProbe(PlannedProbe):
    """Channels `process_rss`, `process_pss` (of `pid`, default this process) and
    `system_available`, all in bytes."""

    name = "memory"
    policy = ProbePolicy("memory")
    reads_own_process = True

    def __init__(
        self, root: SysPath, pid: int | None = None, pss_period_s: float = DEFAULT_PSS_PERIOD_S
    ) -> None:
        self.root = root
        self.meminfo = root / "proc" / "meminfo"
        self.pid = os.getpid() if pid is None else pid
        self.status = root / "proc" / str(self.pid) / "status"
        self.smaps_rollup = root / "proc" / str(self.pid) / "smaps_rollup"
        self.pss_period_s = pss_period_s

    def available(self) -> Availability:
        meminfo, status = self._kib("system_available"), self._kib("process_rss")
        try:
            for channel, file in ((meminfo, self.meminfo), (status, self.status)):
                ProbePlan((channel,)).samples(0, {channel.path: read_text(file)})
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
            facts={"pss_period_s": self.pss_period_s},
            **self.policy.info_fields(),
        )

    def _kib(self, channel: str) -> Channel:
        """One of the probe's channels: a `Key: N kB` line of its file, in bytes."""
        file, line = _LINES[channel]
        path = {"status": self.status, "smaps_rollup": self.smaps_rollup}.get(file, self.meminfo)
        # kernels before 4.14 have no smaps_rollup; another user's process hides it
        pss = {"every_s": self.pss_period_s, "optional": True} if file == "smaps_rollup" else {}
        return Channel(self.name, channel, str(path), "B", parser=KB_PARSER, line=line, **pss)

    def _plan(self) -> ProbePlan:
        return ProbePlan(tuple(self._kib(channel) for channel in _LINES))
