from __future__ import annotations

import pytest

from melt.errors import MeltError
from melt.probes import detect, make_probe, probe_names


def test_every_builtin_probe_is_registered() -> None:
    assert probe_names() == [
        "amdgpu",
        "battery",
        "cpu",
        "cpu_power_model",
        "cpufreq",
        "devfreq",
        "ina3221",
        "intel_gpu",
        "jetson_gpu",
        "kgsl",
        "mali",
        "memory",
        "monsoon",
        "nvml",
        "rapl",
        "thermal",
    ]


def test_detect_on_a_fixture_phone_lists_reasons_for_the_rest(fixture_root) -> None:
    found = detect(fixture_root / "android_phone")
    assert {p.name for p in found.probes} == {"battery", "thermal", "kgsl", "devfreq"}
    assert set(found.unavailable) == {
        "amdgpu",
        "cpu",
        "cpufreq",
        "ina3221",
        "intel_gpu",
        "jetson_gpu",
        "mali",
        "memory",
        "monsoon",
        "nvml",
        "rapl",
    }
    assert "no intel-rapl zones" in found.unavailable["rapl"]


def test_unknown_probe_is_a_user_error() -> None:
    with pytest.raises(MeltError, match=r"unknown probe 'nope'.*battery"):
        make_probe("nope")
