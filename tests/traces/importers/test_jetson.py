"""Jetson monitor logs: rails from current × voltage or power, thermal zones in mC."""

from pathlib import Path

from melt.traces.importers import read

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "melt" / "jetson"


def test_rails_thermal_zones_and_a_malformed_line() -> None:
    result = read(FIXTURES / "monitor.log")
    (run,) = result.runs
    rails = {p.rail: p for p in run.power}
    vin = rails["VDD_IN"]
    assert vin.t_s == (1.0, 2.0, 3.0)
    assert vin.voltage_v == (5.0, 5.0, 5.0)
    assert vin.power_mw == (5000.0, 6000.0, 5000.0)
    cpu = rails["VDD_CPU_GPU_CV"]
    assert (cpu.power_mw, cpu.current_ma) == ((2000.0, 3000.0, 2000.0), None)
    assert run.thermal_c == {"thermal_cpu": (45.0, 47.5)}
    assert [m.line for m in result.malformed] == [13]
