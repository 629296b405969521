"""An *estimated* CPU power: idle watts plus watts per busy core × each core's utilisation.

Not a sensor: every sample is `estimated`, and the parameters come from a device profile
(`melt.config.device_profile.CpuPowerModel`). Used only when asked for
(`melt bench --power-model estimated`), never mixed with measured power.
"""

from __future__ import annotations

from dataclasses import dataclass

from melt.devices.fspath import SysPath
from melt.probes.base import Availability, ProbeInfo, ProbePolicy
from melt.probes.cpu import CpuProbe, is_core
from melt.probes.registry import register_probe
from melt.traces.sample import Provenance, Sample


@dataclass(frozen=True, slots=True)
class PowerModel:
    """The parameters of the estimated CPU power model (config.device_profile)."""

    idle_w: float
    active_w_per_core: float
    source: str


@register_probe("cpu_power_model")
class CpuPowerModelProbe:
    """Made only when configured (`detect(..., {"cpu_power_model": PowerModel(...)})`)."""

    name = "cpu_power_model"
    policy = ProbePolicy("power", opt_in=True)

    def __init__(self, root: SysPath, model: PowerModel) -> None:
        self.cpu = CpuProbe(root)
        self.idle_w = model.idle_w
        self.active_w_per_core = model.active_w_per_core
        self.source = model.source

    def available(self) -> Availability:
        return self.cpu.available()

    def info(self) -> ProbeInfo:
        return ProbeInfo(
            name=self.name,
            signal="estimated cpu power",
            unit="W",
            provenance=Provenance.ESTIMATED,
            source=f"model: {self.idle_w} W + {self.active_w_per_core} W × busy cores "
            f"(/proc/stat); parameters from {self.source}",
            resolution="as /proc/stat utilisation",
            facts={"idle_w": self.idle_w, "active_w_per_core": self.active_w_per_core},
            **self.policy.info_fields(),
        )

    def read(self, t_ns: int) -> list[Sample]:
        per_core = [s.value / 100.0 for s in self.cpu.read(t_ns) if is_core(s.channel)]
        if not per_core:
            return []
        watts = self.idle_w + self.active_w_per_core * sum(per_core)
        return [Sample(t_ns, self.name, "power", watts, "W", Provenance.ESTIMATED)]
