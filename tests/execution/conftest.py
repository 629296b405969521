from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.execution.scripted_framework import engine

from melt.frameworks import registry


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[engine.Script]:
    """The scripted framework, registered (its one registry line), with a fresh script; its
    artifacts in the test's cache."""
    monkeypatch.setitem(registry.PACKAGES, engine.NAME, "tests.execution.scripted_framework")
    monkeypatch.setenv("MELT_CACHE", str(tmp_path / "cache"))
    engine.SCRIPT.__init__()  # type: ignore[misc]
    yield engine.SCRIPT
