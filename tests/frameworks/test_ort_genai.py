"""The ONNX Runtime GenAI engine on the real exported model (short generations, 1 thread).

The reference for KV reuse is ONNX Runtime GenAI itself: a fresh generator fed the whole
turn-2 prompt must give the text the engine gave with turn 1's KV cache kept (on the fp32
export, whose one-row and many-row kernels agree to 1.5e-5 nats).
"""

import sys
from collections.abc import Iterator

import numpy as np
import pytest

from melt.config import RunSettings, SamplingSettings
from melt.errors import MeltError
from melt.frameworks import get_framework
from melt.frameworks.llamacpp.settings import LlamaCppSettings
from melt.frameworks.ort_genai.engine import OrtGenAIEngine, chat_template, import_og
from melt.frameworks.ort_genai.settings import OrtGenAISettings
from melt.models import Artifact
from melt.traces import STOP_EOG, STOP_LENGTH
from melt.workloads import Conversation

pytestmark = pytest.mark.slow

CHAT = Conversation("c", ("What is the capital of France?", "And of Italy?"))
GREEDY = SamplingSettings(temperature=0)


def _settings(**kw: object) -> RunSettings:
    return RunSettings(threads=1, sampling=GREEDY, engine=OrtGenAISettings(), **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def fp32_engine(ort_fp32: Artifact) -> Iterator[OrtGenAIEngine]:
    eng = get_framework("onnxruntime-genai").load(ort_fp32, _settings(max_new_tokens=12))
    yield eng
    eng.close()


def _fresh_greedy(artifact: Artifact, tokens: list[int], n: int) -> list[int]:
    og = import_og()
    model = og.Model(og.Config(str(artifact.path)))
    params = og.GeneratorParams(model)
    params.set_search_options(max_length=2048, do_sample=False)
    generator = og.Generator(model, params)
    generator.append_tokens(np.asarray(tokens, dtype=np.int32))
    out = []
    for _ in range(n):
        generator.generate_next_token()
        out.append(int(generator.get_next_tokens()[0]))
        if out[-1] == 2:
            break
    return out


def test_turns_keep_the_kv_cache_and_match_a_fresh_generator(
    fp32_engine: OrtGenAIEngine, ort_fp32: Artifact
) -> None:
    first, second = fp32_engine.converse(CHAT, 0)
    assert first.prompt_tokens_reused == 0
    assert first.prompt_tokens_evaluated == first.prompt_tokens
    assert second.prompt_tokens_reused > first.prompt_tokens
    assert second.prompt_tokens_reused + second.prompt_tokens_evaluated == second.prompt_tokens
    for t in (first, second):
        assert t.stop_reason in (STOP_EOG, STOP_LENGTH)
        assert len(t.token_ns) == t.generated_tokens > 0
        assert list(t.token_ns) == sorted(t.token_ns)
        assert t.submit_ns <= t.prefill_start_ns <= t.prefill_done_ns <= t.token_ns[0] <= t.end_ns
        assert t.rss_bytes > 0 and t.cpu_time_ns > 0
    messages = [
        {"role": "user", "content": CHAT.turns[0]},
        {"role": "assistant", "content": first.output_text},
        {"role": "user", "content": CHAT.turns[1]},
    ]
    prompt = fp32_engine.tokenize(chat_template(ort_fp32.path).render(messages))
    assert len(prompt) == second.prompt_tokens
    fresh = _fresh_greedy(ort_fp32, prompt, second.generated_tokens)
    visible = fresh[:-1] if fresh[-1] == 2 else fresh
    assert fp32_engine._tokenizer.decode(np.asarray(visible, dtype=np.int32)) == second.output_text


def test_load_reports_version_provider_and_threads(fp32_engine: OrtGenAIEngine) -> None:
    load = fp32_engine.load
    assert load.load_ns > 0 and load.rss_after_bytes > load.rss_before_bytes
    assert "onnxruntime-genai 0." in load.system_info
    assert "execution provider cpu" in load.system_info
    assert "intra_op_num_threads 1" in load.system_info
    framework = get_framework("onnxruntime-genai")
    assert framework.version().startswith("onnxruntime-genai ")


def test_load_counts_the_parameters_llama_cpp_counts(
    fp32_engine: OrtGenAIEngine, bundled: Artifact
) -> None:
    """The export's parameters (recorded when melt made it) are the model's: the ones
    llama.cpp's `llama_model_n_params` counts in the GGUF both frameworks run."""
    llama = get_framework("llama.cpp").load(bundled, RunSettings(threads=1))
    try:
        expected = llama.load.model_params
    finally:
        llama.close()
    assert expected and expected > 100_000_000  # SmolLM2-135M
    assert fp32_engine.load.model_params == expected


def test_fp32_greedy_text_equals_llama_cpp_f32(
    fp32_engine: OrtGenAIEngine, bundled: Artifact
) -> None:
    """Same weights (the exact F32 expansion of the Q4_1), same prompt, greedy: the same
    text from both frameworks."""
    f32 = get_framework("llama.cpp").variant(bundled.name, "f32", lambda _: None)
    llama = get_framework("llama.cpp").load(
        f32, RunSettings(threads=1, max_new_tokens=12, sampling=GREEDY)
    )
    try:
        for text in ("What is the capital of France?", "Write one sentence about rivers."):
            conv = Conversation("p", (text,))
            ours = next(fp32_engine.converse(conv, 0))
            theirs = next(llama.converse(conv, 0))
            assert ours.prompt_tokens == theirs.prompt_tokens
            assert ours.output_text == theirs.output_text
    finally:
        llama.close()


def test_int4_engine_reaches_the_reply_budget(ort_int4: Artifact) -> None:
    eng = get_framework("onnxruntime-genai").load(ort_int4, _settings(max_new_tokens=4))
    try:
        trace = next(eng.converse(Conversation("x", ("Count to twenty: 1, 2, 3,",)), 0))
    finally:
        eng.close()
    assert trace.stop_reason == STOP_LENGTH and trace.generated_tokens == 4


def test_unknown_provider_is_one_line(ort_int4: Artifact) -> None:
    settings = RunSettings(threads=1, engine=OrtGenAISettings(provider="nosuch"))
    with pytest.raises(MeltError, match=r"unknown execution provider 'nosuch' \(ONNX Runtime"):
        get_framework("onnxruntime-genai").load(ort_int4, settings)


def test_llama_cpp_settings_are_refused(ort_int4: Artifact) -> None:
    settings = RunSettings(threads=1, engine=LlamaCppSettings(flash_attn="on"))
    with pytest.raises(MeltError, match=r"onnxruntime-genai got settings for llama\.cpp"):
        get_framework("onnxruntime-genai").load(ort_int4, settings)


def test_missing_runtime_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime_genai", None)
    with pytest.raises(MeltError, match=r"pip install 'melt-bench\[ort\]'"):
        import_og()
