"""The llama.cpp runner on the real bundled model (short generations)."""

from collections.abc import Iterator

import pytest

from melt.config import RunSettings, SamplingSettings
from melt.frameworks import get_framework
from melt.frameworks.llamacpp.engine import LlamaCppEngine
from melt.models import Artifact
from melt.traces import STOP_CONTEXT, STOP_EOG, STOP_LENGTH
from melt.workloads import Conversation

CHAT = Conversation(
    "c", ("What is the capital of France?", "And of Italy?", "Name one river in each.")
)


@pytest.fixture(scope="module")
def engine(bundled: Artifact) -> Iterator[LlamaCppEngine]:
    eng = get_framework("llama.cpp").load(bundled, RunSettings(threads=2, max_new_tokens=16))
    yield eng
    eng.close()


def test_load_reports_time_and_memory(engine: LlamaCppEngine) -> None:
    load = engine.load
    assert load.load_ns > 0
    assert 80_000_000 < load.model_bytes < 120_000_000  # 135M parameters at ~4.5 bits
    assert load.context_tokens == 2048
    assert "CPU" in load.system_info


def test_history_reuses_the_kv_cache(engine: LlamaCppEngine) -> None:
    traces = list(engine.converse(CHAT, 0))
    assert [t.turn_index for t in traces] == [0, 1, 2]
    first, second, third = traces
    assert first.prompt_tokens_reused == 0
    assert first.prompt_tokens_evaluated == first.prompt_tokens
    for prev, t in ((first, second), (second, third)):
        assert t.prompt_tokens_reused + t.prompt_tokens_evaluated == t.prompt_tokens
        # Everything of the previous turn but the final sampled token is already cached.
        assert t.prompt_tokens_reused >= prev.prompt_tokens
        assert t.prompt_tokens > prev.prompt_tokens + prev.generated_tokens - 2


def test_trace_is_ordered_and_matches_engine_counters(engine: LlamaCppEngine) -> None:
    for t in engine.converse(CHAT, 0):
        assert t.submit_ns <= t.prefill_start_ns <= t.prefill_done_ns <= t.token_ns[0]
        assert list(t.token_ns) == sorted(t.token_ns)
        assert t.token_ns[-1] <= t.end_ns
        assert 1 <= t.generated_tokens <= 16
        assert t.stop_reason in (STOP_EOG, STOP_LENGTH)
        assert t.engine is not None
        assert t.engine.prefill_tokens == t.prompt_tokens_evaluated
        # The first token comes out of the prompt phase; each later one costs one decode.
        assert t.engine.decode_tokens == t.generated_tokens - 1
        assert t.engine.raw["n_sample"] == t.generated_tokens
        assert t.cpu_time_ns and t.cpu_time_ns > 0
        assert t.output_text.strip()


def test_conversations_are_independent(engine: LlamaCppEngine) -> None:
    list(engine.converse(CHAT, 0))
    fresh = next(iter(engine.converse(CHAT, 1)))
    assert fresh.prompt_tokens_reused == 0
    assert fresh.conversation_index == 1


def test_chat_template_comes_from_the_gguf(engine: LlamaCppEngine) -> None:
    # SmolLM2's template adds its own system prompt when the chat has none.
    text = engine._template.render([{"role": "user", "content": "hi"}])
    assert text.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
    assert text.endswith("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")


def test_same_seed_same_replies(bundled: Artifact) -> None:
    settings = RunSettings(threads=1, max_new_tokens=12, sampling=SamplingSettings(seed=3))
    replies = []
    for _ in range(2):
        eng = LlamaCppEngine(bundled, settings)
        replies.append([t.output_text for t in eng.converse(CHAT, 0)])
        eng.close()
    assert replies[0] == replies[1]


def test_long_history_is_cut_to_fit_the_context(bundled: Artifact) -> None:
    eng = LlamaCppEngine(bundled, RunSettings(threads=2, ctx=160, max_new_tokens=24))
    try:
        long = Conversation("l", tuple(f"Tell me fact number {i} about the sea." for i in range(6)))
        traces = list(eng.converse(long, 0))
    finally:
        eng.close()
    assert max(t.history_turns_dropped for t in traces) > 0
    assert all(t.prompt_tokens + 24 <= 160 for t in traces)
    assert all(t.stop_reason != STOP_CONTEXT for t in traces)
