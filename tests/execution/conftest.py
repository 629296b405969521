from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.execution.scripted_framework import engine

from melt.frameworks import registry


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[engine.Script]:
    """The scripted framework, registered (its one registry line), with a fresh script. Its
    artifacts go in the session's cache (tests/conftest.py), where the local device's memory
    bandwidth is measured once for the session, not once per test."""
    monkeypatch.setitem(registry.PACKAGES, engine.NAME, "tests.execution.scripted_framework")
    engine.SCRIPT.__init__()  # type: ignore[misc]
    yield engine.SCRIPT
