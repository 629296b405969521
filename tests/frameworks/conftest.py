"""Fixtures: a real llama-server on the bundled model (see tests/fixtures/llama_server.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from tests.fixtures.llama_server import RunningServer, llama_server

from melt.models import Artifact


@pytest.fixture(scope="module")
def server(
    llama_server_binary: Path, bundled: Artifact, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    with llama_server(
        llama_server_binary, bundled.path, tmp_path_factory.mktemp("server")
    ) as running:
        yield running


@pytest.fixture
def start_server(
    llama_server_binary: Path, bundled: Artifact, tmp_path: Path
) -> Iterator[Callable[[], RunningServer]]:
    """A fresh server per call, stopped after the test: for tests that kill it."""
    with ExitStack() as stack:
        yield lambda: stack.enter_context(llama_server(llama_server_binary, bundled.path, tmp_path))
