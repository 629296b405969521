from __future__ import annotations

import pytest

from melt.probes import make_probe
from melt.probes.battery import BatteryProbe, discharge_current_a

BATTERY = "sys/class/power_supply/battery"


def test_phone_battery_power_current_and_gauges(sysfs) -> None:
    probe = make_probe("battery", sysfs("android_phone"))
    assert probe.available().ok
    values = {(s.channel, s.unit): s.value for s in probe.read(7)}
    assert values == pytest.approx(
        {
            ("power", "W"): 3.987 * 0.512,
            ("current", "A"): 0.512,
            ("voltage", "V"): 3.987,
            ("charging", "bool"): 0.0,
            ("capacity", "%"): 87.0,
            ("temp", "°C"): 31.2,
        }
    )
    facts = probe.info().facts
    assert facts["supply"] == "battery"
    assert facts["charge_full_mah"] == pytest.approx(4410.0)
    assert facts["charge_full_design_mah"] == pytest.approx(4614.0)


@pytest.mark.parametrize(
    ("current_ua", "status", "sign", "amps"),
    [
        (512000, "Discharging", "auto", 0.512),
        (-512000, "Discharging", "auto", 0.512),
        (300000, "Charging", "auto", -0.3),
        (-300000, "Charging", "auto", -0.3),
        (-200000, "Full", "auto", 0.2),
        (-200000, "Unknown", "abi", 0.2),
        (200000, "Unknown", "inverted", 0.2),
    ],
)
def test_discharge_current_sign_convention(current_ua, status, sign, amps) -> None:
    assert discharge_current_a(current_ua, status, sign) == pytest.approx(amps)


def test_charging_battery_reports_negative_discharge_power(sysfs, write) -> None:
    root = sysfs("android_phone")
    write(root / BATTERY / "status", "Charging")
    write(root / BATTERY / "current_now", -900000)
    values = {s.channel: s.value for s in make_probe("battery", root).read(0)}
    assert values["current"] == pytest.approx(-0.9)
    assert values["power"] == pytest.approx(-3.987 * 0.9)
    assert values["charging"] == 1.0


def test_missing_optional_files_leave_out_their_channels(sysfs) -> None:
    root = sysfs("android_phone")
    (root / BATTERY / "temp").unlink()
    (root / BATTERY / "capacity").unlink()
    (root / BATTERY / "charge_full").unlink()
    probe = make_probe("battery", root)
    assert {s.channel for s in probe.read(0)} == {"power", "current", "voltage", "charging"}
    assert probe.info().facts["charge_full_mah"] is None


def test_skips_non_battery_supplies_and_names_the_supply(sysfs) -> None:
    root = sysfs("android_phone")
    assert not BatteryProbe(root, supply="usb").available().ok
    (root / BATTERY / "type").write_text("Mains\n")
    availability = make_probe("battery", root).available()
    assert not availability.ok
    assert "no power supply of type Battery" in availability.reason


def test_unreadable_or_garbage_voltage_is_unavailable(sysfs, write, unreadable) -> None:
    root = sysfs("android_phone")
    write(root / BATTERY / "voltage_now", "3.9V")
    assert "holds '3.9V'" in make_probe("battery", root).available().reason
    unreadable(root / BATTERY / "voltage_now")
    reason = make_probe("battery", root).available().reason
    assert "cannot read" in reason
    assert "voltage_now" in reason
