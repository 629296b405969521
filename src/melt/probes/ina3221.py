"""TI INA3221 power monitors through hwmon (Documentation/hwmon/ina3221.rst), as on NVIDIA
Jetson boards: per channel N in 1..3, `inN_label` (the rail, e.g. VDD_IN), `inN_input` bus
voltage in mV and `currN_input` current in mA. Power per rail = V × I.

The device-level `power` channel is the `VDD_IN` rail (the module's input on Jetson Orin
Nano/NX) when present, otherwise the sum of all labelled rails, and `info().facts` says which.
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
from melt.probes.channels import Channel, Derived, PlannedProbe, ProbePlan
from melt.probes.registry import register_probe
from melt.traces.sample import Provenance

_CHANNELS = (1, 2, 3)
_HWMON = re.compile(r"hwmon\d+$")
TOTAL_RAIL = "VDD_IN"


@dataclass(frozen=True, slots=True)
class Rail:
    label: str
    volts_file: SysPath
    amps_file: SysPath


@register_probe("ina3221")
class Ina3221Probe(PlannedProbe):
    name = "ina3221"
    policy = ProbePolicy("power", power_rank=10)
    trees = (("sys/class/hwmon", 2),)

    def __init__(self, root: SysPath) -> None:
        self.root = root
        self.base = root / "sys" / "class" / "hwmon"
        self._rails: list[Rail] | None = None

    def rails(self) -> list[Rail]:
        if self._rails is None:
            self._rails = self._find_rails()
        return self._rails

    def _find_rails(self) -> list[Rail]:
        if not self.base.is_dir():
            return []
        rails = []
        for hwmon in sorted(d for d in self.base.iterdir() if _HWMON.match(d.name)):
            name_file = hwmon / "name"
            if not name_file.exists() or read_text(name_file) != "ina3221":
                continue
            for n in _CHANNELS:
                label_file = hwmon / f"in{n}_label"
                if not (label_file.exists() and (hwmon / f"curr{n}_input").exists()):
                    continue
                label = read_text(label_file)
                if label == "NC":
                    continue
                rails.append(Rail(label, hwmon / f"in{n}_input", hwmon / f"curr{n}_input"))
        return rails

    def _total_rails(self) -> list[Rail]:
        rails = self.rails()
        return [r for r in rails if r.label == TOTAL_RAIL] or rails

    def available(self) -> Availability:
        try:
            rails = self.rails()
            if not rails:
                return Availability.absent(f"no ina3221 hwmon device under {self.base}")
            for rail in rails:
                read_int(rail.volts_file)
                read_int(rail.amps_file)
        except ProbeReadError as exc:
            return Availability.absent(str(exc))
        return Availability.found(f"{len(rails)} INA3221 rails under {self.base}")

    def info(self) -> ProbeInfo:
        return ProbeInfo(
            name=self.name,
            signal="rail power",
            unit="W",
            provenance=Provenance.MEASURED,
            source=f"{self.base}/hwmonN/inN_input × currN_input (name ina3221)",
            resolution="1 mV × 1 mA as reported (conversion every ~1 ms, averaged)",
            facts={
                "rails": [r.label for r in self.rails()],
                "total": [r.label for r in self._total_rails()],
            },
            **self.policy.info_fields(),
        )

    def _plan(self) -> ProbePlan:
        """Per rail: bus voltage (mV) and current (mA) read, power = V × A emitted; `power`
        the sum over the total rails."""
        n = self.name
        steps: list[Channel | Derived] = []
        for rail in self.rails():
            volts, amps = f"volts:{rail.label}", f"amps:{rail.label}"
            steps += [
                Channel(n, volts, str(rail.volts_file), "V", scale=1000.0, emit=False),
                Channel(n, amps, str(rail.amps_file), "A", scale=1000.0, emit=False),
                Derived(n, f"power:{rail.label}", "W", "product", (volts, amps)),
            ]
        if not steps:
            raise ProbeReadError(f"no ina3221 rails under {self.base}")
        total = tuple(f"power:{r.label}" for r in self._total_rails())
        steps.append(Derived(n, "power", "W", "sum", total))
        return ProbePlan(tuple(steps))
