"""What an inventory entry may hold: nothing `--device` would read differently (a device
named `all`, a tag with `,` or `tag:`), no YAML boolean taken for a number, a workdir the
device's shell expands as the user meant; and a problem with the controller's own key files
named as such, not as a device that cannot be reached."""

from __future__ import annotations

import os
import pwd
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from ssh_server import Sshd
from tests.conftest import CliResult

from melt.devices.inventory import ConnectOptions, find_entry, load_inventory, open_device
from melt.devices.ssh import SshDevice
from melt.errors import MeltError
from melt.execution.selection import select_devices

SSH = {"name": "orin", "transport": "ssh", "host": "10.0.0.5"}
ADB = {"name": "pixel", "transport": "adb", "serial": "1A2B3C"}

BAD: dict[str, tuple[dict[str, object], str]] = {
    "ssh port true": ({**SSH, "port": True}, "device 'orin': port: Input should be a valid int"),
    "adb port true": (
        {**ADB, "adb_server_port": True},
        "device 'pixel': adb_server_port: Input should be a valid int",
    ),
    "battery true": ({**SSH, "battery_mah": True}, "device 'orin': battery_mah: Input should"),
    "tag with comma": ({**SSH, "tags": ["gpu,fast"]}, "'gpu,fast' is not a tag"),
    "tag with prefix": ({**SSH, "tags": ["tag:gpu"]}, "'tag:gpu' is not a tag"),
    "empty tag": ({**SSH, "tags": [""]}, "'' is not a tag"),
    "adb tag": ({**ADB, "tags": ["a b"]}, "'a b' is not a tag"),
    "named all": ({**SSH, "name": "all"}, "'all' is reserved (--device all selects every"),
    "adb named all": ({**ADB, "name": "all"}, "'all' is reserved"),
    "workdir of another user": ({**SSH, "workdir": "~bob/melt"}, "write ~/PATH or an absolute"),
}


def _write(tmp_path: Path, *devices: dict[str, object]) -> Path:
    path = tmp_path / "melt-devices.yaml"
    path.write_text(yaml.safe_dump({"devices": list(devices)}))
    return path


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_entry_names_the_device_and_the_field(tmp_path: Path, case: str) -> None:
    entry, message = BAD[case]
    with pytest.raises(MeltError) as caught:
        load_inventory(_write(tmp_path, entry))
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_good_tags_still_select(tmp_path: Path) -> None:
    inventory = load_inventory(_write(tmp_path, {**SSH, "tags": ["gpu", "lab-2", "v1.0"]}))
    assert select_devices("tag:lab-2", inventory) == ["orin"]


def _board(path: Path) -> SshDevice:
    device = open_device(find_entry(load_inventory(path), "board"), ConnectOptions())
    assert isinstance(device, SshDevice)
    return device


def test_workdir_tilde_is_the_login_home(inventory: Callable[..., Path]) -> None:
    home = Path(pwd.getpwuid(os.getuid()).pw_dir)  # the sshd logs in as this user
    device = _board(inventory(workdir="~"))
    try:
        assert device.workdir() == str(home)
    finally:
        device.close()
    assert not (home / "~").exists()


def test_a_missing_identity_file_is_named(inventory: Callable[..., Path], tmp_path: Path) -> None:
    missing = tmp_path / "no_such_key"
    device = _board(inventory(identity_file=str(missing)))
    with pytest.raises(MeltError) as caught:
        device.connect()
    message = str(caught.value)
    assert f"identity_file {missing} does not exist" in message
    assert "cannot reach" not in message


def test_an_unwritable_known_hosts_is_named(
    inventory: Callable[..., Path], tmp_path: Path, sshd: Sshd
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where known_hosts' folder should be")
    known_hosts = blocker / "known_hosts"
    device = open_device(
        find_entry(load_inventory(inventory(known_hosts=str(known_hosts))), "board"),
        ConnectOptions(accept_new_host_key=True),
    )
    with pytest.raises(MeltError) as caught:
        device.connect()
    message = str(caught.value)
    assert f"cannot record the host key in known_hosts {known_hosts}" in message
    assert "cannot reach" not in message and "\n" not in message


def test_a_known_hosts_that_is_a_folder_is_named(
    inventory: Callable[..., Path], tmp_path: Path
) -> None:
    folder = tmp_path / "known_hosts.d"
    folder.mkdir()
    with pytest.raises(MeltError, match=f"known_hosts {folder} is not a file"):
        _board(inventory(known_hosts=str(folder))).connect()


def test_devices_check_names_the_missing_identity_file(
    inventory: Callable[..., Path], tmp_path: Path, melt: Callable[..., CliResult]
) -> None:
    missing = tmp_path / "no_such_key"
    r = melt("devices", "check", "board", "--devices", str(inventory(identity_file=str(missing))))
    assert r.code == 2, r.err  # the inventory is the user's to fix, not a device fault
    assert r.err.strip() == (
        f"melt: error: device 'board': identity_file {missing} does not exist; fix "
        "identity_file in the inventory, or remove it to use ~/.ssh/id_* and the agent"
    )
