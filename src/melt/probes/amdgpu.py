"""AMD GPUs through amdgpu (drivers/gpu/drm/amd/pm/amdgpu_pm.c and amdgpu_vram_mgr.c), under
/sys/class/drm/cardN/device:

- `gpu_busy_percent`: how busy the GPU is, % (the SMU's figure);
- `mem_info_vram_used` (and `mem_info_vram_total`, a fact): VRAM in use, bytes (on an APU,
  the carve-out);
- hwmon (`device/hwmon/hwmonN`, Documentation/gpu/amdgpu/thermal.rst): `power1_average`, the
  SMU's average socket power in µW (`power1_input` on GPUs that report the instantaneous
  value instead), `temp1_input` edge temperature in m°C, `freq1_input` the shader clock in Hz.

The power is the GPU's (the SMU's own reading), not the laptop's: this probe is never the
run's power source; RAPL or a battery stays that.
"""

from __future__ import annotations

import re

from melt.devices.fspath import SysPath
from melt.probes.base import Availability, ProbeInfo, ProbePolicy, ProbeReadError
from melt.probes.channels import Channel, PlannedProbe, ProbePlan
from melt.probes.drm import DRM_TREE, cards, drm_class
from melt.probes.registry import register_probe
from melt.probes.sources import Chosen, Source, choose, fact
from melt.traces.sample import Provenance

AMD = "0x1002"
_HWMON = re.compile(r"hwmon\d+$")
MICRO = 1e6
MILLI = 1000.0


def _sources(hwmon: str | None) -> dict[str, tuple[Source, ...]]:
    """Per channel, its files relative to the card's `device`, best first."""
    hw = [] if hwmon is None else [hwmon]
    return {
        "util": (Source("gpu_busy_percent", "%"),),
        "vram_used": (Source("mem_info_vram_used", "bytes"),),
        "power": tuple(
            Source(f"{h}/{f}", "W", MICRO) for h in hw for f in ("power1_average", "power1_input")
        ),
        "temp": tuple(Source(f"{h}/temp1_input", "°C", MILLI) for h in hw),
        "freq": tuple(Source(f"{h}/freq1_input", "MHz", MICRO) for h in hw),
    }


def _hwmon(device: SysPath) -> str | None:
    folder = device / "hwmon"
    if not folder.is_dir():
        return None
    found = sorted(d.name for d in folder.iterdir() if _HWMON.match(d.name))
    return f"hwmon/{found[0]}" if found else None


@register_probe("amdgpu")
class AmdGpuProbe(PlannedProbe):
    """Channels per card N: `util:cardN` (%, busy), `vram_used:cardN` (bytes), `power:cardN` (W),
    `temp:cardN` (°C), `freq:cardN` (MHz, shader clock), as far as the card has them."""

    name = "amdgpu"
    policy = ProbePolicy("utilisation")
    trees = (DRM_TREE,)

    def __init__(self, root: SysPath) -> None:
        self.root = root
        self.base = drm_class(root)
        self._cards: dict[str, Chosen] | None = None

    def cards(self) -> dict[str, Chosen]:
        if self._cards is None:
            self._cards = {}
            for card in cards(self.root, AMD):
                device = card / "device"
                chosen = choose(device, _sources(_hwmon(device)))
                if "util" in chosen.sources:
                    self._cards[card.name] = chosen
        return self._cards

    def available(self) -> Availability:
        found = self.cards()
        if not found:
            return Availability.absent(
                f"no AMD GPU (vendor {AMD}) with amdgpu's device/gpu_busy_percent under {self.base}"
            )
        return Availability.found(
            "; ".join(f"{name}: {', '.join(c.sources)}" for name, c in found.items())
        )

    def info(self) -> ProbeInfo:
        return ProbeInfo(
            name=self.name,
            signal="gpu busy",
            unit="%",
            provenance=Provenance.MEASURED,
            source=f"amdgpu: {'; '.join(c.described() for c in self.cards().values())}",
            resolution="1 % (busy), 1 byte, 1 µW (SMU average), 1 m°C, 1 Hz as reported",
            facts={
                name: {"vram_total_bytes": fact(c.base / "mem_info_vram_total")} | c.missing
                for name, c in self.cards().items()
            },
            **self.policy.info_fields(),
        )

    def _plan(self) -> ProbePlan:
        steps: list[Channel] = []
        for name, chosen in self.cards().items():
            steps += [
                Channel(self.name, f"{c.channel}:{name}", c.path, c.unit, c.scale, c.parser)
                for c in chosen.channels(self.name)
            ]
        if not steps:
            raise ProbeReadError(f"no amdgpu card under {self.base}")
        return ProbePlan(tuple(steps))
