"""Intel GPUs: the graphics clock, requested and actual (MHz).

- i915 (drivers/gpu/drm/i915/gt/intel_gt_sysfs_pm.c): /sys/class/drm/cardN/gt_cur_freq_mhz
  (the frequency the driver requested) and gt_act_freq_mhz (what the hardware runs at, 0
  while the GT sleeps in RC6); limits gt_min/max/boost/RP0/RPn_freq_mhz.
- xe (drivers/gpu/drm/xe/xe_gt_freq.c): cardN/device/tile0/gt0/freq0/cur_freq and
  act_freq (MHz); limits min_freq, max_freq, rp0_freq, rpn_freq.

Channels per card: `cur_freq:cardN` and `act_freq:cardN`.
"""

from __future__ import annotations

from dataclasses import dataclass

from melt.devices.fspath import SysPath
from melt.probes.base import Availability, ProbeInfo, ProbePolicy, ProbeReadError
from melt.probes.channels import Channel, PlannedProbe, ProbePlan
from melt.probes.drm import DRM_TREE, cards, drm_class
from melt.probes.registry import register_probe
from melt.probes.sources import Source, choose, fact
from melt.traces.sample import Provenance

INTEL = "0x8086"
XE_GT = "device/tile0/gt0/freq0"


@dataclass(frozen=True, slots=True)
class Driver:
    """Where a driver keeps the GT clock files, and their names (all in MHz)."""

    name: str
    folder: str
    cur: str
    act: str
    limits: tuple[str, ...]


DRIVERS = (
    Driver(
        "i915",
        "",
        "gt_cur_freq_mhz",
        "gt_act_freq_mhz",
        (
            "gt_min_freq_mhz",
            "gt_max_freq_mhz",
            "gt_boost_freq_mhz",
            "gt_RP0_freq_mhz",
            "gt_RPn_freq_mhz",
        ),
    ),
    Driver("xe", XE_GT, "cur_freq", "act_freq", ("min_freq", "max_freq", "rp0_freq", "rpn_freq")),
)


@dataclass(frozen=True, slots=True)
class Card:
    card: SysPath
    driver: Driver

    @property
    def folder(self) -> SysPath:
        return self.card / self.driver.folder if self.driver.folder else self.card


def _driver(card: SysPath) -> Driver | None:
    for driver in DRIVERS:
        gt = card / driver.folder if driver.folder else card
        if (gt / driver.cur).exists():
            return driver
    return None


@register_probe("intel_gpu")
class IntelGpuProbe(PlannedProbe):
    name = "intel_gpu"
    policy = ProbePolicy("frequency")
    trees = (DRM_TREE,)

    def __init__(self, root: SysPath) -> None:
        self.root = root
        self.base = drm_class(root)
        self._cards: list[Card] | None = None

    def cards(self) -> list[Card]:
        if self._cards is None:
            self._cards = [
                Card(card, driver)
                for card in cards(self.root, INTEL)
                if (driver := _driver(card)) is not None
            ]
        return self._cards

    def available(self) -> Availability:
        found = self.cards()
        if not found:
            return Availability.absent(
                f"no Intel GPU (vendor {INTEL}) with i915's gt_cur_freq_mhz or xe's "
                f"{XE_GT}/cur_freq under {self.base}"
            )
        return Availability.found(", ".join(f"{c.card.name} ({c.driver.name})" for c in found))

    def info(self) -> ProbeInfo:
        return ProbeInfo(
            name=self.name,
            signal="gpu frequency",
            unit="MHz",
            provenance=Provenance.MEASURED,
            source="; ".join(f"{c.folder}/{c.driver.cur}, {c.driver.act}" for c in self.cards()),
            resolution="1 MHz",
            facts={
                c.card.name: {"driver": c.driver.name}
                | {f: fact(c.folder / f) for f in c.driver.limits}
                for c in self.cards()
            },
            **self.policy.info_fields(),
        )

    def _plan(self) -> ProbePlan:
        steps: list[Channel] = []
        for c in self.cards():
            options = {
                f"cur_freq:{c.card.name}": (Source(c.driver.cur, "MHz"),),
                f"act_freq:{c.card.name}": (Source(c.driver.act, "MHz"),),
            }
            steps += choose(c.folder, options).channels(self.name)
        if not steps:
            raise ProbeReadError(f"no Intel GPU clock file under {self.base}")
        return ProbePlan(tuple(steps))
