"""Arm Mali GPUs through Arm's kbase driver: utilisation and clock.

kbase registers the misc device `mali0`, so /sys/class/misc/mali0/device is the GPU's
platform device (e.g. `fb000000.gpu` on an RK3588). Utilisation, first that reads:

- `device/utilisation`: % busy over the last `utilisation_period`, from the Rockchip platform
  glue of the kbase driver in Rockchip's BSP kernels;
- `/sys/kernel/debug/mali0/dvfs_utilization`: Arm's kbase debugfs
  (`mali_kbase_dvfs_debugfs.c`), `busy_time: N idle_time: N` of the last DVFS window (CSF GPUs
  add `protm_time`); debugfs needs root, so on a stock phone this says unavailable.

Clock: the GPU's devfreq device under `device/devfreq/<name>/cur_freq` (Hz), kbase's
devfreq (`mali_kbase_devfreq.c`). Mainline's panfrost/panthor GPUs have no utilisation file;
their devfreq node is recorded by the generic `devfreq` probe.
"""

from __future__ import annotations

from melt.devices.fspath import SysPath
from melt.probes import busy  # noqa: F401  (registers the `busy_idle` parser)
from melt.probes.base import Availability, ProbeInfo, ProbePolicy, ProbeReadError
from melt.probes.channels import PlannedProbe, ProbePlan
from melt.probes.devfreq import HZ_PER_MHZ, DevfreqNode
from melt.probes.registry import register_probe
from melt.probes.sources import Chosen, Source, choose, fact
from melt.traces.sample import Provenance

MISC_DEVICE = "sys/class/misc/mali0/device"
UTILISATION = (
    Source(f"{MISC_DEVICE}/utilisation", "%"),
    Source("sys/kernel/debug/mali0/dvfs_utilization", "%", parser="busy_idle"),
)


@register_probe("mali")
class MaliProbe(PlannedProbe):
    """Channels `util` (%) and `freq` (MHz) of the Mali GPU, as far as they read."""

    name = "mali"
    policy = ProbePolicy("utilisation")
    # not deeper: with symlinks followed, device/subsystem/... reaches every platform device
    trees = (("sys/class/misc/mali0", 2),)

    def __init__(self, root: SysPath) -> None:
        self.root = root
        self.device = root / MISC_DEVICE
        self._chosen: Chosen | None = None

    @classmethod
    def claims_devfreq(cls, node: DevfreqNode) -> bool:
        """kbase's GPU device holds the `mali0` misc device (`<gpu>/misc/mali0`)."""
        misc = node.path / "device" / "misc"
        return misc.is_dir() and (misc / "mali0").is_dir()

    def _devfreq_dir(self) -> str | None:
        """The GPU's devfreq folder, relative to the root."""
        devfreq = self.device / "devfreq"
        if not devfreq.is_dir():
            return None
        names = sorted(d.name for d in devfreq.iterdir())
        return f"{MISC_DEVICE}/devfreq/{names[0]}" if names else None

    def chosen(self) -> Chosen:
        if self._chosen is None:
            found = self._devfreq_dir()
            freq = () if found is None else (Source(f"{found}/cur_freq", "MHz", HZ_PER_MHZ),)
            self._chosen = choose(self.root, {"util": UTILISATION, "freq": freq})
        return self._chosen

    def available(self) -> Availability:
        if not self.device.is_dir():
            return Availability.absent(f"no Mali kbase GPU: no {self.device}")
        chosen = self.chosen()
        if not chosen.sources:
            return Availability.absent(
                f"Mali GPU at {self.device} with no readable utilisation or devfreq file"
            )
        return Availability.found(f"Mali GPU at {self.device}: {', '.join(chosen.sources)}")

    def info(self) -> ProbeInfo:
        chosen = self.chosen()
        devfreq = self._devfreq_dir()
        return ProbeInfo(
            name=self.name,
            signal="gpu utilisation",
            unit="%",
            provenance=Provenance.MEASURED,
            source=f"Mali kbase: {chosen.described()}",
            resolution="1 % (utilisation), 1 Hz (clock) as reported",
            facts={
                "gpuinfo": fact(self.device / "gpuinfo"),
                "governor": None if devfreq is None else fact(self.root / devfreq / "governor"),
            }
            | chosen.missing,
            **self.policy.info_fields(),
        )

    def _plan(self) -> ProbePlan:
        channels = self.chosen().channels(self.name)
        if not channels:
            raise ProbeReadError(f"no readable Mali file under {self.device}")
        return ProbePlan(channels)
