"""AdbDevice through the real adb server to the fake phone: the Device protocol and its faults."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
from tests.devices.adb.echo import echo_server
from tests.fixtures.adb.harness import AdbServer, FakePhone

from melt.devices.adb import AdbDevice, elf_machine
from melt.devices.base import Device, DeviceError
from melt.errors import MeltError


def test_is_a_device(device: AdbDevice):
    assert isinstance(device, Device)


def test_facts_from_getprop_sysfs_procfs_and_df(device: AdbDevice):
    facts = device.facts()
    assert facts.transport == "adb"
    assert facts.host == device.serial
    assert facts.cpu_model == "Tensor G2"  # ro.soc.model
    assert facts.os == "Android 14 (API 34)"
    assert facts.arch == "arm64-v8a"
    assert facts.logical_cores == 8
    assert facts.cpu_max_freq_khz == (1803000,) * 4 + (2348000,) * 2 + (2850000,) * 2
    assert facts.ram_bytes == 7805244 * 1024
    assert facts.workdir == "/data/local/tmp/melt"
    assert facts.workdir_free_bytes is not None and facts.workdir_free_bytes > 0
    android = facts.extra["android"]
    assert (android["model"], android["board_platform"]) == ("Pixel 7", "gs201")
    assert facts.extra["battery"] == {
        "level_pct": 87,
        "status": "Discharging",
        "temp_c": 31.2,
        "voltage_v": 3.987,
        "charge_counter_uah": 3836700,
        "usb_powered": False,
        "ac_powered": None,  # the phone has no Mains supply
        "source": "sysfs /sys/class/power_supply/battery",
    }
    assert facts.extra["thermal_c"] == {"battery": 31.2, "skin-therm": 33.45}


def test_battery_falls_back_to_dumpsys_without_a_sysfs_battery(device: AdbDevice, phone: FakePhone):
    supplies = phone.root / "sys/class/power_supply"
    (supplies / "battery/type").write_text("Unknown\n")  # no supply says Battery
    (supplies / "usb/online").write_text("1\n")
    battery = device.facts().extra["battery"]
    assert battery["source"] == "dumpsys battery"
    assert (battery["level_pct"], battery["temp_c"], battery["voltage_v"]) == (87, 31.2, 3.987)
    assert battery["usb_powered"] is True
    assert battery["status"] == "Discharging"


def test_run_separates_stdout_stderr_and_exit_status(device: AdbDevice):
    result = device.run(["sh", "-c", "printf 'a\\nb'; echo oops >&2; exit 3"])
    assert (result.returncode, result.stdout, result.stderr) == (3, "a\nb", "oops\n")
    assert device.run(["true"]).ok


def test_run_timeout_is_a_device_error_and_ends_the_command(device: AdbDevice, phone: FakePhone):
    start = time.monotonic()
    with pytest.raises(DeviceError, match="did not finish in time"):
        device.run(["sh", "-c", "echo $$ > /data/local/tmp/pid; exec sleep 30"], timeout=2.0)
    assert time.monotonic() - start < 20
    pid = (phone.root / "data/local/tmp/pid").read_text().strip()
    deadline = time.monotonic() + 15
    # the fake phone's processes are this machine's: a killed one leaves /proc or turns zombie
    while Path(f"/proc/{pid}/cmdline").exists() and Path(f"/proc/{pid}/cmdline").read_bytes():
        assert time.monotonic() < deadline, "the timed-out command is still running"
        time.sleep(0.01)


def test_file_view(device: AdbDevice):
    assert device.read_text("/sys/class/power_supply/battery/status") == "Discharging\n"
    assert device.list_dir("/sys/class/power_supply") == ["battery", "usb"]
    assert device.exists("/proc/meminfo") and not device.exists("/sys/nope")
    assert device.is_dir("/sys/class/thermal") and not device.is_dir("/proc/meminfo")
    with pytest.raises(FileNotFoundError):
        device.read_text("/sys/nope")
    with pytest.raises(FileNotFoundError):
        device.list_dir("/sys/nope")
    with pytest.raises(NotADirectoryError):
        device.list_dir("/proc/meminfo")


def test_read_many_in_one_round_trip_keeps_content_exact(device: AdbDevice, phone: FakePhone):
    odd = phone.root / "data/local/tmp/odd.txt"
    odd.write_text("no newline at the end, and a fake delimiter\n@ 0\n")
    odd_no_nl = phone.root / "data/local/tmp/odd2.txt"
    odd_no_nl.write_text("x")
    empty = phone.root / "data/local/tmp/empty.txt"
    empty.write_text("")
    paths = [
        "/sys/class/thermal/thermal_zone1/temp",
        "/sys/missing",
        "/data/local/tmp/odd.txt",
        "/data/local/tmp/odd2.txt",
        "/data/local/tmp/empty.txt",
    ]
    calls = []
    real_open = device._open_shell
    device._open_shell = lambda script: calls.append(script) or real_open(script)  # type: ignore[method-assign]
    got = device.read_many(paths)
    assert len(calls) == 1
    assert got == {
        paths[0]: "33450\n",
        paths[1]: None,
        paths[2]: odd.read_text(),
        paths[3]: "x",
        paths[4]: "",
    }


def test_push_verifies_and_pull_round_trips(device: AdbDevice, phone: FakePhone, tmp_path: Path):
    src = tmp_path / "model.gguf"
    src.write_bytes(b"GGUF" + os.urandom(300_000))
    src.chmod(0o640)
    sent = device.push(src, "/data/local/tmp/melt/models/model.gguf")
    on_phone = phone.root / "data/local/tmp/melt/models/model.gguf"
    assert sent == src.stat().st_size == on_phone.stat().st_size
    assert (
        hashlib.sha256(on_phone.read_bytes()).digest() == hashlib.sha256(src.read_bytes()).digest()
    )
    assert on_phone.stat().st_mode & 0o777 == 0o640
    back = tmp_path / "back.gguf"
    assert device.pull("/data/local/tmp/melt/models/model.gguf", back) == sent
    assert back.read_bytes() == src.read_bytes()


def test_push_is_checked_by_the_phone_sha256(device: AdbDevice, phone: FakePhone, tmp_path: Path):
    src = tmp_path / "model.gguf"
    src.write_bytes(b"GGUF" + bytes(1000))
    fake_sum = phone.root / "system/bin/sha256sum"  # first on the phone's PATH
    fake_sum.write_text('#!/bin/sh\necho 0000 "$1"\n')  # as if the bytes had been mangled
    fake_sum.chmod(0o755)
    with pytest.raises(DeviceError, match=r"differs from .* after the push: retry"):
        device.push(src, "/data/local/tmp/melt/model.gguf")
    fake_sum.write_text("#!/bin/sh\nexit 127\n")  # a phone without sha256sum: size only
    assert device.push(src, "/data/local/tmp/melt/model.gguf") == 1004


def test_pull_of_a_missing_file_is_a_device_error(device: AdbDevice, tmp_path: Path):
    with pytest.raises(DeviceError, match=r"no file /sdcard/nope\.bin on the phone"):
        device.pull("/sdcard/nope.bin", tmp_path / "nope.bin")
    assert not (tmp_path / "nope.bin").exists()


def test_push_refuses_a_binary_for_another_abi_before_sending(
    device: AdbDevice, phone: FakePhone, tmp_path: Path
):
    binary = Path(shutil.which("true") or "/bin/true")
    assert elf_machine(binary) == 62  # this machine's x86-64; the fixture phone is arm64
    with pytest.raises(MeltError) as err:  # the user's binary: a mistake to fix, exit 2
        device.push(binary, "/data/local/tmp/melt/llama-server")
    assert not isinstance(err.value, DeviceError)
    assert "x86_64" in str(err.value) and "arm64-v8a" in str(err.value)
    assert "\n" not in str(err.value)
    assert not (phone.root / "data/local/tmp/melt/llama-server").exists()


def test_push_accepts_a_binary_for_the_phone_abi(
    adb_server: AdbServer, phone: FakePhone, tmp_path: Path
):
    props = phone.root / ".state/props"
    props.write_text(props.read_text().replace("arm64-v8a,armeabi-v7a,armeabi", "x86_64,x86"))
    dev = AdbDevice(phone.serial, adb_server_port=adb_server.port)
    binary = Path(shutil.which("true") or "/bin/true")
    dev.push(binary, "/data/local/tmp/melt/true")
    assert dev.run(["/data/local/tmp/melt/true"]).ok


def test_no_space_on_the_phone_is_one_line_before_pushing(
    device: AdbDevice, phone: FakePhone, tmp_path: Path
):
    (phone.root / ".state/df_avail_kb").write_text("100\n")  # the phone's df: 100 KiB free
    src = tmp_path / "model.gguf"
    src.write_bytes(b"GGUF" + bytes(1_000_000))
    with pytest.raises(DeviceError, match="free space on the phone") as err:
        device.push(src, "/data/local/tmp/melt/model.gguf")
    assert "0.1 MB free" in str(err.value) and "1.0 MB" in str(err.value)
    assert not (phone.root / "data/local/tmp/melt/model.gguf").exists()


def test_spawn_streams_lines_and_a_signal_ends_it(device: AdbDevice, phone: FakePhone):
    proc = device.spawn(
        ["sh", "-c", 'echo "$MELT_GREETING"; echo ready; echo warn >&2; exec sleep 60'],
        env={"MELT_GREETING": "hello phone"},
    )
    lines = proc.lines()
    assert next(lines) == "hello phone"
    assert next(lines) == "ready"
    assert device.read_text(f"/proc/{proc.pid}/cmdline").startswith("sleep")  # pid on the phone
    proc.signal(15)
    assert proc.wait(timeout=15) == 128 + 15
    assert list(lines) == []
    assert proc.stderr_tail() == "warn\n"
    workdir = phone.root / "data/local/tmp/melt"
    assert [p.name for p in workdir.glob(".spawn-*")] != []
    device.close()
    assert [p.name for p in workdir.glob(".spawn-*")] == []


def test_spawn_exit_status_and_stdin(device: AdbDevice):
    proc = device.spawn(["sh", "-c", "read line; echo got:$line; exit 4"])
    proc.write("abc\n")
    assert list(proc.lines()) == ["got:abc"]
    assert proc.wait(timeout=15) == 4


def test_forward_reaches_a_server_on_the_phone(adb_server: AdbServer, device: AdbDevice):
    with echo_server() as remote_port:
        local_port = device.forward(remote_port)
        with socket.create_connection(("127.0.0.1", local_port), timeout=10) as conn:
            conn.sendall(b"hi")
            assert conn.recv(100) == b"echo:hi"
    assert f"tcp:{local_port}" in adb_server.adb("forward", "--list").stdout
    device.close()
    assert f"tcp:{local_port}" not in adb_server.adb("forward", "--list").stdout


def test_clock_is_monotonic_and_offset_within_its_uncertainty(device: AdbDevice):
    t0 = time.monotonic_ns()
    now = device.now_ns()
    t2 = time.monotonic_ns()
    # the fake phone runs on this machine, so its CLOCK_MONOTONIC is the controller's
    assert t0 <= now <= t2
    offset = device.clock_offset()
    assert offset.exchanges == 8
    assert offset.method == "adb shell /proc/timer_list (CLOCK_MONOTONIC)"
    assert abs(offset.offset_ns) <= offset.uncertainty_ns
    assert offset.uncertainty_ns == (offset.round_trip_ns + 1) // 2


def test_phone_lost_mid_command_is_a_device_error(device: AdbDevice, phone: FakePhone):
    proc = device.spawn(["sh", "-c", "echo started; exec sleep 30"])
    assert next(proc.lines()) == "started"
    errors: list[BaseException] = []
    started = phone.root / "data/local/tmp/run-started"

    def run_long() -> None:
        try:
            device.run(["sh", "-c", "touch /data/local/tmp/run-started; exec sleep 30"])
        except BaseException as exc:
            errors.append(exc)

    runner = threading.Thread(target=run_long)
    runner.start()
    deadline = time.monotonic() + 15
    while not started.exists():
        assert time.monotonic() < deadline, "the long command never started"
        time.sleep(0.01)
    phone.kill()
    runner.join(timeout=30)
    assert len(errors) == 1 and isinstance(errors[0], DeviceError), errors
    assert "connection" in str(errors[0])
    with pytest.raises(DeviceError, match="connection lost"):
        proc.wait(timeout=30)
    with pytest.raises(DeviceError, match="connection lost"):
        list(proc.lines())  # the stream ended without the exit status
    with pytest.raises(DeviceError):
        device.run(["true"])


def test_unknown_serial_is_one_line_naming_it(adb_server: AdbServer):
    dev = AdbDevice("NOSUCHPHONE", adb_server_port=adb_server.port)
    with pytest.raises(DeviceError) as err:
        dev.facts()
    message = str(err.value)
    assert "NOSUCHPHONE not found" in message and "adb devices" in message
    assert "\n" not in message


def test_unauthorized_phone_is_reported_as_such(adb_server: AdbServer, sandbox: Path):
    fake = FakePhone(sandbox, mode="unauthorized")
    try:
        dev = AdbDevice(fake.serial, adb_server_port=adb_server.port)  # connects by itself
        with pytest.raises(DeviceError, match="is unauthorized: unlock the phone and accept"):
            dev.run(["true"])
    finally:
        fake.kill()
        adb_server.adb("disconnect", fake.serial)


def test_offline_phone_is_reported_as_such(adb_server: AdbServer, sandbox: Path):
    fake = FakePhone(sandbox, mode="offline")
    try:
        dev = AdbDevice(fake.serial, adb_server_port=adb_server.port)
        with pytest.raises(DeviceError, match="is offline: reconnect the cable"):
            dev.run(["true"])
    finally:
        fake.kill()
        adb_server.adb("disconnect", fake.serial)


def test_clock_falls_back_to_uptime_with_its_resolution_in_the_uncertainty(
    adb_server: AdbServer, sandbox: Path
):
    (sandbox / "proc/timer_list").write_text("")  # as on phones, where the shell cannot read it
    fake = FakePhone(sandbox)
    try:
        assert "connected" in adb_server.adb("connect", fake.serial).stdout
        dev = AdbDevice(fake.serial, adb_server_port=adb_server.port)
        offset = dev.clock_offset()
        assert offset.method == "adb shell /proc/uptime (CLOCK_BOOTTIME)"
        assert offset.uncertainty_ns == (offset.round_trip_ns + 1) // 2 + 5_000_000
        # the phone is this machine: its offset is BOOTTIME - MONOTONIC (time spent suspended)
        suspended_ns = time.clock_gettime_ns(time.CLOCK_BOOTTIME) - time.monotonic_ns()
        assert abs(offset.offset_ns - suspended_ns) <= offset.uncertainty_ns
    finally:
        fake.kill()
        adb_server.adb("disconnect", fake.serial)


def test_the_phone_filling_up_mid_push_is_adbds_fail_in_one_line(
    device: AdbDevice, phone: FakePhone, tmp_path: Path
):
    src = tmp_path / "model.gguf"
    src.write_bytes(b"GGUF" + os.urandom(2_000_000))
    (phone.root / ".state/df_avail_kb_during_send").write_text("500 /data/local/tmp/melt/\n")
    with pytest.raises(DeviceError) as err:
        device.push(src, "/data/local/tmp/melt/model.gguf")
    assert str(err.value) == (
        f"adb device {device.serial} ran out of space in /data/local/tmp/melt pushing "
        "model.gguf (needs 2.0 MB, 0.5 MB free now; the phone said 'write failed: No space "
        "left on device'): free space on the phone"
    )
    assert not (phone.root / "data/local/tmp/melt/model.gguf").exists()  # adbd removed it
    assert device.run(["true"]).ok  # the phone is still usable


def test_another_sync_refusal_names_the_phones_reason(
    device: AdbDevice, phone: FakePhone, tmp_path: Path
):
    src = tmp_path / "x.bin"
    src.write_bytes(b"x" * 100)
    (phone.root / "data/local/tmp/afile").write_text("a file, not a folder\n")
    with pytest.raises(DeviceError, match=r"failed \(couldn't create file: Not a directory\)"):
        device.push(src, "/data/local/tmp/afile/x.bin")
