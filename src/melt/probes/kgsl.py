"""Qualcomm Adreno GPUs through the kgsl driver (msm kernels' drivers/gpu/msm/kgsl_pwrctrl.c),
/sys/class/kgsl/kgsl-3d0:

- busy: `gpu_busy_percentage` (`"%d %%"`, busy share of the last window) where the kernel has
  it, else `gpubusy` (busy and total time of the last window, `"%7d %7d"`);
- clock: `devfreq/cur_freq` (Hz, the GPU's devfreq device) where present, else `gpuclk` (Hz);
- temperature: `temp` (the GPU thermal zone's reading, m°C), where the kernel names a zone
  (it prints nothing otherwise).

`gpu_model` and `max_gpuclk` (Hz) are recorded as facts.
"""

from __future__ import annotations

from melt.devices.fspath import SysPath
from melt.probes import busy  # noqa: F401  (registers the `percent` and `busy_total` parsers)
from melt.probes.base import Availability, ProbeInfo, ProbePolicy, ProbeReadError
from melt.probes.channels import PlannedProbe, ProbePlan
from melt.probes.devfreq import HZ_PER_MHZ, DevfreqNode
from melt.probes.registry import register_probe
from melt.probes.sources import Chosen, Source, choose, fact
from melt.traces.sample import Provenance

MILLI = 1000.0

# per channel, the files that give it, best first
SOURCES: dict[str, tuple[Source, ...]] = {
    "util": (
        Source("gpu_busy_percentage", "%", parser="percent"),
        Source("gpubusy", "%", parser="busy_total"),
    ),
    "freq": (Source("devfreq/cur_freq", "MHz", HZ_PER_MHZ), Source("gpuclk", "MHz", HZ_PER_MHZ)),
    "temp": (Source("temp", "°C", MILLI),),
}


def _mhz(text: str | None) -> float | None:
    return int(text) / HZ_PER_MHZ if text and text.isdigit() else None


@register_probe("kgsl")
class KgslProbe(PlannedProbe):
    """Channels `util` (%, busy), `freq` (MHz) and `temp` (°C) of the Adreno GPU, each from the
    first of its files that reads (see `SOURCES`)."""

    name = "kgsl"
    policy = ProbePolicy("utilisation")
    trees = (("sys/class/kgsl", 3),)

    def __init__(self, root: SysPath) -> None:
        self.root = root
        self.device = root / "sys" / "class" / "kgsl" / "kgsl-3d0"
        self._chosen: Chosen | None = None

    @classmethod
    def claims_devfreq(cls, node: DevfreqNode) -> bool:
        """The GPU's devfreq device (e.g. `3d00000.qcom,kgsl-3d0`) is read here."""
        return "kgsl" in node.name

    def chosen(self) -> Chosen:
        if self._chosen is None:
            self._chosen = choose(self.device, SOURCES)
        return self._chosen

    def available(self) -> Availability:
        if not self.device.is_dir():
            return Availability.absent(f"no Adreno GPU: no {self.device}")
        chosen = self.chosen()
        if not chosen.sources:
            return Availability.absent("; ".join(chosen.missing.values()))
        return Availability.found(f"Adreno GPU at {self.device}: {', '.join(chosen.sources)}")

    def info(self) -> ProbeInfo:
        chosen = self.chosen()
        return ProbeInfo(
            name=self.name,
            signal="gpu busy",
            unit="%",
            provenance=Provenance.MEASURED,
            source=f"kgsl: {chosen.described()}",
            resolution="1 % (busy), 1 Hz (clock), 0.001 °C as reported",
            facts={
                "gpu_model": fact(self.device / "gpu_model"),
                "max_gpuclk_mhz": _mhz(fact(self.device / "max_gpuclk")),
                "governor": fact(self.device / "devfreq" / "governor"),
            }
            | chosen.missing,
            **self.policy.info_fields(),
        )

    def _plan(self) -> ProbePlan:
        channels = self.chosen().channels(self.name)
        if not channels:
            raise ProbeReadError(f"no readable kgsl file in {self.device}")
        return ProbePlan(channels)
