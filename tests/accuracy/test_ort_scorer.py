"""The ONNX Runtime GenAI scorer on the real int4 export.

The reference feeds one token at a time to a fresh generator and reads the logits after
each: the logits after token p predict token p + 1, so a scorer shifted by one position, or
one whose cached prefix (kept across choices and items, rewound on divergence) went stale,
cannot match it.
"""

from collections.abc import Iterator

import numpy as np
import pytest

from melt.accuracy.ort_scorer import OrtScorer
from melt.accuracy.perplexity import evaluate_text
from melt.accuracy.scorer import Scorer, log_softmax
from melt.accuracy.tasks import Request
from melt.frameworks import get_framework
from melt.models import Artifact

pytestmark = pytest.mark.slow

CONTEXT = "The capital of France is Paris. The capital of Italy is"
REQUESTS = [
    Request(CONTEXT, " Rome."),
    Request(CONTEXT, " Paris, of course."),
    Request(CONTEXT, " a very large banana"),
]


@pytest.fixture(scope="module")
def scorer(ort_int4: Artifact) -> Iterator[OrtScorer]:
    with OrtScorer(ort_int4, threads=1, ctx=1024) as s:
        yield s


def token_by_token(scorer: OrtScorer, tokens: list[int], start: int) -> float:
    og = scorer.og
    params = og.GeneratorParams(scorer._model)
    params.set_search_options(max_length=256)
    generator = og.Generator(scorer._model, params)
    total = 0.0
    for pos, token in enumerate(tokens[:-1]):
        generator.append_tokens(np.array([token], dtype=np.int32))
        if pos + 1 >= start:
            logits = np.asarray(generator.get_output("logits")[0, -1:], dtype=np.float32)
            total += float(log_softmax(logits)[0, tokens[pos + 1]])
    return total


def test_shared_context_equals_token_by_token(scorer: OrtScorer) -> None:
    results = scorer.loglikelihoods(REQUESTS)
    for request, result in zip(REQUESTS, results, strict=True):
        seq = scorer.encode_pair(request)
        assert result.tokens == len(seq.tokens) - seq.start
        assert result.logprob == pytest.approx(
            token_by_token(scorer, seq.tokens, seq.start), abs=1e-4
        )
    assert results[0].logprob > results[1].logprob > results[2].logprob


def test_results_do_not_depend_on_what_was_cached_before(scorer: OrtScorer) -> None:
    first = scorer.loglikelihoods(REQUESTS)
    scorer.loglikelihoods([Request("Something else entirely.", " Yes")])
    again = scorer.loglikelihoods(REQUESTS)
    alone = [scorer.loglikelihoods([r])[0] for r in reversed(REQUESTS)][::-1]
    for a, b, c in zip(first, again, alone, strict=True):
        assert a.logprob == pytest.approx(b.logprob, abs=1e-4)
        assert a.logprob == pytest.approx(c.logprob, abs=1e-4)


def test_same_tokens_as_the_llama_cpp_scorer(scorer: OrtScorer, bundled: Artifact) -> None:
    with Scorer(bundled, threads=1, ctx=256, batch=32) as llama:
        for request in [*REQUESTS, Request("", "Hello world"), Request("Answer: ", "yes")]:
            assert scorer.encode_pair(request) == llama.encode_pair(request)
        assert scorer.vocab.add_bos == llama.vocab.add_bos
        assert scorer.bos == llama.bos


def test_kld_against_llama_cpp_on_the_same_windows(scorer: OrtScorer, bundled: Artifact) -> None:
    """ORT's int4 against llama.cpp's exact F32 expansion of the same Q4_1 weights: the
    divergence is that of a 4-bit quantizer (well above 0, far below unrelated models), and
    the fp32 reference's perplexity is the llama.cpp F32 one."""
    f32 = get_framework("llama.cpp").variant(bundled.name, "f32", lambda _: None)
    with Scorer(f32, threads=1, ctx=256, batch=128) as reference:
        scorers = {f32.sha256: reference, scorer.artifact.sha256: scorer}
        ppl, div = evaluate_text(scorers, f32.sha256, window_tokens=128, budget=256)
    kld = div[scorer.artifact.sha256]
    # 2 windows of 128, each scoring 63 (positions 64..126 predict the next token)
    assert kld.tokens_scored == 2 * (128 - 64 - 1) == ppl[f32.sha256].tokens_scored
    assert 0.01 < kld.kld_nats_mean < 1.0
    assert 0.5 < kld.top1_agreement < 1.0
    assert ppl[scorer.artifact.sha256].value > ppl[f32.sha256].value * 0.9
