from __future__ import annotations

from pathlib import Path

import pytest

from melt.devices.inventory import entries, find_entry, inventory_path, load_inventory
from melt.errors import MeltError


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "melt-devices.yaml"
    path.write_text(text)
    return path


def test_entries_local_always_exists_and_ssh_defaults(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "devices:\n  - name: orin\n    transport: ssh\n    host: 10.0.0.5\n    battery_mah: 5000\n",
    )
    inventory = load_inventory(path)
    assert [e.name for e in entries(inventory)] == ["local", "orin"]
    orin = find_entry(inventory, "orin")
    assert (orin.python, orin.battery_mah) == ("python3", 5000)
    assert orin.workdir == "~/.cache/melt-device"
    with pytest.raises(MeltError, match="no device named 'nano' \\(known: local, orin\\)"):
        find_entry(inventory, "nano")


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        (
            "devices:\n  - name: orin\n    transport: ssh\n",
            "device 'orin': host: Field required",
        ),
        (
            "devices:\n  - name: orin\n    transport: ssh\n    host: h\n    port: 0\n",
            "device 'orin': port: Input should be greater than 0",
        ),
        (
            "devices:\n  - name: orin\n    transport: ssh\n    host: h\n    password: hunter2\n",
            "device 'orin': password: never put a password or secret in the inventory",
        ),
        (
            "devices:\n  - name: orin\n    transport: telnet\n    host: h\n",
            "device 'orin': transport: must be one of adb, local, ssh",
        ),
        (
            "devices:\n  - name: a\n    transport: local\n  - name: a\n    transport: local\n",
            "device name 'a' is used twice",
        ),
        ("devices: [\n", "is not valid YAML at line"),
        ("- just a list\n", "must be a mapping with a 'devices:' list"),
    ],
)
def test_bad_inventories_name_device_and_field(
    tmp_path: Path, yaml_text: str, message: str
) -> None:
    with pytest.raises(MeltError, match=message.replace("(", "\\(").replace(")", "\\)")):
        load_inventory(_write(tmp_path, yaml_text))


def test_not_utf8_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "melt-devices.yaml"
    path.write_bytes(b"devices:\n  - name: \xff\xfe\n")
    with pytest.raises(MeltError, match="is not UTF-8"):
        load_inventory(path)


def test_inventory_path_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MELT_DEVICES", raising=False)
    assert inventory_path(None) is None
    default = _write(tmp_path, "devices: []\n")
    assert inventory_path(None) == Path("melt-devices.yaml")
    other = tmp_path / "other.yaml"
    other.write_text("devices: []\n")
    monkeypatch.setenv("MELT_DEVICES", str(other))
    assert inventory_path(None) == other
    assert inventory_path(default) == default
    with pytest.raises(MeltError, match="--devices: no inventory file at"):
        inventory_path(tmp_path / "missing.yaml")
