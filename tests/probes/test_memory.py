from __future__ import annotations

import mmap
import os
from pathlib import Path

import pytest

from melt.devices.local import LocalDevice
from melt.probes import make_probe
from melt.probes.memory import MemoryProbe

MEMINFO = "MemTotal:       24576000 kB\nMemFree:         1000000 kB\nMemAvailable:   20000000 kB\n"


def test_process_rss_pss_and_system_available(tmp_path) -> None:
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/meminfo").write_text(MEMINFO)
    probe = make_probe("memory", LocalDevice(root=tmp_path).path())
    assert probe.available().ok
    values = {s.channel: s.value for s in probe.read(0)}
    assert values["system_available"] == 20000000 * 1024
    import psutil

    rss = psutil.Process(os.getpid()).memory_info().rss
    assert values["process_rss"] == pytest.approx(rss, rel=0.2)
    assert 0 < values["process_pss"] <= values["process_rss"]


def test_pss_is_read_at_most_once_per_period(tmp_path) -> None:
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/meminfo").write_text(MEMINFO)
    probe = MemoryProbe(LocalDevice(root=tmp_path).path(), pss_period_s=1.0)
    pss_at = [
        t
        for t in (0, 400_000_000, 999_000_000, 1_000_000_000, 1_500_000_000)
        if any(s.channel == "process_pss" for s in probe.read(t))
    ]
    assert pss_at == [0, 1_000_000_000]


def test_grows_with_an_allocation() -> None:
    probe = MemoryProbe(Path("/"))
    size = 64 * 1024 * 1024
    before = {s.channel: s.value for s in probe.read(0)}["process_rss"]
    # A fresh anonymous mapping, every page written: malloc could hand back heap pages an
    # earlier test freed but left resident, which would not move RSS.
    block = mmap.mmap(-1, size)
    for offset in range(0, size, mmap.PAGESIZE):
        block[offset] = 1
    after = {s.channel: s.value for s in probe.read(1)}["process_rss"]
    block.close()
    assert after - before > 60 * 1024 * 1024


def test_meminfo_without_available_is_absent(tmp_path) -> None:
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/meminfo").write_text("MemTotal: 1 kB\n")
    availability = make_probe("memory", tmp_path).available()
    assert not availability.ok
    assert "no MemAvailable" in availability.reason
