"""CPU frequency per core.

Preferred source: cpufreq's `scaling_cur_freq` (kHz) per policy CPU
(Documentation/admin-guide/pm/cpufreq.rst), with the governor and min/max limits recorded as
environment facts. Machines without cpufreq (many VMs and containers) still report
`cpu MHz` per processor in /proc/cpuinfo; that is used instead and said so in `source`,
since a hypervisor often reports its nominal clock there rather than the live one.
"""

from __future__ import annotations

import re

from melt.devices.fspath import SysPath
from melt.probes.base import (
    Availability,
    ProbeInfo,
    ProbePolicy,
    ProbeReadError,
    read_optional_text,
    read_text,
)
from melt.probes.channels import Channel, PlannedProbe, ProbePlan
from melt.probes.registry import register_probe
from melt.traces.sample import Provenance, Sample

_CPU_DIR = re.compile(r"cpu(\d+)$")
_FACT_FILES = (
    "scaling_governor",
    "scaling_min_freq",
    "scaling_max_freq",
    "cpuinfo_min_freq",
    "cpuinfo_max_freq",
)


def parse_cpuinfo_mhz(text: str) -> dict[str, float]:
    """`cpu MHz` of each `processor` block of /proc/cpuinfo, keyed `cpuN`."""
    out: dict[str, float] = {}
    processor: str | None = None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "processor":
            processor = value.strip()
        elif key == "cpu MHz" and processor is not None:
            out[f"cpu{processor}"] = float(value)
    return out


@register_probe("cpufreq")
class CpuFreqProbe(PlannedProbe):
    """Current frequency of each core in MHz: a channel plan over cpufreq; without cpufreq
    the /proc/cpuinfo fallback (an empty plan: a multi-line file only this process parses)."""

    name = "cpufreq"
    policy = ProbePolicy("frequency")
    trees = (("sys/devices/system/cpu", 3),)

    def __init__(self, root: SysPath) -> None:
        self.root = root
        self.cpu_root = root / "sys" / "devices" / "system" / "cpu"
        self.cpuinfo = root / "proc" / "cpuinfo"
        self._dirs: dict[str, SysPath] | None = None

    def _cpufreq_dirs(self) -> dict[str, SysPath]:
        if self._dirs is None:
            self._dirs = self._find_cpufreq_dirs()
        return self._dirs

    def _find_cpufreq_dirs(self) -> dict[str, SysPath]:
        if not self.cpu_root.is_dir():
            return {}
        found = {}
        for entry in self.cpu_root.iterdir():
            match = _CPU_DIR.match(entry.name)
            if match and (entry / "cpufreq" / "scaling_cur_freq").exists():
                found[entry.name] = entry / "cpufreq"
        return dict(sorted(found.items(), key=lambda kv: int(kv[0][3:])))

    def _cpuinfo_mhz(self) -> dict[str, float]:
        if not self.cpuinfo.exists():
            return {}
        try:
            return parse_cpuinfo_mhz(read_text(self.cpuinfo))
        except ValueError as exc:
            raise ProbeReadError(f"{self.cpuinfo}: {exc}") from None

    def available(self) -> Availability:
        dirs = self._cpufreq_dirs()
        if dirs:
            return Availability.found(f"cpufreq for {len(dirs)} cores under {self.cpu_root}")
        try:
            mhz = self._cpuinfo_mhz()
        except ProbeReadError as exc:
            return Availability.absent(f"no cpufreq under {self.cpu_root}; {exc}")
        if mhz:
            return Availability.found(
                f"no cpufreq; 'cpu MHz' of {len(mhz)} cores in {self.cpuinfo}"
            )
        return Availability.absent(
            f"no cpufreq under {self.cpu_root} and no 'cpu MHz' in {self.cpuinfo}"
        )

    def info(self) -> ProbeInfo:
        dirs = self._cpufreq_dirs()
        if dirs:
            facts = {
                cpu: {f: read_optional_text(d / f) for f in _FACT_FILES} for cpu, d in dirs.items()
            }
            return ProbeInfo(
                name=self.name,
                signal="cpu frequency",
                unit="MHz",
                provenance=Provenance.MEASURED,
                source=f"{self.cpu_root}/cpuN/cpufreq/scaling_cur_freq",
                resolution="1 kHz",
                facts=facts,
                **self.policy.info_fields(),
            )
        return ProbeInfo(
            name=self.name,
            signal="cpu frequency",
            unit="MHz",
            provenance=Provenance.MEASURED,
            source=f"{self.cpuinfo} 'cpu MHz' (no cpufreq; may be the nominal clock on a VM)",
            resolution="0.001 MHz",
            facts={},
            **self.policy.info_fields(),
        )

    def _plan(self) -> ProbePlan:
        return ProbePlan(
            tuple(
                Channel(self.name, cpu, str(d / "scaling_cur_freq"), "MHz", scale=1000.0)
                for cpu, d in self._cpufreq_dirs().items()
            )
        )

    def read(self, t_ns: int) -> list[Sample]:
        if self._cpufreq_dirs():
            return super().read(t_ns)
        return [Sample(t_ns, self.name, cpu, v, "MHz") for cpu, v in self._cpuinfo_mhz().items()]
