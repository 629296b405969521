"""The references scorer tests compare with: one token per llama_decode call, and llama.cpp's
own llama-perplexity."""

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import llama_cpp as llama
import numpy as np
import pytest

from melt.accuracy.scorer import Scorer, log_softmax

PERPLEXITY_ENV = "MELT_LLAMA_PERPLEXITY"


def _token_by_token(scorer: Scorer, tokens: list[int], start: int) -> float:
    """Sum of log P(tokens[j]) for j ≥ start, decoding one token per llama_decode call."""
    params = llama.llama_context_default_params()
    params.n_ctx = 256
    params.n_threads = params.n_threads_batch = 1
    ctx = llama.llama_init_from_model(scorer._model, params)
    try:
        total = 0.0
        buf = (llama.llama_token * 1)()
        for pos, token in enumerate(tokens[:-1]):
            buf[0] = token
            assert llama.llama_decode(ctx, llama.llama_batch_get_one(buf, 1)) == 0
            if pos + 1 >= start:
                logits = np.ctypeslib.as_array(
                    llama.llama_get_logits_ith(ctx, -1), shape=(scorer.n_vocab,)
                )
                total += float(log_softmax(logits[None, :])[0, tokens[pos + 1]])
        return total
    finally:
        llama.llama_free(ctx)


@pytest.fixture(scope="session")
def token_by_token() -> Callable[[Scorer, list[int], int], float]:
    return _token_by_token


@pytest.fixture(scope="session")
def llama_perplexity_binary() -> Path:
    """llama.cpp's llama-perplexity for this machine: `$MELT_LLAMA_PERPLEXITY`, else the one
    `.ci/build-llama-cpp-tools` puts next to llama-server in the CI cache, built there (with
    llama-server and llama-bench, from the llama-cpp-python sdist's vendored llama.cpp) when
    missing. A binary still missing after that fails the test: CI must have it."""
    from melt.frameworks.llama_server.framework import cached_binary

    if os.environ.get(PERPLEXITY_ENV):
        return Path(os.environ[PERPLEXITY_ENV])
    script = Path(__file__).resolve().parents[2] / ".ci" / "build-llama-cpp-tools"
    if not cached_binary().with_name("llama-perplexity").is_file():
        subprocess.run([str(script)], check=True, stdout=subprocess.DEVNULL)
    binary = cached_binary().with_name("llama-perplexity")  # the runtime built just now
    assert binary.is_file(), f"{script} did not build {binary}"
    return binary
