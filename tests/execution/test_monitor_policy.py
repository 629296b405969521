"""Power-source choice is the probes' declared policy, not a list of names in the monitor."""

from __future__ import annotations

from pathlib import Path

import pytest

from melt.devices.fspath import SysPath
from melt.execution.monitor import BenchMonitor
from melt.execution.monitor_settings import ProbeSettings
from melt.probes import registry
from melt.probes.base import Availability, ProbeInfo, ProbePolicy
from melt.probes.channels import Channel, PlannedProbe, ProbePlan
from melt.traces.sample import Provenance

PHONE = Path(__file__).parent.parent / "fixtures" / "sysfs" / "android_phone"


class UsbSupplyProbe(PlannedProbe):
    """The phone's USB supply as a power meter, ranked above its battery."""

    name = "usb_supply"
    policy = ProbePolicy("power", power_rank=5)

    def __init__(self, root: SysPath) -> None:
        self.root = root
        self.dir = root / "sys" / "class" / "power_supply" / "usb"

    def available(self) -> Availability:
        return Availability.found(str(self.dir))

    def info(self) -> ProbeInfo:
        return ProbeInfo(
            self.name,
            "usb power",
            "W",
            Provenance.MEASURED,
            f"{self.dir}/voltage_now × current_now",
            "1 µV × 1 µA",
            **self.policy.info_fields(),
        )

    def _plan(self) -> ProbePlan:
        n = self.name
        return ProbePlan(
            (
                Channel(n, "voltage", str(self.dir / "voltage_now"), "V", scale=1e6),
                Channel(n, "current", str(self.dir / "current_now"), "A", scale=1e6),
            )
        )


@pytest.fixture
def isolated_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    registry.probe_names()
    monkeypatch.setattr(registry, "_PROBES", dict(registry._PROBES))
    monkeypatch.setattr(registry, "_POLICIES", dict(registry._POLICIES))


def test_a_registered_power_probe_of_a_better_rank_is_the_power_source(
    isolated_registry: None,
) -> None:
    assert BenchMonitor.detect(ProbeSettings(root=PHONE)).power.probe == "battery"  # type: ignore[union-attr]
    registry.register_probe("usb_supply")(UsbSupplyProbe)
    monitor = BenchMonitor.detect(ProbeSettings(root=PHONE))
    assert monitor.power is not None
    assert (monitor.power.probe, monitor.power.current_channel) == ("usb_supply", None)
    assert monitor.power.charge_full_mah is None  # a battery's capacity only with its current


def test_a_probe_without_a_policy_is_refused_at_registration(isolated_registry: None) -> None:
    class Nameless:
        name = "nameless"

    with pytest.raises(TypeError, match="declares no `policy"):
        registry.register_probe("nameless")(Nameless)  # type: ignore[arg-type]
