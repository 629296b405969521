from __future__ import annotations

from melt.probes import make_probe


def test_records_every_node_an_accelerator_probe_does_not_read(sysfs) -> None:
    probe = make_probe("devfreq", sysfs("mali_kbase"))
    assert probe.available().ok
    got = {s.channel: (s.value, s.unit) for s in probe.read(0)}
    assert got == {"dmc": (2112.0, "MHz"), "fdab0000.npu": (1000.0, "MHz")}  # the NPU's
    facts = probe.info().facts
    assert facts["fdab0000.npu"] == {
        "devfreq": "fdab0000.npu",
        "governor": "userspace",
        "min_freq_mhz": 300.0,
        "max_freq_mhz": 1000.0,
    }
    assert facts["claimed"] == {"fb000000.gpu": "mali"}


def test_the_gpu_nodes_go_to_their_own_probes(sysfs) -> None:
    assert make_probe("devfreq", sysfs("android_phone")).info().facts["claimed"] == {
        "3d00000.qcom,kgsl-3d0": "kgsl"
    }
    jetson = make_probe("devfreq", sysfs("jetson_orin_nano"))
    assert {s.channel for s in jetson.read(0)} == {"15340000.vic"}
    assert jetson.info().facts["claimed"] == {"17000000.ga10b": "jetson_gpu"}


def test_only_claimed_nodes_or_none_is_unavailable_saying_why(sysfs) -> None:
    root = sysfs("android_phone")
    for f in (root / "sys/class/devfreq/soc:qcom,cpu-llcc-ddr-bw").iterdir():
        f.unlink()
    claimed = make_probe("devfreq", root).available()
    assert not claimed.ok and "3d00000.qcom,kgsl-3d0 (read by kgsl)" in claimed.reason
    none = make_probe("devfreq", sysfs("thermal_zones")).available()
    assert not none.ok and "no devfreq device" in none.reason
