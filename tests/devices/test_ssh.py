"""The SSH transport against a real sshd on loopback (see ssh_server.py)."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from ssh_server import Sshd, free_port, keygen
from tests.waiting import wait_until

from melt.devices.base import DeviceError
from melt.devices.inventory import ConnectOptions, find_entry, load_inventory, open_device
from melt.devices.ssh import SshDevice


def _open(path: Path, accept: bool = False) -> SshDevice:
    device = open_device(
        find_entry(load_inventory(path), "board"), ConnectOptions(accept_new_host_key=accept)
    )
    assert isinstance(device, SshDevice)
    return device


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_facts_files_and_commands(inventory: Callable[..., Path], tmp_path: Path) -> None:
    device = _open(inventory(battery_mah=4000))
    try:
        facts = device.facts()
        assert (facts.name, facts.transport) == ("board", "ssh")
        assert facts.llama_cpp_python == "0.3.36"  # the bare venv's, not melt's own
        assert facts.logical_cores == os.cpu_count()  # loopback: the same machine
        assert facts.extra == {"battery_mah": 4000}
        assert facts.workdir == str(tmp_path / "device-workdir")
        assert device.read_text("/proc/self/status").startswith("Name:")
        assert "cpu0" in device.list_dir("/sys/devices/system/cpu")
        assert device.is_dir("/proc") and not device.exists("/no/such/file")
        got = device.read_many(["/proc/sys/kernel/ostype", "/no/such/file"])
        assert got == {"/proc/sys/kernel/ostype": "Linux\n", "/no/such/file": None}
        result = device.run(["sh", "-c", "echo out; echo err >&2; exit 4"])
        assert (result.returncode, result.stdout, result.stderr) == (4, "out\n", "err\n")
        payload = tmp_path / "payload.bin"
        payload.write_bytes(os.urandom(300_000))
        remote = f"{device.workdir()}/payload.bin"
        assert device.push(payload, remote) == 300_000
        back = tmp_path / "back.bin"
        assert device.pull(remote, back) == 300_000
        assert back.read_bytes() == payload.read_bytes()
    finally:
        device.close()


def test_a_hanging_command_times_out_and_is_stopped(inventory: Callable[..., Path]) -> None:
    device = _open(inventory())
    try:
        marker = f"sleep 61.{os.getpid()}"  # a child of the shell: the group must go too
        with pytest.raises(DeviceError, match=r"did not finish within 0\.5 s"):
            device.run(["sh", "-c", f"{marker}; echo never"], timeout=0.5)
        assert wait_until(lambda: not device.run(["pgrep", "-f", marker]).stdout.strip(), 10)
    finally:
        device.close()


def test_spawned_process_lines_stdin_and_signal(inventory: Callable[..., Path]) -> None:
    device = _open(inventory())
    try:
        proc = device.spawn(["sh", "-c", "echo ready; read x; echo got $x; exec sleep 60"])
        lines = proc.lines()
        assert next(lines) == "ready"
        proc.write("ping\n")
        assert next(lines) == "got ping"
        assert not _gone(proc.pid)  # loopback: the device's pid is visible here
        proc.signal(signal.SIGTERM)
        assert wait_until(lambda: _gone(proc.pid), 10)
    finally:
        device.close()


def test_clock_offset_brackets_the_true_offset(inventory: Callable[..., Path]) -> None:
    """On loopback both ends read the same CLOCK_MONOTONIC, so the true offset is 0: the
    estimate must contain it within its stated uncertainty."""
    device = _open(inventory())
    try:
        offset = device.clock_offset()
        assert offset.exchanges == 16
        assert abs(offset.offset_ns) <= offset.uncertainty_ns
        assert offset.uncertainty_ns == (offset.round_trip_ns + 1) // 2 > 0
        t = device.now_ns()
        assert abs(t - time.monotonic_ns()) < 1_000_000_000
    finally:
        device.close()


def test_forward_reaches_a_port_on_the_device(inventory: Callable[..., Path]) -> None:
    device = _open(inventory())
    port = free_port()
    echo = (
        "import socket\ns=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
        f"s.bind(('127.0.0.1',{port}));s.listen(1);print('up',flush=True)\n"
        "c,_=s.accept();c.sendall(c.recv(100).upper());c.close()\n"
    )
    try:
        proc = device.spawn([device.python, "-c", echo])
        assert next(proc.lines()) == "up"
        local = device.forward(port)
        with socket.create_connection(("127.0.0.1", local), timeout=10) as conn:
            conn.sendall(b"through the tunnel")
            assert conn.recv(100) == b"THROUGH THE TUNNEL"
        assert proc.wait(10) == 0
    finally:
        device.close()


def test_unknown_host_key_is_refused_with_its_fingerprint_then_accepted(
    inventory: Callable[..., Path], tmp_path: Path, sshd: Sshd
) -> None:
    empty = tmp_path / "empty_known_hosts"
    path = inventory(known_hosts=str(empty))
    with pytest.raises(DeviceError) as caught:
        _open(path).connect()
    message = str(caught.value)
    assert "unknown host key SHA256:" in message and "--accept-new-host-key" in message
    assert "\n" not in message
    accepted = _open(path, accept=True)
    accepted.connect()
    accepted.close()
    assert f"[127.0.0.1]:{sshd.port}" in empty.read_text()
    again = _open(path)  # recorded: no flag needed any more
    again.connect()
    again.close()


def test_changed_host_key_is_always_refused(
    inventory: Callable[..., Path], tmp_path: Path, sshd: Sshd
) -> None:
    other = keygen(tmp_path / "other_host")
    kind, key = other.with_suffix(".pub").read_text().split()[:2]
    wrong = tmp_path / "wrong_known_hosts"
    wrong.write_text(f"[127.0.0.1]:{sshd.port} {kind} {key}\n")
    with pytest.raises(DeviceError, match="CHANGED"):
        _open(inventory(known_hosts=str(wrong)), accept=True).connect()


def test_wrong_key_and_unreachable_port(inventory: Callable[..., Path], tmp_path: Path) -> None:
    stranger = keygen(tmp_path / "stranger")
    with pytest.raises(DeviceError, match="refused the key"):
        _open(inventory(identity_file=str(stranger))).connect()
    with pytest.raises(DeviceError, match=r"cannot reach .*check host and port"):
        _open(inventory(port=free_port())).connect()
