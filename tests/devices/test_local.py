from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from melt.devices.base import DeviceError, best_offset
from melt.devices.local import LocalDevice
from melt.devices.proc import peak_rss, rss_bytes, stat_cpu_ticks, status_kib
from melt.probes import detect


def test_root_maps_sysfs_but_not_the_live_process_table(tmp_path: Path) -> None:
    (tmp_path / "sys/class/thermal/thermal_zone0").mkdir(parents=True)
    (tmp_path / "sys/class/thermal/thermal_zone0/temp").write_text("41000\n")
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/meminfo").write_text("MemTotal: 100 kB\nMemAvailable: 50 kB\n")
    device = LocalDevice(root=tmp_path)
    assert device.read_text("/sys/class/thermal/thermal_zone0/temp") == "41000\n"
    assert device.list_dir("/sys/class/thermal") == ["thermal_zone0"]
    assert device.read_text("/proc/meminfo").startswith("MemTotal: 100 kB")
    # the process table is the machine's own, whatever the root
    assert f"Pid:\t{os.getpid()}" in device.read_text(f"/proc/{os.getpid()}/status")
    assert device.read_many(["/proc/meminfo", "/sys/nope"]) == {
        "/proc/meminfo": "MemTotal: 100 kB\nMemAvailable: 50 kB\n",
        "/sys/nope": None,
    }


def test_probes_detect_through_a_device_path(tmp_path: Path) -> None:
    (tmp_path / "sys/class/thermal/thermal_zone3").mkdir(parents=True)
    (tmp_path / "sys/class/thermal/thermal_zone3/type").write_text("cpu-big\n")
    (tmp_path / "sys/class/thermal/thermal_zone3/temp").write_text("52500\n")
    found = detect(LocalDevice(root=tmp_path).path("/"))
    thermal = next(p for p in found.probes if p.name == "thermal")
    assert [(s.channel, s.value) for s in thermal.read(7)] == [("cpu-big", 52.5)]
    assert "no intel-rapl zones" in found.unavailable["rapl"]


def test_process_figures_of_this_process_through_the_file_view() -> None:
    device = LocalDevice()
    block = bytearray(48 * 1024 * 1024)
    for i in range(0, len(block), 4096):
        block[i] = 1
    rss = rss_bytes(device, os.getpid())
    peak = peak_rss(device, os.getpid(), since_reset=False)
    assert peak is not None and peak.bytes is not None
    assert rss > 48 * 1024 * 1024 and peak.bytes >= rss


def test_proc_parsers_known_answers() -> None:
    assert status_kib("Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t 1024 kB\n", "VmHWM") == 2048
    assert status_kib("Name:\tx\n", "VmRSS") is None
    # a command name with spaces and ')' does not shift the fields
    stat = "4242 (a b) c) S 1 2 3 4 5 6 7 8 9 10 250 75 0 0 20 0 1 0 100 0 0"
    assert stat_cpu_ticks(stat) == 325


def test_run_spawn_and_signal() -> None:
    device = LocalDevice()
    result = device.run(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (result.returncode, result.stdout, result.stderr) == (3, "out\n", "err\n")
    with pytest.raises(DeviceError, match=r"did not finish within 0\.2 s"):
        device.run(["sleep", "5"], timeout=0.2)
    proc = device.spawn(["sh", "-c", "echo ready; read line; echo got $line; sleep 30"])
    lines = proc.lines()
    assert next(lines) == "ready"
    proc.write("hello\n")
    assert next(lines) == "got hello"
    proc.signal(signal.SIGTERM)
    assert proc.wait(10) == -signal.SIGTERM


def test_clock_offset_known_answer() -> None:
    # controller reads 100, device 1_000_200, controller 300: round trip 200, offset 1_000_000
    offset = best_offset([(0, 2_000_000, 900), (100, 1_000_200, 300)], "test")
    assert (offset.offset_ns, offset.uncertainty_ns, offset.round_trip_ns) == (1_000_000, 100, 200)
    assert offset.to_controller_ns(1_000_200) == 200
    local = LocalDevice().clock_offset()
    assert (local.offset_ns, local.uncertainty_ns) == (0, 0)


def test_local_facts() -> None:
    facts = LocalDevice().facts()
    assert facts.name == "local" and facts.transport == "local"
    assert facts.logical_cores == os.cpu_count()
    assert facts.ram_bytes and facts.ram_bytes > 1 << 30
    assert facts.llama_cpp_python == "0.3.36"
    assert facts.workdir_free_bytes and facts.workdir_free_bytes > 0
