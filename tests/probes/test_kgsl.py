from __future__ import annotations

import pytest

from melt.probes import ProbeReadError, make_probe

KGSL = "sys/class/kgsl/kgsl-3d0"


def test_adreno_busy_clock_and_temperature(sysfs) -> None:
    probe = make_probe("kgsl", sysfs("android_phone"))
    assert probe.available().ok
    got = {s.channel: (s.value, s.unit) for s in probe.read(0)}
    assert got == {"util": (37.0, "%"), "freq": (680.0, "MHz"), "temp": (48.3, "°C")}
    facts = probe.info().facts
    assert facts["gpu_model"] == "Adreno740v2" and facts["max_gpuclk_mhz"] == 680.0


def test_older_kernels_gpubusy_and_gpuclk_and_no_thermal_zone(sysfs, write) -> None:
    root = sysfs("android_phone")
    (root / KGSL / "gpu_busy_percentage").unlink()
    (root / KGSL / "devfreq" / "cur_freq").unlink()
    write(root / KGSL / "gpuclk", 587000000)
    write(root / KGSL / "temp", "")  # kgsl prints nothing without a GPU thermal zone
    probe = make_probe("kgsl", root)
    got = {s.channel: s.value for s in probe.read(0)}
    assert got == pytest.approx({"util": 100 * 41250 / 111486, "freq": 587.0})
    assert probe.info().facts["temp"].startswith("unavailable: no readable temp")


def test_an_idle_window_is_zero_busy_and_garbage_names_the_file(sysfs, write) -> None:
    root = sysfs("android_phone")
    (root / KGSL / "gpu_busy_percentage").unlink()
    write(root / KGSL / "gpubusy", "      0       0")
    probe = make_probe("kgsl", root)
    assert {s.channel: s.value for s in probe.read(0)}["util"] == 0.0
    write(root / KGSL / "gpubusy", "busy")
    with pytest.raises(ProbeReadError, match="gpubusy holds 'busy'"):
        probe.read(1)


def test_no_kgsl_is_absent_and_says_where_it_looked(sysfs) -> None:
    availability = make_probe("kgsl", sysfs("jetson_orin_nano")).available()
    assert not availability.ok
    assert "sys/class/kgsl/kgsl-3d0" in availability.reason
