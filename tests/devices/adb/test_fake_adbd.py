"""Debian's real adb (server and client) against the fake phone: what a user would type."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from tests.devices.adb.echo import echo_server
from tests.fixtures.adb.harness import AdbServer, FakePhone


def test_shell_runs_in_the_sandbox_with_android_paths(adb_server: AdbServer, phone: FakePhone):
    out = adb_server.adb(
        "-s",
        phone.serial,
        "shell",
        "getprop ro.product.model; cat /sys/class/power_supply/battery/capacity; "
        "grep MemTotal /proc/meminfo; dumpsys battery | grep level",
    )
    assert out.returncode == 0, out
    assert out.stdout.splitlines() == [
        "Pixel 7",
        "87",
        "MemTotal:        7805244 kB",
        "  level: 87",
    ]


def test_push_pull_through_sync_round_trip_a_file_larger_than_one_packet(
    adb_server: AdbServer, phone: FakePhone, tmp_path: Path
):
    payload = os.urandom(700_000)  # several 256 KiB WRTEs, each waiting for its OKAY
    src = tmp_path / "blob.bin"
    src.write_bytes(payload)
    pushed = adb_server.adb("-s", phone.serial, "push", str(src), "/data/local/tmp/melt/blob.bin")
    assert pushed.returncode == 0, pushed
    assert (phone.root / "data/local/tmp/melt/blob.bin").read_bytes() == payload
    back = tmp_path / "back.bin"
    pulled = adb_server.adb("-s", phone.serial, "pull", "/data/local/tmp/melt/blob.bin", str(back))
    assert pulled.returncode == 0, pulled
    assert back.read_bytes() == payload


def test_sync_list_and_a_missing_file(adb_server: AdbServer, phone: FakePhone, tmp_path: Path):
    listed = adb_server.adb("-s", phone.serial, "ls", "/sys/class/thermal")
    names = {line.split()[-1] for line in listed.stdout.splitlines()}
    assert {"thermal_zone0", "thermal_zone1"} <= names
    missing = adb_server.adb("-s", phone.serial, "pull", "/sdcard/nope.txt", str(tmp_path / "x"))
    assert missing.returncode != 0
    assert "does not exist" in missing.stdout + missing.stderr  # adb STATs first


def test_forward_reaches_a_port_on_the_phone_loopback(adb_server: AdbServer, phone: FakePhone):
    with echo_server() as remote_port:
        local = socket.create_server(("127.0.0.1", 0))
        local_port = local.getsockname()[1]
        local.close()
        out = adb_server.adb(
            "-s", phone.serial, "forward", f"tcp:{local_port}", f"tcp:{remote_port}"
        )
        assert out.returncode == 0, out
        with socket.create_connection(("127.0.0.1", local_port), timeout=10) as conn:
            conn.sendall(b"ping")
            assert conn.recv(100) == b"echo:ping"
        adb_server.adb("-s", phone.serial, "forward", "--remove", f"tcp:{local_port}")


def test_unauthorized_mode_is_listed_as_unauthorized(adb_server: AdbServer, sandbox: Path):
    fake = FakePhone(sandbox, mode="unauthorized")
    try:
        out = adb_server.adb("connect", fake.serial)
        assert "authenticate" in out.stdout + out.stderr
        assert adb_server.wait_state(fake.serial, ("unauthorized",)) == "unauthorized"
    finally:
        fake.kill()
        adb_server.adb("disconnect", fake.serial)
