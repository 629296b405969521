"""Fixtures for device tests: a real sshd on loopback and an inventory that reaches it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from ssh_server import Sshd, device_python, start_sshd


def _cache_dir() -> Path:
    base = os.environ.get("MELT_CI_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "melt-ci"
    )
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def device_venv_python() -> Path:
    return device_python(_cache_dir())


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sshd_without_sftp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    """An sshd with no SFTP subsystem (a Dropbear-like board: a shell is all there is)."""
    server = start_sshd(tmp_path_factory.mktemp("sshd-no-sftp"), sftp=False)
    yield server
    server.stop()


@pytest.fixture
def known_hosts(tmp_path: Path, sshd: Sshd) -> Path:
    path = tmp_path / "known_hosts"
    path.write_text(sshd.host_key_line())
    return path


@pytest.fixture
def inventory(
    tmp_path: Path, sshd: Sshd, known_hosts: Path, device_venv_python: Path
) -> Callable[..., Path]:
    """Write a melt-devices.yaml with one SSH device `board` (overrides per call)."""

    def write(**overrides: object) -> Path:
        entry: dict[str, object] = {
            "name": "board",
            "transport": "ssh",
            "host": "127.0.0.1",
            "port": sshd.port,
            "identity_file": str(sshd.client_key),
            "known_hosts": str(known_hosts),
            "python": str(device_venv_python),
            "workdir": str(tmp_path / "device-workdir"),
        }
        entry.update(overrides)
        entry = {k: v for k, v in entry.items() if v is not None}
        path = tmp_path / "melt-devices.yaml"
        path.write_text(yaml.safe_dump({"devices": [entry]}))
        return path

    return write
