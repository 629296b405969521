"""openai-http's weight-free helpers (the fit check's prompt counter, the tokenizer) leave
no connection open to the server once they have answered; `tokenize` is a capability of the
server's dialect, not a stub of every engine."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.fixtures.llama_server import API_KEY, API_KEY_ENV, RunningServer

from melt.frameworks import FrameworkOptions, get_framework
from melt.frameworks.base import Engine
from melt.models import Artifact
from melt.runners.remote import RemoteEngine

ESTABLISHED = "01"


def _established_to(port: int) -> int:
    """Connections the server side holds open (ESTABLISHED, local port = the server's)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            count += local_port == port and fields[3] == ESTABLISHED
    return count


def test_the_prompt_counter_and_tokenizer_close_their_connections(
    server: RunningServer, bundled: Artifact, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(API_KEY_ENV, API_KEY)
    port = int(server.url.rsplit(":", 1)[1].split("/")[0])
    before = _established_to(port)
    framework = get_framework(
        "openai-http", FrameworkOptions(endpoint=server.url, api_key_env=API_KEY_ENV)
    )
    counter = framework.prompt_counter(bundled)
    assert counter is not None
    assert (counter(["Hello there."]) or 0) > 3
    tokenize = framework.tokenizer(bundled)
    assert len(tokenize("Hello there.")) > 1
    assert _established_to(port) == before


def test_tokenize_is_not_a_stub_on_engines() -> None:
    assert not hasattr(RemoteEngine, "tokenize")
    assert "tokenize" not in Engine.__dict__
