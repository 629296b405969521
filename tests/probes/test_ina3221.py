from __future__ import annotations

import pytest

from melt.probes import ProbeReadError, make_probe

HWMON1 = "sys/class/hwmon/hwmon1"


def test_orin_nano_rails_and_vdd_in_total(sysfs) -> None:
    probe = make_probe("ina3221", sysfs("jetson_orin_nano"))
    assert probe.available().ok
    watts = {s.channel: s.value for s in probe.read(0)}
    assert watts == pytest.approx(
        {
            "power:VDD_IN": 5.072 * 1.184,
            "power:VDD_CPU_GPU_CV": 5.064 * 0.396,
            "power:VDD_SOC": 5.064 * 0.552,
            "power": 5.072 * 1.184,
        }
    )
    assert probe.info().facts["total"] == ["VDD_IN"]


def test_total_is_sum_of_rails_without_vdd_in(sysfs, write) -> None:
    root = sysfs("jetson_orin_nano")
    write(root / HWMON1 / "in1_label", "NC")
    probe = make_probe("ina3221", root)
    watts = {s.channel: s.value for s in probe.read(0)}
    assert "power:NC" not in watts
    assert watts["power"] == pytest.approx(5.064 * 0.396 + 5.064 * 0.552)


def test_not_an_ina3221_is_absent(sysfs, write) -> None:
    root = sysfs("jetson_orin_nano")
    write(root / HWMON1 / "name", "ina226")
    availability = make_probe("ina3221", root).available()
    assert not availability.ok
    assert "no ina3221 hwmon device" in availability.reason


def test_unreadable_current_and_later_garbage(sysfs, write, unreadable) -> None:
    root = sysfs("jetson_orin_nano")
    probe = make_probe("ina3221", root)
    assert probe.available().ok
    write(root / HWMON1 / "curr2_input", "")
    with pytest.raises(ProbeReadError, match="curr2_input holds ''"):
        probe.read(0)
    unreadable(root / HWMON1 / "curr2_input")
    assert "cannot read" in make_probe("ina3221", root).available().reason
