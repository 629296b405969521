"""NVIDIA GPUs through NVML (`pynvml` from the `nvidia-ml-py` package, an optional extra):
board power (`nvmlDeviceGetPowerUsage`, mW), GPU temperature (°C) and SM clock (MHz) per GPU.

melt never runs a model on a GPU itself; this probe is for frameworks that do.
"""

from __future__ import annotations

from typing import Any

from melt.devices.fspath import SysPath
from melt.extras import install_hint
from melt.probes.base import Availability, ProbeInfo, ProbePolicy, ProbeReadError
from melt.probes.registry import register_probe
from melt.traces.sample import Provenance, Sample

INSTALL_HINT = install_hint("nvidia")


@register_probe("nvml")
class NvmlProbe:
    """Channels per GPU N: `power:gpuN` (W), `temp:gpuN` (°C), `sm_clock:gpuN` (MHz), and
    `power`, the sum over GPUs. `root` is unused: NVML talks to the driver, not sysfs."""

    name = "nvml"
    policy = ProbePolicy("power", power_rank=40)

    def __init__(self, root: SysPath) -> None:
        self._nvml: Any = None
        self._handles: list[Any] = []

    def available(self) -> Availability:
        try:
            import pynvml
        except ImportError:
            return Availability.absent(f"pynvml is not installed ({INSTALL_HINT})")
        try:
            pynvml.nvmlInit()
            count = pynvml.nvmlDeviceGetCount()
        except pynvml.NVMLError as exc:
            return Availability.absent(f"NVML unavailable: {exc}")
        if count == 0:
            return Availability.absent("NVML found no GPU")
        self._nvml = pynvml
        self._handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        return Availability.found(f"{count} NVIDIA GPU(s) through NVML")

    def info(self) -> ProbeInfo:
        nvml = self._nvml
        names = [str(nvml.nvmlDeviceGetName(h)) for h in self._handles] if nvml else []
        return ProbeInfo(
            name=self.name,
            signal="gpu power",
            unit="W",
            provenance=Provenance.MEASURED,
            source="NVML nvmlDeviceGetPowerUsage (board power)",
            resolution="1 mW as reported (the driver updates it every ~20–100 ms)",
            facts={"gpus": names},
            **self.policy.info_fields(),
        )

    def read(self, t_ns: int) -> list[Sample]:
        nvml = self._nvml
        if nvml is None:
            raise ProbeReadError("NVML was not initialised (available() first)")
        samples = []
        total = 0.0
        try:
            for i, h in enumerate(self._handles):
                watts = nvml.nvmlDeviceGetPowerUsage(h) / 1000.0
                total += watts
                samples.append(Sample(t_ns, self.name, f"power:gpu{i}", watts, "W"))
                temp = nvml.nvmlDeviceGetTemperature(h, nvml.NVML_TEMPERATURE_GPU)
                samples.append(Sample(t_ns, self.name, f"temp:gpu{i}", float(temp), "°C"))
                clock = nvml.nvmlDeviceGetClockInfo(h, nvml.NVML_CLOCK_SM)
                samples.append(Sample(t_ns, self.name, f"sm_clock:gpu{i}", float(clock), "MHz"))
        except nvml.NVMLError as exc:
            raise ProbeReadError(f"NVML read failed: {exc}") from None
        samples.append(Sample(t_ns, self.name, "power", total, "W"))
        return samples
