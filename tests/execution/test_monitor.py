"""Probe detection, power-source choice and the cooldown gate, on fixture trees."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from melt.config.device_profile import CpuPowerModel, DeviceProfile
from melt.errors import MeltError
from melt.execution.monitor import BenchMonitor
from melt.execution.monitor_settings import ProbeSettings, parse_cooldown, parse_duration_s
from melt.traces.sample import Provenance

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sysfs"
PROFILE = DeviceProfile(power_model=CpuPowerModel(idle_w=4.0, active_w_per_core=3.0))


def test_phone_battery_is_the_measured_power_source() -> None:
    monitor = BenchMonitor.detect(ProbeSettings(root=FIXTURES / "android_phone"))
    assert monitor.power is not None
    assert (monitor.power.probe, monitor.power.provenance) == ("battery", Provenance.MEASURED)
    assert monitor.power.charge_full_mah == pytest.approx(4410.0)
    assert monitor.energy_unavailable is None and monitor.thermal_unavailable is None
    assert monitor.reference_c == {"battery": 31.2, "skin-therm": 33.45}
    assert monitor.idle_baseline_s() == 3.0


def test_no_sensor_says_why_for_each_power_probe(tmp_path: Path) -> None:
    monitor = BenchMonitor.detect(ProbeSettings(root=tmp_path))
    assert monitor.power is None
    reason = monitor.energy_unavailable
    assert reason is not None and reason.startswith("no sensor: ")
    # the device's sensors best first as their policies rank them, then the controller's
    names = [part.split(":")[0] for part in reason.removeprefix("no sensor: ").split("; ")]
    assert names == ["ina3221", "battery", "rapl", "nvml", "monsoon"]
    assert "battery: no power supply" in reason and "rapl: no intel-rapl zones" in reason
    assert "no thermal zones" in str(monitor.thermal_unavailable)
    assert monitor.idle_baseline_s() == 0.0


def test_estimated_model_replaces_measured_power_and_needs_a_profile(tmp_path: Path) -> None:
    root = tmp_path / "phone"
    shutil.copytree(FIXTURES / "android_phone", root)
    with pytest.raises(MeltError, match=r"--power-model: cannot read .*proc/stat"):
        BenchMonitor.detect(ProbeSettings(root=root, power_model="estimated", profile=PROFILE))
    (root / "proc").mkdir()
    (root / "proc/stat").write_text("cpu  1 0 0 1 0 0 0 0\ncpu0 1 0 0 1 0 0 0 0\n")
    with pytest.raises(MeltError, match="--device-profile"):
        BenchMonitor.detect(ProbeSettings(root=root, power_model="estimated"))
    with pytest.raises(MeltError, match="unknown model 'guess'"):
        BenchMonitor.detect(ProbeSettings(root=root, power_model="guess", profile=PROFILE))
    monitor = BenchMonitor.detect(
        ProbeSettings(root=root, power_model="estimated", profile=PROFILE)
    )
    assert monitor.power is not None
    assert (monitor.power.probe, monitor.power.provenance) == (
        "cpu_power_model",
        Provenance.ESTIMATED,
    )
    assert monitor.power.description.startswith("ESTIMATED")


def test_cooldown_auto_compares_with_the_reference_temperatures(tmp_path: Path) -> None:
    root = tmp_path / "phone"
    shutil.copytree(FIXTURES / "android_phone", root)
    settings = ProbeSettings(root=root, cooldown="auto", cooldown_timeout_s=0.0)
    monitor = BenchMonitor.detect(settings)
    assert monitor.cool_down()["reached"] is True
    (root / "sys/class/thermal/thermal_zone1/temp").write_text("39450\n")
    record = monitor.cool_down()
    assert record["reached"] is False
    assert record["excess_c"]["skin-therm"] == pytest.approx(6.0)


def test_cooldown_and_duration_parsing() -> None:
    assert parse_cooldown("off") is None
    assert parse_cooldown("auto") == "auto"
    assert parse_cooldown("2m") == 120.0
    assert parse_duration_s("90") == 90.0 and parse_duration_s("1h") == 3600.0
    with pytest.raises(MeltError, match="--cooldown: expected off, auto or a duration"):
        parse_cooldown("soon")
    with pytest.raises(MeltError, match="negative"):
        parse_duration_s("-5s")


@pytest.mark.parametrize("rate", [0.0, float("nan"), float("inf"), 1e5])
def test_probe_rate_must_be_one_the_sampler_can_keep(tmp_path: Path, rate: float) -> None:
    with pytest.raises(MeltError, match="--probe-rate"):
        BenchMonitor.detect(ProbeSettings(root=tmp_path, rate_hz=rate))
