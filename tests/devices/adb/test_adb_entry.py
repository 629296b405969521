"""The inventory entry of a phone over ADB and the device it makes (no phone needed)."""

from __future__ import annotations

import sys

import pytest
from pydantic import TypeAdapter, ValidationError

from melt.devices.adb import AdbDevice
from melt.devices.adb_entry import AdbDeviceEntry, from_entry
from melt.errors import MeltError


def test_entry_defaults_and_factory():
    entry = AdbDeviceEntry.model_validate(
        {"name": "pixel7", "transport": "adb", "serial": "10.0.0.7:5555", "battery_mah": 4355}
    )
    assert entry.workdir == "/data/local/tmp/melt"
    device = from_entry(entry)
    assert isinstance(device, AdbDevice)
    assert (device.name, device.serial, device.transport) == ("pixel7", "10.0.0.7:5555", "adb")
    assert device._extra_facts == {"battery_mah": 4355, "llama_server": None}


def test_entry_rejects_mistakes_naming_the_field():
    adapter = TypeAdapter(AdbDeviceEntry)
    base = {"name": "p", "transport": "adb", "serial": "X"}
    for bad, field in (
        ({"workdir": "tmp/melt"}, "workdir"),
        ({"battery_mah": 0}, "battery_mah"),
        ({"serail": "typo"}, "serail"),
        ({"transport": "ssh"}, "transport"),
    ):
        with pytest.raises(ValidationError) as err:
            adapter.validate_python(base | bad)
        assert field in str(err.value)


def test_missing_adbutils_is_one_line_naming_the_extra(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "adbutils", None)  # import adbutils → ImportError
    with pytest.raises(MeltError, match=r"pip install 'melt-bench\[adb\]'"):
        AdbDevice("X", adb_server_port=1).state()
