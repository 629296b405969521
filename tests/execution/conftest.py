from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.execution import fake_framework


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[fake_framework.Script]:
    """The fake framework's script, fresh for the test; its artifacts in the test's cache."""
    monkeypatch.setenv("MELT_CACHE", str(tmp_path / "cache"))
    fake_framework.SCRIPT.__init__()  # type: ignore[misc]
    yield fake_framework.SCRIPT
