from __future__ import annotations

from melt.probes import make_probe

GPU = "sys/class/devfreq/17000000.ga10b"


def test_orin_gpu_load_per_mille_and_clock(sysfs) -> None:
    probe = make_probe("jetson_gpu", sysfs("jetson_orin_nano"))
    assert probe.available().ok
    got = {s.channel: (s.value, s.unit) for s in probe.read(0)}
    assert got == {"util": (53.7, "%"), "freq": (624.75, "MHz")}
    facts = probe.info().facts
    assert facts["governor"] == "nvhost_podgov" and facts["max_freq_mhz"] == 624.75
    assert facts["power_rails"] == ["VDD_CPU_GPU_CV"]  # the INA3221 rail that feeds it


def test_xavier_and_l4t36_names(sysfs, write) -> None:
    root = sysfs("jetson_orin_nano")
    for name in ("gv11b", "gpu"):
        write(root / GPU / "device/of_node/name", name)
        assert make_probe("jetson_gpu", root).available().ok


def test_a_gpu_named_gpu_without_nvgpus_files_is_not_a_jetson(sysfs, write) -> None:
    root = sysfs("jetson_orin_nano")
    write(root / GPU / "device/of_node/name", "gpu")
    (root / GPU / "device/railgate_enable").unlink()
    availability = make_probe("jetson_gpu", root).available()
    assert not availability.ok and "no nvgpu GPU" in availability.reason
    # the generic probe records it then
    assert "17000000.ga10b" in {s.channel for s in make_probe("devfreq", root).read(0)}
