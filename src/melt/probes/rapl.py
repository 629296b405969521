"""RAPL energy counters through powercap (Documentation/ABI/testing/sysfs-class-powercap,
Documentation/power/powercap/powercap.rst): each /sys/class/powercap/intel-rapl:N[:M] zone has
`name` (package-0, core, uncore, dram, psys), `energy_uj` (a counter in µJ that wraps to 0
after `max_energy_range_uj`). AMD processors use the same driver and layout.

Since Linux 5.10 `energy_uj` is readable by root only (CVE-2020-8694); the probe then says so.
Power is the energy difference between two reads over their time difference, stamped at the
middle of the interval; the first read only sets the baseline. The probe is a channel plan
(probes/channels.py): each zone's `energy_uj` a `Counter` wrapping at its
`max_energy_range_uj`, so every sampler (a board's runner, a phone's sh loop) runs it as is.
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
from melt.probes.channels import Channel, Counter, Derived, PlannedProbe, ProbePlan, counter_delta
from melt.probes.registry import register_probe
from melt.traces.sample import Provenance

_ZONE = re.compile(r"intel-rapl:(\d+)(?::(\d+))?$")


def energy_delta_uj(previous_uj: int, current_uj: int, max_range_uj: int) -> int:
    """Energy between two counter reads, across at most one wraparound (as a `Counter` with
    `wrap=max_range_uj` computes it)."""
    delta = counter_delta(previous_uj, current_uj, max_range_uj)
    assert delta is not None  # a counter with a wrap never goes back
    return int(delta)


@dataclass(frozen=True, slots=True)
class Domain:
    channel: str
    path: SysPath
    max_range_uj: int
    top_level: bool


@register_probe("rapl")
class RaplProbe(PlannedProbe):
    """Channels `power:<zone name>` per top-level domain, `power:<name>@N` per subzone of
    package N, and `power`, the sum of the packages (or of the top-level domains when there
    is no package), in watts."""

    name = "rapl"
    policy = ProbePolicy("power", power_rank=30)
    trees = (("sys/class/powercap", 2),)

    def __init__(self, root: SysPath) -> None:
        self.root = root
        self.base = root / "sys" / "class" / "powercap"
        self._domains: list[Domain] | None = None

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

    def _plan(self) -> ProbePlan:
        counters = [
            (
                Channel(
                    self.name, f"{d.channel}#energy_uj", str(d.path / "energy_uj"), "µJ", emit=False
                ),
                Counter(
                    self.name,
                    d.channel,
                    "W",
                    f"{d.channel}#energy_uj",
                    wrap=d.max_range_uj,
                    factor=1e-6,
                    stamp="mid",
                ),
            )
            for d in self.domains()
        ]
        total = Derived(self.name, "power", "W", "sum", tuple(d.channel for d in self._totalled()))
        return ProbePlan(tuple(c for c, _ in counters) + tuple(r for _, r in counters) + (total,))
