"""The real adb server, one fake phone per test, and an AdbDevice on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.fixtures.adb.fake_adbd import make_sandbox
from tests.fixtures.adb.harness import AdbServer, FakePhone

from melt.devices.adb import AdbDevice


@pytest.fixture(scope="module")
def adb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdbServer]:
    server = AdbServer(tmp_path_factory.mktemp("adb-home"))
    yield server
    server.kill()


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    return make_sandbox(tmp_path / "phone")


@pytest.fixture
def phone(adb_server: AdbServer, sandbox: Path) -> Iterator[FakePhone]:
    fake = FakePhone(sandbox)
    result = adb_server.adb("connect", fake.serial)
    assert "connected" in result.stdout, result
    adb_server.wait_state(fake.serial, ("device",))
    yield fake
    fake.kill()
    adb_server.adb("disconnect", fake.serial)


@pytest.fixture
def device(adb_server: AdbServer, phone: FakePhone) -> Iterator[AdbDevice]:
    dev = AdbDevice(phone.serial, name="pixel", adb_server_port=adb_server.port)
    yield dev
    dev.close()
