from __future__ import annotations

import time
from pathlib import Path

import pytest

from melt.probes import ProbeReadError, make_probe
from melt.probes.cpu import parse_stat

# /proc/stat as proc(5) lays it out: user nice system idle iowait irq softirq steal guest guest_nice
BEFORE = """cpu  1000 0 500 8000 500 0 0 0 0 0
cpu0 600 0 200 4000 200 0 0 0 0 0
cpu1 400 0 300 4000 300 0 0 0 0 0
intr 12345 0 0
ctxt 99
"""
AFTER = """cpu  1150 0 550 8100 500 0 0 30 50 0
cpu0 700 0 250 4050 200 0 0 0 50 0
cpu1 450 0 300 4050 300 0 0 0 0 0
intr 12399 0 0
ctxt 120
"""


def _root(tmp_path: Path, text: str) -> Path:
    (tmp_path / "proc").mkdir(exist_ok=True)
    (tmp_path / "proc" / "stat").write_text(text)
    return tmp_path


def test_utilisation_per_core_from_jiffy_deltas(tmp_path) -> None:
    probe = make_probe("cpu", _root(tmp_path, BEFORE))
    assert probe.available().reason.endswith("2 cores")
    assert probe.read(1) == []
    _root(tmp_path, AFTER)
    util = {s.channel: s.value for s in probe.read(2)}
    # cpu0: busy +150 of +200 jiffies (guest is already inside user); cpu1: +50 of +100;
    # all: +230 busy (30 of it steal) of +330
    expected = {"cpu": 230 / 330 * 100, "cpu0": 75.0, "cpu1": 50.0, "steal": 30 / 330 * 100}
    assert util == pytest.approx(expected)


def test_garbage_stat_is_a_read_error(tmp_path) -> None:
    probe = make_probe("cpu", _root(tmp_path, "cpu  1 2 x\n"))
    assert not probe.available().ok
    with pytest.raises(ProbeReadError, match="proc/stat"):
        probe.read(0)


def test_this_machine_reports_every_core() -> None:
    import psutil

    probe = make_probe("cpu")
    probe.read(0)
    end = time.monotonic() + 0.1
    while time.monotonic() < end:
        pass
    channels = {s.channel for s in probe.read(1)}
    assert channels == {"cpu", "steal"} | {f"cpu{i}" for i in range(psutil.cpu_count())}


def test_parse_stat_gives_steal_of_the_aggregate_when_the_kernel_has_it() -> None:
    text = "cpu  100 0 50 800 20 0 0 30 7 0\ncpu0 50 0 25 400 10 0 0 15 0 0\n"
    # counted: user nice system idle iowait irq softirq steal; busy = total - idle - iowait
    assert parse_stat(text) == {"cpu": (180, 1000), "cpu0": (90, 500), "steal": (30, 1000)}
    assert "steal" not in parse_stat("cpu  100 0 50 800\n")  # a kernel before steal
