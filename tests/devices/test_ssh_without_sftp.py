"""A board whose sshd has no SFTP subsystem (Dropbear, trimmed OpenSSH): melt moves files
over exec channels, so a shell is all a board needs (issue 24: `devices check` ended in
paramiko's `SSHException: Channel closed`)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from ssh_server import Sshd

from melt.devices.inventory import ConnectOptions, find_entry, load_inventory, open_device
from melt.devices.ssh import SshDevice


@pytest.fixture
def shell_only_board(
    inventory: Callable[..., Path], sshd_without_sftp: Sshd, tmp_path: Path
) -> Path:
    known_hosts = tmp_path / "known_hosts_no_sftp"
    known_hosts.write_text(sshd_without_sftp.host_key_line())
    return inventory(
        port=sshd_without_sftp.port,
        identity_file=str(sshd_without_sftp.client_key),
        known_hosts=str(known_hosts),
    )


def test_devices_check_on_a_board_without_sftp(
    melt: Callable[..., object], shell_only_board: Path
) -> None:
    result = melt("devices", "check", "board", "--devices", str(shell_only_board), "--json")
    assert result.code == 0, result.err
    doc = result.json()
    assert doc["facts"]["llama_cpp_python"] == "0.3.36"
    assert "memory" in doc["probes"] and "cpu" in doc["probes"]
    assert doc["problems"] == []


def test_files_move_both_ways_over_a_shell(shell_only_board: Path, tmp_path: Path) -> None:
    device = open_device(find_entry(load_inventory(shell_only_board), "board"), ConnectOptions())
    assert isinstance(device, SshDevice)
    try:
        assert device.read_text("/proc/self/status").startswith("Name:")
        assert "cpu0" in device.list_dir("/sys/devices/system/cpu")
        assert device.is_dir("/proc") and not device.is_dir("/proc/self/status")
        assert device.exists("/proc/self/status") and not device.exists("/no/such/file")
        with pytest.raises(FileNotFoundError):
            device.read_text("/no/such/file")
        with pytest.raises(OSError):
            device.list_dir("/proc/self/status")
        payload = tmp_path / "payload.bin"
        payload.write_bytes(os.urandom(300_000) + b"\n\0\r\n")
        remote = f"{device.workdir()}/payload.bin"
        assert device.push(payload, remote) == payload.stat().st_size
        back = tmp_path / "back.bin"
        assert device.pull(remote, back) == payload.stat().st_size
        assert back.read_bytes() == payload.read_bytes()
    finally:
        device.close()
