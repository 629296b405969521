"""Fixture sysfs trees (tests/fixtures/sysfs, see its README) copied so a test may change them."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sysfs"


@pytest.fixture
def sysfs(tmp_path: Path) -> Callable[[str], Path]:
    """A private copy of a fixture tree, returned as the root to give a probe."""

    def copy(name: str) -> Path:
        root = tmp_path / name
        shutil.copytree(FIXTURES / name, root)
        return root

    return copy


@pytest.fixture
def fixture_root() -> Path:
    return FIXTURES


@pytest.fixture
def unreadable() -> Callable[[Path], None]:
    return _make_unreadable


@pytest.fixture
def write() -> Callable[[Path, object], None]:
    """Write a sysfs value the way the kernel shows it: text and a newline."""
    return _write


def _make_unreadable(path: Path) -> None:
    """Make reading `path` fail with an OSError: chmod 000, or, as root (who reads through
    any mode), replace the file with a directory so `read_text` raises IsADirectoryError."""
    if os.geteuid() == 0:
        path.unlink()
        path.mkdir()
    else:
        path.chmod(0)


def _write(path: Path, value: object) -> None:
    path.write_text(f"{value}\n")
