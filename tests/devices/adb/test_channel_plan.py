"""One channel plan for every sampler: the phone's sh loop reads what the in-process sampler
reads from the same sysfs fixture, and a probe registered once is sampled on the phone."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.fixtures.adb.harness import FakePhone

from melt.devices.adb import AdbDevice
from melt.devices.android_sampler import AndroidSampler
from melt.devices.fspath import SysPath
from melt.probes import detect, registry
from melt.probes.base import Availability, ProbeInfo, ProbePolicy
from melt.probes.channels import Channel, Derived, PlannedProbe, ProbePlan
from melt.runners.android_probes import detect_phone_probes
from melt.traces.sample import Provenance, Sample


def _one_tick(device: AdbDevice, plan: ProbePlan) -> list[Sample]:
    sampler = AndroidSampler.start(device, plan, 0.0, device.clock_source().key, count=1)
    samples = list(sampler.samples())
    sampler.process.wait(30)
    return samples


def _phone_plan(device: AdbDevice) -> ProbePlan:
    found = detect_phone_probes(device, {})
    return sum((p.plan() for p in found.probes), ProbePlan())  # type: ignore[attr-defined]


def _relative(plan: ProbePlan, root: str) -> list[tuple[object, ...]]:
    """The plan's steps with each file as a device path (the fixture root taken off)."""
    out: list[tuple[object, ...]] = []
    for step in plan.steps:
        if isinstance(step, Channel):
            path = "/" + str(Path(step.path).relative_to(root)) if root else step.path
            out.append((step.probe, step.channel, path, step.unit, step.scale, step.parser))
        elif isinstance(step, Derived):
            out.append((step.probe, step.channel, step.unit, step.op, step.inputs, step.args))
        else:
            out.append((step.probe, step.channel, step.unit, step.input, step.per, step.wrap))
    return out


def test_the_phone_and_the_in_process_sampler_run_one_plan(
    device: AdbDevice, phone: FakePhone
) -> None:
    here = detect(phone.root, runs_on=("device",))
    planned = [p for p in here.probes if isinstance(p, PlannedProbe)]
    local_plan = sum((p.plan() for p in planned), ProbePlan())
    phone_plan = _phone_plan(device)
    assert {p.name for p in planned} == {"battery", "cpu", "cpufreq", "thermal", "kgsl", "devfreq"}
    assert _relative(phone_plan, "") == _relative(local_plan, str(phone.root))

    local = {(s.probe, s.channel): (s.value, s.unit) for p in planned for s in p.read(1)}
    on_phone = {(s.probe, s.channel): (s.value, s.unit) for s in _one_tick(device, phone_plan)}
    assert on_phone == local
    # battery, two zones, eight cores, the Adreno GPU, the memory bus's devfreq
    assert len(local) == 6 + 2 + 8 + 3 + 1
    assert local["battery", "power"] == (pytest.approx(3.987 * 0.512), "W")
    assert on_phone["kgsl", "util"] == (37.0, "%")
    assert on_phone["kgsl", "freq"] == (680.0, "MHz")
    assert on_phone["kgsl", "temp"] == (48.3, "°C")


class UsbInputProbe(PlannedProbe):
    """A probe written once, in this test: the USB supply's input voltage."""

    name = "usb_input"
    policy = ProbePolicy("power")

    def __init__(self, root: SysPath) -> None:
        self.root = root
        self.file = root / "sys" / "class" / "power_supply" / "usb" / "voltage_now"

    def available(self) -> Availability:
        return Availability.found(str(self.file))

    def info(self) -> ProbeInfo:
        return ProbeInfo(
            self.name, "usb input voltage", "V", Provenance.MEASURED, str(self.file), "1 µV"
        )

    def _plan(self) -> ProbePlan:
        return ProbePlan((Channel(self.name, "voltage", str(self.file), "V", scale=1e6),))


@pytest.fixture
def usb_probe_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    registry.probe_names()  # the built-in probes first, then a copy the test may extend
    monkeypatch.setattr(registry, "_PROBES", dict(registry._PROBES))
    monkeypatch.setattr(registry, "_POLICIES", dict(registry._POLICIES))
    registry.register_probe("usb_input")(UsbInputProbe)


def test_a_probe_registered_once_is_sampled_on_the_phone(
    device: AdbDevice, phone: FakePhone, usb_probe_registered: None
) -> None:
    found = detect_phone_probes(device, {})
    assert "usb_input" in {p.name for p in found.probes}
    plan = _phone_plan(device)
    assert "/sys/class/power_supply/usb/voltage_now" in plan.files()
    (phone.root / "sys/class/power_supply/usb/voltage_now").write_text("5012000\n")
    tick = {(s.probe, s.channel): s for s in _one_tick(device, plan)}
    assert tick["usb_input", "voltage"].value == 5.012
    assert tick["usb_input", "voltage"].unit == "V"
