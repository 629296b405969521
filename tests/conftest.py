"""Shared fixtures: the real bundled model, temporary stores, and an in-process CLI runner."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from melt.cli.main import run
from melt.models import Artifact, resolve_model


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep tests out of the user's ~/.cache/melt."""
    mp = pytest.MonkeyPatch()
    mp.setenv("MELT_CACHE", str(tmp_path_factory.mktemp("melt-cache")))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def bundled() -> Artifact:
    return resolve_model("smollm2-135m-instruct")


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> dict:
        return json.loads(self.out)


@pytest.fixture
def melt(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., CliResult]:
    """Run the `melt` entry point in process, as a user would type it."""

    def invoke(*args: str) -> CliResult:
        monkeypatch.setattr(sys, "argv", ["melt", *args])
        capsys.readouterr()
        try:
            run()
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return invoke


@pytest.fixture
def workload_file(tmp_path: Path) -> Callable[[object], Path]:
    def write(content: object, name: str = "w.json") -> Path:
        path = tmp_path / name
        path.write_text(content if isinstance(content, str) else json.dumps(content))
        return path

    return write
