"""The openai-http engine against a real llama-server running the bundled model: the stream,
the server's own timings, its prompt cache, failures mid-run, and the API key."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.fixtures.llama_server import API_KEY, API_KEY_ENV, SERVER_SETTINGS, RunningServer

from melt.errors import MeltError
from melt.frameworks import FrameworkOptions, get_framework
from melt.frameworks.openai.client import ServerError, SseEvent
from melt.frameworks.openai.dialect import LlamaServerDialect
from melt.frameworks.openai.engine import OpenAIHttpEngine
from melt.frameworks.openai.stream import (
    SOURCE_LLAMA_SERVER,
    SOURCE_USAGE,
    PromptCounts,
    TurnStream,
)
from melt.metrics.consistency import decode_consistency
from melt.models import Artifact
from melt.traces import STOP_EOG, STOP_LENGTH
from melt.workloads import Conversation

CHAT = Conversation("c", ("What is the capital of France?", "And of Italy?", "Say it again."))


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(API_KEY_ENV, API_KEY)


def _options(server: RunningServer) -> FrameworkOptions:
    return FrameworkOptions(endpoint=server.url, api_key_env=API_KEY_ENV)


@pytest.fixture
def engine(server: RunningServer, bundled: Artifact, api_key: None) -> Iterator[OpenAIHttpEngine]:
    eng = get_framework("openai-http", _options(server)).load(bundled, SERVER_SETTINGS)
    yield eng
    eng.close()


def test_every_token_is_stamped_on_arrival(engine: OpenAIHttpEngine) -> None:
    assert engine.info.kind == LlamaServerDialect.kind
    traces = list(engine.converse(CHAT, 0))
    assert [t.turn_index for t in traces] == [0, 1, 2]
    for t in traces:
        assert t.engine is not None
        assert t.generated_tokens == t.engine.raw["predicted_n"]  # the server's own count
        assert 0 < t.generated_tokens <= SERVER_SETTINGS.max_new_tokens
        stamps = t.token_ns
        assert t.submit_ns < stamps[0]
        assert list(stamps) == sorted(stamps)
        assert stamps[-1] <= t.end_ns
        # The server sends one event per token: stamps are distinct arrivals, not one
        # burst at the end (the EOG token, which has no text, may share the final event).
        assert len(set(stamps)) >= t.generated_tokens - 1
        assert t.output_text
        assert t.stop_reason in (STOP_EOG, STOP_LENGTH)
        if t.stop_reason == STOP_LENGTH:
            assert t.generated_tokens == SERVER_SETTINGS.max_new_tokens


def test_server_timings_are_stored_and_compared(engine: OpenAIHttpEngine) -> None:
    traces = list(engine.converse(CHAT, 0))
    for t in traces:
        timers = t.engine
        assert timers is not None
        assert timers.raw["source"] == SOURCE_LLAMA_SERVER
        assert timers.decode_tokens == t.generated_tokens - 1
        assert timers.decode_ms == timers.raw["predicted_ms"] > 0
        assert timers.prefill_tokens == t.prompt_tokens_evaluated
        assert timers.prefill_ms == timers.raw["prompt_ms"] > 0
        # timings_per_token: the server's clock at each token, rising with the count
        per_token = timers.raw["predicted_ms_per_token"]
        assert len(per_token) == t.generated_tokens
        assert per_token == sorted(per_token)
    consistency = decode_consistency(traces)
    assert consistency is not None
    assert consistency.turns == len([t for t in traces if t.generated_tokens > 1])
    steps = sum(t.generated_tokens - 1 for t in traces)
    server_s = sum(t.engine.decode_ms for t in traces if t.engine) / 1e3
    assert consistency.engine_tok_per_s == pytest.approx(steps / server_s)


def test_cached_prompt_tokens_come_from_the_server(engine: OpenAIHttpEngine) -> None:
    first, second, third = engine.converse(CHAT, 0)
    assert first.prompt_tokens == engine.chat_prompt_tokens([CHAT.turns[0]])
    for prev, t in ((first, second), (second, third)):
        assert t.prompt_tokens_evaluated + t.prompt_tokens_reused == t.prompt_tokens
        assert t.prompt_tokens_reused >= prev.prompt_tokens  # the history is a cached prefix
        assert t.prompt_tokens_evaluated < t.prompt_tokens


def test_a_server_killed_mid_run_fails_the_run_and_keeps_its_turns(
    start_server: Callable[[], RunningServer],
    bundled: Artifact,
    api_key: None,
    tmp_path: Path,
) -> None:
    from melt.config import Cell
    from melt.execution.bench import run_bench
    from melt.execution.request import BenchRequest
    from melt.results import STATUS_FAILED
    from melt.store import open_store

    running = start_server()
    store = tmp_path / "melt.db"

    class KillAfterFirstMeasuredTurn:
        def preparing(self, message: str) -> None: ...
        def run_started(self, *args: object) -> None: ...
        def conversation_started(self, *args: object) -> None: ...
        def run_finished(self, result: object) -> None: ...

        def turn_done(self, trace, metrics) -> None:  # type: ignore[no-untyped-def]
            if not trace.warmup:
                running.kill()

    request = BenchRequest(
        cells=(Cell(model=str(bundled.path), quant=None, settings=SERVER_SETTINGS),),
        framework="openai-http",
        framework_options=_options(running),
        warmup_turns=1,
        conversations=1,
        store=str(store),
    )
    with pytest.raises(ServerError, match="turn 1 of conversation") as err:
        run_bench(request, KillAfterFirstMeasuredTurn())
    assert running.url.split("/v1")[0] in str(err.value)
    db = open_store(str(store))
    (run,) = db.list_runs()
    assert run["status"] == STATUS_FAILED
    assert "turn 1 of conversation" in run["error"]
    turns = db.turns(run["id"])
    assert [(t["warmup"], t["turn_index"]) for t in turns] == [(True, 0), (False, 0)]
    assert turns[1]["generated_tokens"] > 0


def test_the_api_key_is_sent_and_never_stored(
    server: RunningServer, api_key: None, melt: Callable[..., object], tmp_path: Path
) -> None:
    store = tmp_path / "melt.db"
    result = melt(
        "bench",
        "--framework",
        "openai-http",
        "--endpoint",
        server.url,
        "--api-key-env",
        API_KEY_ENV,
        "--threads",
        "1",
        "--ctx",
        str(SERVER_SETTINGS.ctx),
        "--max-new-tokens",
        "8",
        "--temperature",
        "0",
        "--conversations",
        "1",
        "--warmup",
        "0",
        "--store",
        str(store),
        "--json",
    )
    assert result.code == 0, result.err
    assert result.json()["cells"][0]["runs"][0]["status"] == "completed"
    assert API_KEY.encode() not in store.read_bytes()


def test_a_wrong_key_is_the_servers_refusal_in_one_line(
    server: RunningServer, bundled: Artifact, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(API_KEY_ENV, "not-the-key")
    framework = get_framework("openai-http", _options(server))
    with pytest.raises(MeltError, match=r"HTTP 401: Invalid API Key .*--api-key-env") as err:
        framework.load(bundled, SERVER_SETTINGS)
    assert "\n" not in str(err.value) and "not-the-key" not in str(err.value)


def test_a_missing_key_variable_is_one_line(
    melt: Callable[..., object], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MELT_TEST_NO_SUCH_KEY", raising=False)
    result = melt(
        "bench",
        "--framework",
        "openai-http",
        "--endpoint",
        "http://127.0.0.1:9/v1",
        "--api-key-env",
        "MELT_TEST_NO_SUCH_KEY",
    )
    assert result.code == 2
    assert result.err.strip().count("\n") == 0
    assert "MELT_TEST_NO_SUCH_KEY" in result.err and "not set" in result.err


def test_an_unreachable_endpoint_is_a_user_error() -> None:
    framework = get_framework("openai-http", FrameworkOptions(endpoint="http://127.0.0.1:9/v1"))
    with pytest.raises(MeltError, match=r"--endpoint http://127.0.0.1:9/v1: .*connection refused"):
        framework.version()


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("llama.cpp", FrameworkOptions(endpoint="http://x/v1"), "--endpoint does not apply"),
        ("openai-http", FrameworkOptions(), "needs --endpoint"),
        ("openai-http", FrameworkOptions(endpoint="ftp://x"), "not an http"),
        (
            "openai-http",
            FrameworkOptions(endpoint="http://x/v1", server_binary="/bin/x"),
            "--server-binary does not apply",
        ),
    ],
)
def test_framework_flags_are_checked(name: str, options: FrameworkOptions, message: str) -> None:
    with pytest.raises(MeltError, match=message):
        get_framework(name, options)


def test_a_server_without_stream_counts_is_counted_from_usage() -> None:
    """A server that only reports `usage` at the end (no llama-server timings): one token per
    content event, the rest stamped at the last event, prompt reuse only if it says so."""
    stream = TurnStream(budget=8)
    events = [
        {"choices": [{"delta": {"role": "assistant", "content": ""}}]},
        {"choices": [{"delta": {"content": "Par"}}]},
        {"choices": [{"delta": {"content": "is"}}]},
        {"choices": [{"delta": {}, "finish_reason": "stop"}]},
        {"choices": [], "usage": {"prompt_tokens": 30, "completion_tokens": 3}},
    ]
    for i, data in enumerate(events):
        stream.feed(SseEvent(1000 * (i + 1), data))
    assert stream.finish() == [2000, 3000, 5000]
    assert stream.prompt_counts() == PromptCounts(30, None, None)
    timers = stream.timers()
    assert timers is not None and timers.decode_ms is None
    assert timers.raw["source"] == SOURCE_USAGE
    assert timers.raw["tokens_stamped_at_end"] == 1
