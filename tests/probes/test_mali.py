from __future__ import annotations

import pytest

from melt.probes import make_probe

DEVICE = "sys/class/misc/mali0/device"


def test_rockchip_utilisation_and_devfreq_clock(sysfs) -> None:
    probe = make_probe("mali", sysfs("mali_kbase"))
    assert probe.available().ok
    got = {s.channel: (s.value, s.unit) for s in probe.read(0)}
    assert got == {"util": (64.0, "%"), "freq": (800.0, "MHz")}
    assert probe.info().facts["gpuinfo"].startswith("Mali-G610")


def test_kbase_debugfs_dvfs_utilization_without_the_platform_file(sysfs, write) -> None:
    root = sysfs("mali_kbase")
    (root / DEVICE / "utilisation").unlink()
    probe = make_probe("mali", root)
    got = {s.channel: s.value for s in probe.read(0)}
    assert got["util"] == pytest.approx(100 * 1200 / (1200 + 2800))
    write(
        root / "sys/kernel/debug/mali0/dvfs_utilization",
        "busy_time: 30 idle_time: 10 protm_time: 10",
    )
    assert {s.channel: s.value for s in probe.read(1)}["util"] == pytest.approx(80.0)


def test_no_readable_utilisation_says_unavailable(sysfs) -> None:
    root = sysfs("mali_kbase")
    (root / DEVICE / "utilisation").unlink()
    (root / "sys/kernel/debug/mali0/dvfs_utilization").unlink()
    probe = make_probe("mali", root)
    assert {s.channel for s in probe.read(0)} == {"freq"}
    assert probe.info().facts["util"].startswith("unavailable: no readable")
    assert not make_probe("mali", sysfs("android_phone")).available().ok
