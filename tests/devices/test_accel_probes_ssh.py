"""The accelerator probes read a board's sysfs over SSH (the real sshd on loopback; the
board's files are a copy of a fixture tree) exactly as they read it locally."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from melt.devices.inventory import ConnectOptions, find_entry, load_inventory, open_device
from melt.probes import make_probe

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sysfs"
CASES = {
    "jetson_orin_nano": {"jetson_gpu": {"util": 53.7, "freq": 624.75}},
    "android_phone": {"kgsl": {"util": 37.0, "freq": 680.0, "temp": 48.3}},
    "mali_kbase": {
        "mali": {"util": 64.0, "freq": 800.0},
        "devfreq": {"dmc": 2112.0, "fdab0000.npu": 1000.0},
    },
    "intel_gpu": {
        "intel_gpu": {
            "cur_freq:card0": 1100.0,
            "act_freq:card0": 1050.0,
            "cur_freq:card1": 2000.0,
            "act_freq:card1": 1950.0,
        }
    },
    "amdgpu": {
        "amdgpu": {
            "util:card0": 83.0,
            "vram_used:card0": 2147483648.0,
            "power:card0": 95.0,
            "temp:card0": 61.0,
            "freq:card0": 2450.0,
        }
    },
}


def test_accelerator_probes_over_ssh_read_what_they_read_locally(
    inventory: Callable[..., Path], tmp_path: Path
) -> None:
    device = open_device(find_entry(load_inventory(inventory()), "board"), ConnectOptions())
    try:
        for fixture, probes in CASES.items():
            local_root = tmp_path / fixture
            shutil.copytree(FIXTURES / fixture, local_root)
            board_root = device.path(str(local_root))
            for name, expected in probes.items():
                over_ssh = make_probe(name, board_root)
                assert over_ssh.available().ok, (fixture, name, over_ssh.available().reason)
                got = {s.channel: s.value for s in over_ssh.read(0)}
                assert got == pytest.approx(expected), (fixture, name)
                local = {s.channel: s.value for s in make_probe(name, local_root).read(0)}
                assert got == local
                assert over_ssh.info().facts == make_probe(name, local_root).info().facts
    finally:
        device.close()
