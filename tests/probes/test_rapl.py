from __future__ import annotations

import pytest

from melt.probes import ProbeReadError, make_probe
from melt.probes.rapl import energy_delta_uj

POWERCAP = "sys/class/powercap"
S = 1_000_000_000


def test_energy_delta_without_and_across_wraparound() -> None:
    assert energy_delta_uj(100, 350, 1000) == 250
    assert energy_delta_uj(900, 50, 1000) == 150


def test_power_per_domain_and_package_total(sysfs, write) -> None:
    root = sysfs("intel_rapl")
    probe = make_probe("rapl", root)
    assert probe.available().ok
    assert probe.read(0) == []
    base = root / POWERCAP
    write(base / "intel-rapl:0/energy_uj", 37259185237 + 7_500_000)
    write(base / "intel-rapl:0:0/energy_uj", 16437126745 + 4_000_000)
    write(base / "intel-rapl:0:1/energy_uj", 1043127466 + 500_000)
    write(base / "intel-rapl:1/energy_uj", 102837218340 + 12_000_000)
    watts = {s.channel: s.value for s in probe.read(2 * S)}
    assert watts == pytest.approx(
        {
            "power:package-0": 3.75,
            "power:core@0": 2.0,
            "power:uncore@0": 0.25,
            "power:psys": 6.0,
            "power": 3.75,
        }
    )
    assert {s.t_ns for s in probe.read(3 * S)} == {5 * S // 2}


def test_counter_wraparound_uses_max_energy_range(sysfs, write) -> None:
    root = sysfs("intel_rapl")
    pkg = root / POWERCAP / "intel-rapl:0"
    write(pkg / "energy_uj", 262143328850 - 1_000_000)
    probe = make_probe("rapl", root)
    probe.read(0)
    write(pkg / "energy_uj", 3_000_000)
    power = {s.channel: s.value for s in probe.read(S)}
    assert power["power:package-0"] == pytest.approx(4.0)
    assert power["power"] == pytest.approx(4.0)


def test_unreadable_energy_counter_is_unavailable_with_reason(sysfs, unreadable) -> None:
    root = sysfs("intel_rapl")
    unreadable(root / POWERCAP / "intel-rapl:0/energy_uj")
    availability = make_probe("rapl", root).available()
    assert not availability.ok
    assert "intel-rapl:0/energy_uj" in availability.reason
    assert "root-only" in availability.reason


def test_garbage_counter_raises_read_error_naming_the_file(sysfs, write) -> None:
    root = sysfs("intel_rapl")
    probe = make_probe("rapl", root)
    probe.read(0)
    write(root / POWERCAP / "intel-rapl:0/energy_uj", "not-a-number")
    with pytest.raises(ProbeReadError, match=r"intel-rapl:0/energy_uj holds 'not-a-number'"):
        probe.read(S)


def test_absent_without_powercap(tmp_path) -> None:
    availability = make_probe("rapl", tmp_path).available()
    assert not availability.ok
    assert "no intel-rapl zones" in availability.reason
