"""RAPL energy counters through powercap (Documentation/ABI/testing/sysfs-class-powercap,
Documentation/power/powercap/powercap.rst): each /sys/class/powercap/intel-rapl:N[:M] zone has
`name` (package-0, core, uncore, dram, psys), `energy_uj` (a counter in µJ that wraps to 0
after `max_energy_range_uj`). AMD processors use the same driver and layout.

Since Linux 5.10 `energy_uj` is readable by root only (CVE-2020-8694); the probe then says so.
Power is the energy difference between two reads over their time difference, stamped at the
middle of the interval; the first read only sets the baseline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from melt.devices.fspath import SysPath
from melt.probes.base import (
    Availability,
    ProbeInfo,
    ProbePolicy,
    ProbeReadError,
    read_int,
    read_text,
)
from melt.probes.registry import register_probe
from melt.traces.sample import Provenance, Sample

_ZONE = re.compile(r"intel-rapl:(\d+)(?::(\d+))?$")


def energy_delta_uj(previous_uj: int, current_uj: int, max_range_uj: int) -> int:
    """Energy between two counter reads, across at most one wraparound."""
    if current_uj >= previous_uj:
        return current_uj - previous_uj
    return current_uj + max_range_uj - previous_uj


@dataclass(frozen=True, slots=True)
class Domain:
    channel: str
    path: SysPath
    max_range_uj: int
    top_level: bool


@register_probe("rapl")
class RaplProbe:
    """Channels `power:<zone name>` per top-level domain, `power:<name>@N` per subzone of
    package N, and `power`, the sum of the packages (or of the top-level domains when there
    is no package), in watts."""

    name = "rapl"
    policy = ProbePolicy("power", power_rank=30)

    def __init__(self, root: SysPath) -> None:
        self.base = root / "sys" / "class" / "powercap"
        self._domains: list[Domain] | None = None
        self._last: tuple[int, dict[str, int]] | None = None

    def domains(self) -> list[Domain]:
        if self._domains is None:
            self._domains = self._find_domains()
        return self._domains

    def _find_domains(self) -> list[Domain]:
        if not self.base.is_dir():
            return []
        found = []
        for entry in sorted(self.base.iterdir()):
            match = _ZONE.match(entry.name)
            if not match:
                continue
            name = read_text(entry / "name")
            found.append(
                Domain(
                    channel=f"power:{name}" + ("" if match.group(2) is None else f"@{match[1]}"),
                    path=entry,
                    max_range_uj=read_int(entry / "max_energy_range_uj"),
                    top_level=match.group(2) is None,
                )
            )
        return found

    def _totalled(self) -> list[Domain]:
        top = [d for d in self.domains() if d.top_level]
        packages = [d for d in top if d.channel.startswith("power:package")]
        return packages or top

    def available(self) -> Availability:
        try:
            domains = self.domains()
            if not domains:
                return Availability.absent(f"no intel-rapl zones under {self.base}")
            for d in domains:
                read_int(d.path / "energy_uj")
        except ProbeReadError as exc:
            return Availability.absent(f"{exc} (energy_uj is root-only since Linux 5.10)")
        return Availability.found(f"{len(domains)} RAPL domains under {self.base}")

    def info(self) -> ProbeInfo:
        return ProbeInfo(
            name=self.name,
            signal="cpu package power",
            unit="W",
            provenance=Provenance.MEASURED,
            source=f"{self.base}/intel-rapl:*/energy_uj differences",
            resolution="1 µJ counter (hardware unit ~15.3 µJ), updated about every 1 ms",
            max_rate_hz=1000.0,
            facts={
                "domains": {d.channel: d.path.name for d in self.domains()},
                "total": [d.channel for d in self._totalled()],
                "max_energy_range_uj": {d.channel: d.max_range_uj for d in self.domains()},
            },
            **self.policy.info_fields(),
        )

    def read(self, t_ns: int) -> list[Sample]:
        counters = {d.channel: read_int(d.path / "energy_uj") for d in self.domains()}
        last, self._last = self._last, (t_ns, counters)
        if last is None:
            return []
        t0, before = last
        dt_s = (t_ns - t0) / 1e9
        if dt_s <= 0:
            raise ProbeReadError("RAPL read twice at the same instant")
        mid = (t0 + t_ns) // 2
        watts = {
            d.channel: energy_delta_uj(before[d.channel], counters[d.channel], d.max_range_uj)
            / 1e6
            / dt_s
            for d in self.domains()
        }
        samples = [Sample(mid, self.name, ch, w, "W") for ch, w in watts.items()]
        total = sum(watts[d.channel] for d in self._totalled())
        samples.append(Sample(mid, self.name, "power", total, "W"))
        return samples
