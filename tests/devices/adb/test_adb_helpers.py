"""The pure parts of the ADB transport: clock readings, ELF machines, dumpsys battery."""

from __future__ import annotations

from pathlib import Path

import pytest

from melt.devices.adb import CLOCK_SOURCES, check_abi, elf_machine
from melt.devices.android_facts import parse_dumpsys_battery
from melt.errors import MeltError


def test_clock_sources_parse_to_ns():
    timer_list, uptime = CLOCK_SOURCES
    assert timer_list.parse("730813761776\n") == 730_813_761_776
    assert uptime.parse("12345.67 45678.90\n") == 12_345_670_000_000
    assert (timer_list.resolution_ns, uptime.resolution_ns) == (1, 10_000_000)


def elf(tmp_path: Path, machine: int) -> Path:
    header = b"\x7fELF\x02\x01\x01" + bytes(9) + (2).to_bytes(2, "little")
    path = tmp_path / f"bin{machine}"
    path.write_bytes(header + machine.to_bytes(2, "little") + bytes(44))
    return path


def test_check_abi_by_elf_machine(tmp_path: Path):
    arm64, arm32 = elf(tmp_path, 183), elf(tmp_path, 40)
    assert elf_machine(arm64) == 183
    check_abi(arm64, ("arm64-v8a", "armeabi-v7a"), "S1")
    check_abi(arm32, ("arm64-v8a", "armeabi-v7a"), "S1")  # 32-bit ARM runs on the v7a ABI
    with pytest.raises(MeltError, match="built for arm64-v8a but adb device S1 runs x86_64"):
        check_abi(arm64, ("x86_64",), "S1")
    text = tmp_path / "model.gguf"
    text.write_bytes(b"GGUF\x03\x00\x00\x00")
    assert elf_machine(text) is None
    check_abi(text, ("x86_64",), "S1")  # not a binary: nothing to check


def test_dumpsys_battery_units():
    out = """Current Battery Service state:
  AC powered: false
  USB powered: true
  Charge counter: 2912000
  status: 2
  level: 64
  voltage: 4123
  temperature: 287
"""
    battery = parse_dumpsys_battery(out)
    assert battery == {
        "level_pct": 64,
        "status": "Charging",
        "temp_c": 28.7,
        "voltage_v": 4.123,
        "charge_counter_uah": 2912000,
        "usb_powered": True,
        "ac_powered": False,
        "source": "dumpsys battery",
    }
