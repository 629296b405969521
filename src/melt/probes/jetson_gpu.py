"""The integrated GPU of an NVIDIA Jetson (nvgpu driver): load and clock.

Found the way jetson-stats (jtop/core/gpu.py) finds it: among /sys/class/devfreq/<node>, the
one whose `device/of_node/name` is an nvgpu GPU (`gp10b` TX2, `gv11b` Xavier, `ga10b` Orin on
L4T 35, `gpu` Orin on L4T 36); its devfreq `cur_freq` is the GPU clock (Hz) and the device's
`load` (nvgpu's sysfs, the file /sys/devices/gpu.0/load links to) is the busy fraction of the
last window in per-mille (0–1000). nvgpu also has `railgate_enable` there, which this probe
requires so that another vendor's GPU named `gpu` in its device tree is not taken for one.

The GPU's power is the INA3221 rail that feeds it (`ina3221` probe; VDD_CPU_GPU_CV on an Orin
Nano/NX, VDD_GPU_SOC on an AGX Orin); `info().facts["power_rails"]` names those found.
"""

from __future__ import annotations

from melt.devices.fspath import SysPath
from melt.probes.base import (
    Availability,
    ProbeInfo,
    ProbePolicy,
    ProbeReadError,
    read_int,
)
from melt.probes.channels import Channel, PlannedProbe, ProbePlan
from melt.probes.devfreq import DEVFREQ_TREE, DevfreqNode, devfreq_class, devfreq_nodes
from melt.probes.ina3221 import Ina3221Probe
from melt.probes.registry import register_probe
from melt.probes.sources import fact
from melt.traces.sample import Provenance

NVGPU_NAMES = frozenset({"gp10b", "gv11b", "ga10b", "gpu"})
PER_MILLE_PER_PERCENT = 10.0


def _device(node: DevfreqNode) -> SysPath:
    return node.path / "device"


@register_probe("jetson_gpu")
class JetsonGpuProbe(PlannedProbe):
    """Channels `util` (%, the load file) and `freq` (MHz) of the Jetson's GPU."""

    name = "jetson_gpu"
    policy = ProbePolicy("utilisation")
    trees = (DEVFREQ_TREE,)

    def __init__(self, root: SysPath) -> None:
        self.root = root
        self.base = devfreq_class(root)
        self._gpus: list[DevfreqNode] | None = None

    @classmethod
    def claims_devfreq(cls, node: DevfreqNode) -> bool:
        device = _device(node)
        return (
            (device / "load").exists()
            and (device / "railgate_enable").exists()
            and fact(device / "of_node" / "name") in NVGPU_NAMES
        )

    def gpu(self) -> DevfreqNode | None:
        if self._gpus is None:
            self._gpus = [n for n in devfreq_nodes(self.root) if self.claims_devfreq(n)]
        return self._gpus[0] if self._gpus else None

    def available(self) -> Availability:
        gpu = self.gpu()
        if gpu is None:
            return Availability.absent(
                f"no nvgpu GPU under {self.base} (a devfreq device whose of_node name is one "
                f"of {', '.join(sorted(NVGPU_NAMES))}, with nvgpu's load file)"
            )
        try:
            read_int(_device(gpu) / "load")
        except ProbeReadError as exc:
            return Availability.absent(str(exc))
        return Availability.found(f"Jetson GPU {gpu.name} under {self.base}")

    def info(self) -> ProbeInfo:
        gpu = self.gpu()
        rails = [r.label for r in Ina3221Probe(self.root).rails() if "GPU" in r.label]
        return ProbeInfo(
            name=self.name,
            signal="gpu load",
            unit="%",
            provenance=Provenance.MEASURED,
            source=f"{self.base}/<gpu>/device/load (per-mille) and cur_freq (Hz), nvgpu",
            resolution="0.1 % (load), 1 Hz (clock) as reported",
            facts=({} if gpu is None else gpu.facts()) | {"power_rails": rails},
            **self.policy.info_fields(),
        )

    def _plan(self) -> ProbePlan:
        gpu = self.gpu()
        if gpu is None:
            raise ProbeReadError(f"no nvgpu GPU under {self.base}")
        load = str(_device(gpu) / "load")
        return ProbePlan(
            (
                Channel(self.name, "util", load, "%", scale=PER_MILLE_PER_PERCENT),
                gpu.channel(self.name, "freq"),
            )
        )
