from __future__ import annotations

from melt.probes import make_probe


def test_i915_and_xe_requested_and_actual_clock(sysfs) -> None:
    probe = make_probe("intel_gpu", sysfs("intel_gpu"))
    assert probe.available().reason == "card0 (i915), card1 (xe)"
    got = {s.channel: (s.value, s.unit) for s in probe.read(0)}
    assert got == {
        "cur_freq:card0": (1100.0, "MHz"),
        "act_freq:card0": (1050.0, "MHz"),
        "cur_freq:card1": (2000.0, "MHz"),
        "act_freq:card1": (1950.0, "MHz"),
    }
    facts = probe.info().facts
    assert facts["card0"]["gt_RP0_freq_mhz"] == "1300" and facts["card1"]["rp0_freq"] == "2400"


def test_another_vendors_card_is_not_read(sysfs, write) -> None:
    root = sysfs("intel_gpu")
    write(root / "sys/class/drm/card1/device/vendor", "0x10de")
    assert {s.channel for s in make_probe("intel_gpu", root).read(0)} == {
        "cur_freq:card0",
        "act_freq:card0",
    }
    assert not make_probe("intel_gpu", sysfs("amdgpu")).available().ok
