from __future__ import annotations

from pathlib import Path

import pytest

from melt.probes import make_probe

CPUINFO = """processor\t: 0
model name\t: Intel(R) Xeon(R) CPU
cpu MHz\t\t: 2596.140

processor\t: 1
model name\t: Intel(R) Xeon(R) CPU
cpu MHz\t\t: 2400.000
"""


def _cpufreq_tree(root: Path) -> Path:
    """cpu0 and cpu1 with cpufreq (Documentation/admin-guide/pm/cpufreq.rst, kHz values)."""
    for cpu, cur in (("cpu0", 1800000), ("cpu1", 2400000)):
        d = root / "sys/devices/system/cpu" / cpu / "cpufreq"
        d.mkdir(parents=True)
        for name, value in (
            ("scaling_cur_freq", cur),
            ("scaling_governor", "schedutil"),
            ("scaling_min_freq", 300000),
            ("scaling_max_freq", 2400000),
            ("cpuinfo_max_freq", 2400000),
        ):
            (d / name).write_text(f"{value}\n")
    (root / "sys/devices/system/cpu/cpufreq").mkdir()
    return root


def test_cpufreq_mhz_and_limits_as_facts(tmp_path) -> None:
    probe = make_probe("cpufreq", _cpufreq_tree(tmp_path))
    assert probe.available().ok
    assert {s.channel: s.value for s in probe.read(0)} == {"cpu0": 1800.0, "cpu1": 2400.0}
    facts = probe.info().facts
    assert facts["cpu0"]["scaling_governor"] == "schedutil"
    assert facts["cpu1"]["scaling_min_freq"] == "300000"


def test_falls_back_to_cpuinfo_and_says_so(tmp_path) -> None:
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/cpuinfo").write_text(CPUINFO)
    probe = make_probe("cpufreq", tmp_path)
    assert "no cpufreq" in probe.available().reason
    assert "cpu MHz" in probe.info().source
    assert {s.channel: s.value for s in probe.read(0)} == pytest.approx(
        {"cpu0": 2596.14, "cpu1": 2400.0}
    )


def test_absent_without_either_source(tmp_path) -> None:
    availability = make_probe("cpufreq", tmp_path).available()
    assert not availability.ok
    assert "no cpufreq" in availability.reason
