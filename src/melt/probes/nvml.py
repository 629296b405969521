"""NVIDIA GPUs through NVML (`pynvml` from the `nvidia-ml-py` package, an optional extra), per
GPU: board power (`nvmlDeviceGetPowerUsage`, mW), temperature (°C), SM clock (MHz), GPU and
memory utilisation (`nvmlDeviceGetUtilizationRates`, % of the last sample period), memory used
(`nvmlDeviceGetMemoryInfo`, bytes) and, on Volta and later, the energy counter
(`nvmlDeviceGetTotalEnergyConsumption`, mJ since the driver loaded).

The energy counter is the GPU's own integral of its power: where every GPU has one, the probe
emits it (`energy`, J) and names it in `info().facts["energy_channel"]`, and a run's window
energies are the counter's rises (metrics/energy.py `counter_delta`) rather than the polled
power integrated; the power series stays for timelines and the idle baseline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from melt.devices.fspath import SysPath
from melt.extras import install_hint
from melt.probes.base import Availability, ProbeInfo, ProbePolicy, ProbeReadError
from melt.probes.registry import register_probe
from melt.traces.sample import Provenance, Sample

INSTALL_HINT = install_hint("nvidia")
ENERGY_CHANNEL = "energy"
MILLI = 1000.0

Reading = tuple[str, str, Callable[[Any, Any], float]]

# channel prefix, unit, how one GPU's value is read (nvml module, handle)
READINGS: tuple[Reading, ...] = (
    ("power", "W", lambda nvml, h: nvml.nvmlDeviceGetPowerUsage(h) / MILLI),
    (
        "temp",
        "°C",
        lambda nvml, h: float(nvml.nvmlDeviceGetTemperature(h, nvml.NVML_TEMPERATURE_GPU)),
    ),
    ("sm_clock", "MHz", lambda nvml, h: float(nvml.nvmlDeviceGetClockInfo(h, nvml.NVML_CLOCK_SM))),
    ("util", "%", lambda nvml, h: float(nvml.nvmlDeviceGetUtilizationRates(h).gpu)),
    ("mem_util", "%", lambda nvml, h: float(nvml.nvmlDeviceGetUtilizationRates(h).memory)),
    ("mem_used", "bytes", lambda nvml, h: float(nvml.nvmlDeviceGetMemoryInfo(h).used)),
)


def _energy_j(nvml: Any, handle: Any) -> float:
    return nvml.nvmlDeviceGetTotalEnergyConsumption(handle) / MILLI


@register_probe("nvml")
class NvmlProbe:
    """Channels per GPU N: `power:gpuN` (W), `temp:gpuN` (°C), `sm_clock:gpuN` (MHz),
    `util:gpuN` and `mem_util:gpuN` (%), `mem_used:gpuN` (bytes), `energy:gpuN` (J, where the
    counter exists); `power` and `energy`, the sums over GPUs. `root` is unused: NVML talks to
    the driver, not sysfs."""

    name = "nvml"
    policy = ProbePolicy("power", power_rank=40)

    def __init__(self, root: SysPath) -> None:
        self._nvml: Any = None
        self._handles: list[Any] = []
        self.energy_counter: str | None = None

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
        self.energy_counter = self._energy_counter()
        return Availability.found(f"{count} NVIDIA GPU(s) through NVML")

    def _energy_counter(self) -> str | None:
        """None when every GPU has the energy counter, else why not (the first that lacks it)."""
        nvml = self._nvml
        for i, h in enumerate(self._handles):
            try:
                _energy_j(nvml, h)
            except nvml.NVMLError as exc:
                return f"unavailable: gpu{i} nvmlDeviceGetTotalEnergyConsumption: {exc} (Volta+)"
        return None

    @property
    def has_energy_counter(self) -> bool:
        return self._nvml is not None and self.energy_counter is None

    def info(self) -> ProbeInfo:
        nvml = self._nvml
        names = [str(nvml.nvmlDeviceGetName(h)) for h in self._handles] if nvml else []
        facts: dict[str, Any] = {"gpus": names}
        source = "NVML nvmlDeviceGetPowerUsage (board power)"
        if self.has_energy_counter:
            facts["energy_channel"] = ENERGY_CHANNEL
            source += "; energy from nvmlDeviceGetTotalEnergyConsumption (counter, mJ)"
        elif self.energy_counter is not None:
            facts["energy_counter"] = self.energy_counter
        return ProbeInfo(
            name=self.name,
            signal="gpu power",
            unit="W",
            provenance=Provenance.MEASURED,
            source=source,
            resolution="1 mW as reported (the driver updates it every ~20–100 ms); 1 mJ",
            facts=facts,
            **self.policy.info_fields(),
        )

    def read(self, t_ns: int) -> list[Sample]:
        nvml = self._nvml
        if nvml is None:
            raise ProbeReadError("NVML was not initialised (available() first)")
        samples = []
        totals = {"power": 0.0, ENERGY_CHANNEL: 0.0}
        readings = READINGS + (
            ((ENERGY_CHANNEL, "J", _energy_j),) if self.has_energy_counter else ()
        )
        try:
            for i, h in enumerate(self._handles):
                for channel, unit, read in readings:
                    value = read(nvml, h)
                    samples.append(Sample(t_ns, self.name, f"{channel}:gpu{i}", value, unit))
                    if channel in totals:
                        totals[channel] += value
        except nvml.NVMLError as exc:
            raise ProbeReadError(f"NVML read failed: {exc}") from None
        samples.append(Sample(t_ns, self.name, "power", totals["power"], "W"))
        if self.has_energy_counter:
            samples.append(Sample(t_ns, self.name, ENERGY_CHANNEL, totals[ENERGY_CHANNEL], "J"))
        return samples
