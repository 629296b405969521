"""A phone the adb server lists as `unauthorized` or `offline`, as a user meets it: the fake
adbd produces the state through the real adb server (AUTH tokens it never accepts; no answer
to the host's CNXN), and `melt devices check` and `melt bench` each say it in one line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.devices.adb.phone_cli import Melt, one_error_line, phone_inventory
from tests.fixtures.adb.harness import AdbServer, FakePhone

from melt.store import open_store

FIXES = {
    "unauthorized": "is unauthorized: unlock the phone and accept 'Allow USB debugging' for "
    "this computer, then retry",
    "offline": "is offline: reconnect the cable (or 'adb reconnect'), and check the phone is "
    "awake, then retry",
}


@pytest.fixture(params=sorted(FIXES))
def stuck_phone(
    request: pytest.FixtureRequest, adb_server: AdbServer, sandbox: Path
) -> Iterator[FakePhone]:
    fake = FakePhone(sandbox, mode=request.param)
    adb_server.adb("connect", fake.serial)
    assert adb_server.wait_state(fake.serial, (request.param,)) == request.param
    yield fake
    fake.kill()
    adb_server.adb("disconnect", fake.serial)


def test_devices_check_says_the_state_and_its_fix(
    tmp_path: Path, adb_server: AdbServer, stuck_phone: FakePhone
) -> None:
    inventory = phone_inventory(tmp_path / "devices.yaml", stuck_phone.serial, adb_server.port)
    code, out, err = Melt(["devices", "check", "phone", "--devices", str(inventory)]).finish()
    assert code == 1, (out, err)  # the phone cannot run it: a device fault
    assert err.strip() == f"melt: error: adb device {stuck_phone.serial} {FIXES[stuck_phone.mode]}"


def test_bench_says_the_state_in_one_line_and_leaves_nothing_running(
    tmp_path: Path, adb_server: AdbServer, stuck_phone: FakePhone, llama_server_binary: Path
) -> None:
    inventory = phone_inventory(tmp_path / "devices.yaml", stuck_phone.serial, adb_server.port)
    store = tmp_path / "melt.db"
    argv = ["bench", "--device", "phone", "--devices", str(inventory)]
    argv += ["--framework", "llama-server", "--server-binary", str(llama_server_binary)]
    argv += ["--max-new-tokens", "4", "--threads", "1", "--store", str(store)]
    code, out, err = Melt(argv).finish()
    assert code == 1, (out, err)  # the phone cannot run it: a device fault
    assert one_error_line(err), err
    assert f"adb device {stuck_phone.serial} {FIXES[stuck_phone.mode]}" in err
    if store.exists():
        runs = open_store(str(store), create=False).list_runs()
        assert all(r["status"] != "running" for r in runs)
    assert adb_server.state(stuck_phone.serial) == stuck_phone.mode  # melt changed nothing
    assert not list((stuck_phone.root / "data/local/tmp").rglob("*"))
