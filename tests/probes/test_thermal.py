from __future__ import annotations

import pytest

from melt.probes import make_probe
from melt.probes.thermal import ThermalProbe

THERMAL = "sys/class/thermal"


def test_laptop_zones_temperatures_and_trip_points(sysfs) -> None:
    probe = make_probe("thermal", sysfs("thermal_zones"))
    assert probe.available().ok
    temps = {s.channel: s.value for s in probe.read(5)}
    assert temps == pytest.approx(
        {
            "acpitz": 27.8,
            "x86_pkg_temp": 52.0,
            "iwlwifi_1": 41.0,
            "INT3400 Thermal": 20.0,
            "pch_cannonlake": 44.0,
        }
    )
    facts = probe.info().facts
    assert facts["acpitz"]["trip_points_c"] == [{"type": "critical", "temp_c": 98.0}]
    assert facts["x86_pkg_temp"]["zone"] == "thermal_zone1"
    assert len(facts["x86_pkg_temp"]["trip_points_c"]) == 2


def test_duplicate_types_get_the_zone_number(sysfs, write) -> None:
    root = sysfs("jetson_orin_nano")
    write(root / THERMAL / "thermal_zone1/type", "cpu-thermal")
    channels = {s.channel for s in make_probe("thermal", root).read(0)}
    assert channels == {"cpu-thermal#0", "cpu-thermal#1"}


def test_unreadable_and_garbage_zones_are_skipped_with_reason(sysfs, write, unreadable) -> None:
    root = sysfs("thermal_zones")
    unreadable(root / THERMAL / "thermal_zone2/temp")
    write(root / THERMAL / "thermal_zone3/temp", "N/A")
    probe = ThermalProbe(root)
    assert {s.channel for s in probe.read(0)} == {"acpitz", "x86_pkg_temp", "pch_cannonlake"}
    assert set(probe.skipped) == {"thermal_zone2", "thermal_zone3"}
    assert "holds 'N/A'" in probe.skipped["thermal_zone3"]


def test_no_zones_is_absent(tmp_path) -> None:
    (tmp_path / THERMAL).mkdir(parents=True)
    availability = make_probe("thermal", tmp_path).available()
    assert not availability.ok
    assert "no thermal zones" in availability.reason
