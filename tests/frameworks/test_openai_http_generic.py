"""The openai-http engine against a second real OpenAI-compatible server that is not
llama-server: llama-cpp-python's own (`python -m llama_cpp.server`), which streams chat
completions but reports no timings, no usage and has no tokenizer endpoint, so the engine
must count one token per content event and leave every prompt count unknown."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from tests.fixtures.llama_server import SERVER_SETTINGS, free_local_port

from melt.frameworks import FrameworkOptions, get_framework
from melt.frameworks.openai.client import Endpoint, HttpClient, ServerError
from melt.frameworks.openai.dialect import OpenAIDialect
from melt.frameworks.openai.engine import OpenAIHttpEngine
from melt.models import Artifact
from melt.traces import STOP_EOG, STOP_LENGTH
from melt.workloads import Conversation

CHAT = Conversation("c", ("What is the capital of France?", "And of Italy?"))


@contextmanager
def python_server(model: Path, log_dir: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_local_port()
    argv = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--port", str(port)]
    argv += ["--n_threads", "1", "--n_ctx", str(SERVER_SETTINGS.ctx), "--chat_format", "chatml"]
    log_path = log_dir / f"llama-cpp-python-server-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        client = HttpClient(Endpoint.parse(url))
        deadline = time.monotonic() + 120
        while True:
            with suppress(ServerError):
                if client.request("GET", "/v1/models").status == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {log_path.read_text()[-2000:]}")
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=0.2)
        client.close()
        yield process, url
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


@pytest.fixture(scope="module")
def url(bundled: Artifact, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with python_server(bundled.path, tmp_path_factory.mktemp("py-server")) as (_, address):
        yield address


@pytest.fixture
def engine(url: str, bundled: Artifact) -> Iterator[OpenAIHttpEngine]:
    eng = get_framework("openai-http", FrameworkOptions(endpoint=url)).load(
        bundled, SERVER_SETTINGS
    )
    yield eng
    eng.close()


def test_one_token_per_content_event_and_unknown_prompt_counts(
    engine: OpenAIHttpEngine,
) -> None:
    assert engine.info.kind == OpenAIDialect.kind
    assert engine.chat_prompt_tokens([CHAT.turns[0]]) is None  # no tokenizer endpoint
    traces = list(engine.converse(CHAT, 0))
    assert [t.turn_index for t in traces] == [0, 1]
    for t in traces:
        assert 0 < t.generated_tokens <= SERVER_SETTINGS.max_new_tokens
        assert len(set(t.token_ns)) == t.generated_tokens  # each event its own arrival
        assert t.submit_ns < t.token_ns[0] and list(t.token_ns) == sorted(t.token_ns)
        assert t.output_text
        assert t.stop_reason in (STOP_EOG, STOP_LENGTH)
        # This server reports neither usage nor timings: nothing is guessed.
        assert (t.prompt_tokens, t.prompt_tokens_evaluated, t.prompt_tokens_reused) == (
            None,
            None,
            None,
        )
        assert t.engine is None
    assert "Paris" in traces[0].output_text  # the history reached the model as chat messages


def test_a_server_killed_mid_conversation_raises_after_the_turns_it_served(
    bundled: Artifact, tmp_path: Path
) -> None:
    with python_server(bundled.path, tmp_path) as (process, address):
        engine = get_framework("openai-http", FrameworkOptions(endpoint=address)).load(
            bundled, SERVER_SETTINGS
        )
        turns = engine.converse(CHAT, 0)
        first = next(turns)
        process.kill()
        process.wait(timeout=30)
        with pytest.raises(ServerError, match=r"turn 1 of conversation 'c': .*connection"):
            next(turns)
        engine.close()
    assert first.generated_tokens > 0 and first.output_text
