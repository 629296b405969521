from __future__ import annotations

from melt.probes import make_probe
from melt.probes.registry import policy_of

HWMON = "sys/class/drm/card0/device/hwmon/hwmon3"


def test_busy_vram_power_temperature_and_clock(sysfs) -> None:
    probe = make_probe("amdgpu", sysfs("amdgpu"))
    assert probe.available().ok
    got = {s.channel: (s.value, s.unit) for s in probe.read(0)}
    assert got == {
        "util:card0": (83.0, "%"),
        "vram_used:card0": (2147483648.0, "bytes"),
        "power:card0": (95.0, "W"),
        "temp:card0": (61.0, "°C"),
        "freq:card0": (2450.0, "MHz"),
    }
    assert probe.info().facts["card0"]["vram_total_bytes"] == "8573157376"
    assert policy_of("amdgpu").power_rank is None  # the GPU's power, never the run's


def test_power1_input_where_there_is_no_average(sysfs, write) -> None:
    root = sysfs("amdgpu")
    (root / HWMON / "power1_average").unlink()
    write(root / HWMON / "power1_input", 41500000)
    got = {s.channel: s.value for s in make_probe("amdgpu", root).read(0)}
    assert got["power:card0"] == 41.5


def test_without_hwmon_the_rest_is_read_and_the_gap_said(sysfs) -> None:
    root = sysfs("amdgpu")
    for f in (root / HWMON).iterdir():
        f.unlink()
    (root / HWMON).rmdir()
    probe = make_probe("amdgpu", root)
    assert {s.channel for s in probe.read(0)} == {"util:card0", "vram_used:card0"}
    assert probe.info().facts["card0"]["power"].startswith("unavailable")
