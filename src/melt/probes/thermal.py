"""Thermal zones (Documentation/driver-api/thermal/sysfs-api.rst): each
/sys/class/thermal/thermal_zoneN has `type`, `temp` in millidegrees Celsius and
`trip_point_K_temp` / `trip_point_K_type` (the temperatures where the kernel starts cooling)."""

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
    read_optional_text,
    read_text,
)
from melt.probes.channels import Channel, PlannedProbe, ProbePlan
from melt.probes.registry import register_probe
from melt.traces.sample import Provenance

_ZONE = re.compile(r"thermal_zone(\d+)$")
_TRIP = re.compile(r"trip_point_(\d+)_temp$")
MILLI = 1000.0


@dataclass(frozen=True, slots=True)
class Zone:
    channel: str
    path: SysPath
    type: str
    trip_points_c: tuple[tuple[str, float], ...]


def _trip_points(zone: SysPath) -> tuple[tuple[str, float], ...]:
    trips = []
    for entry in zone.iterdir():
        match = _TRIP.match(entry.name)
        if not match:
            continue
        kind = read_optional_text(zone / f"trip_point_{match.group(1)}_type") or "unknown"
        trips.append((int(match.group(1)), kind, read_int(entry) / MILLI))
    return tuple((kind, temp) for _, kind, temp in sorted(trips))


@register_probe("thermal")
class ThermalProbe(PlannedProbe):
    """Temperature of each readable zone in °C; the channel is the zone's `type` (made
    unique with the zone number when two zones share a type)."""

    name = "thermal"
    policy = ProbePolicy("temperature")
    trees = (("sys/class/thermal", 2),)

    def __init__(self, root: SysPath) -> None:
        self.root = root
        self.base = root / "sys" / "class" / "thermal"
        self._zones: list[Zone] | None = None
        self.skipped: dict[str, str] = {}

    def zones(self) -> list[Zone]:
        if self._zones is None:
            self._zones = self._find_zones()
        return self._zones

    def _find_zones(self) -> list[Zone]:
        if not self.base.is_dir():
            return []
        dirs = sorted(
            (d for d in self.base.iterdir() if _ZONE.match(d.name)),
            key=lambda d: int(d.name.removeprefix("thermal_zone")),
        )
        typed = []
        for d in dirs:
            try:
                kind = read_text(d / "type")
                read_int(d / "temp")
                typed.append((d, kind, _trip_points(d)))
            except ProbeReadError as exc:
                self.skipped[d.name] = str(exc)
        kinds = [kind for _, kind, _ in typed]
        return [
            Zone(
                channel=kind if kinds.count(kind) == 1 else f"{kind}#{d.name[12:]}",
                path=d,
                type=kind,
                trip_points_c=trips,
            )
            for d, kind, trips in typed
        ]

    def available(self) -> Availability:
        zones = self.zones()
        if zones:
            return Availability.found(f"{len(zones)} thermal zones under {self.base}")
        if self.skipped:
            return Availability.absent(
                f"no readable thermal zone under {self.base} ({'; '.join(self.skipped.values())})"
            )
        return Availability.absent(f"no thermal zones under {self.base}")

    def info(self) -> ProbeInfo:
        return ProbeInfo(
            name=self.name,
            signal="temperature",
            unit="°C",
            provenance=Provenance.MEASURED,
            source=f"{self.base}/thermal_zoneN/temp",
            resolution="0.001 °C as reported (the sensor's own step is often 0.1–1 °C)",
            facts={
                z.channel: {
                    "zone": z.path.name,
                    "type": z.type,
                    "trip_points_c": [{"type": k, "temp_c": t} for k, t in z.trip_points_c],
                }
                for z in self.zones()
            }
            | ({"skipped": self.skipped} if self.skipped else {}),
            **self.policy.info_fields(),
        )

    def _plan(self) -> ProbePlan:
        return ProbePlan(
            tuple(
                Channel(self.name, z.channel, str(z.path / "temp"), "°C", scale=MILLI)
                for z in self.zones()
            )
        )
