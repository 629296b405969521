"""The reference every scorer test compares with: one token per llama_decode call."""

from collections.abc import Callable

import llama_cpp as llama
import numpy as np
import pytest

from melt.accuracy.scorer import Scorer, log_softmax


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
